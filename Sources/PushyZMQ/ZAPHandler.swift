import CZMQ

/// A ZAP 1.0 (ZeroMQ RFC 27) authentication handler: a REP socket on the context's
/// well-known endpoint `inproc://zeromq.zap.01`. libzmq asks it about every CURVE handshake;
/// it admits a client when `authorize(clientPublicKey)` is true (status 200) and refuses
/// with 400 "No such client" otherwise. Domain and address are ignored, as in Push Jobs.
///
/// Runs on the server's I/O thread, so `authorize` must be quick and non-blocking.
final class ZAPHandler {
    static let endpoint = "inproc://zeromq.zap.01"

    let socket: ZMQSocket
    private let authorize: @Sendable ([UInt8]) -> Bool

    init(context: ZMQContext, authorize: @escaping @Sendable ([UInt8]) -> Bool) throws(ZMQError) {
        socket = try ZMQSocket(context: context, type: ZMQ_REP)
        self.authorize = authorize
        try socket.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        do {
            try socket.bind(Self.endpoint, role: "ZAP handler")
        } catch where error.code == EADDRINUSE {
            throw ZMQError(code: EADDRINUSE, message:
                "a ZAP handler is already bound in this ZMQContext; use one context per server transport")
        }
    }

    /// Answers every pending request. A REP socket must reply to each request it reads.
    func handlePending() {
        while let request = try? socket.receive() {
            try? socket.send(reply(to: request))
        }
    }

    /// Request frames: version, request id, domain, address, identity, mechanism, credentials...
    /// Reply frames: version, request id, status code, status text, user id, metadata.
    private func reply(to request: [[UInt8]]) -> [[UInt8]] {
        let requestID = request.count > 1 ? request[1] : []
        func answer(_ status: String, _ text: String, userID: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
        }
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            return answer("500", "Bad ZAP request")
        }
        guard request[5] == Array("CURVE".utf8), request.count >= 7, request[6].count == 32 else {
            return answer("400", "Unsupported mechanism")
        }
        let key = request[6]
        guard authorize(key) else { return answer("400", "No such client") }
        // The user id becomes the "User-Id" property of the client's messages.
        return answer("200", "OK", userID: Z85.encode(key) ?? "")
    }
}
