import CZMQ

/// A ZAP 1.0 (ZeroMQ RFC 27) authentication handler: a REP socket on the context's
/// well-known endpoint `inproc://zeromq.zap.01`. libzmq asks it about every CURVE handshake,
/// and about NULL (plaintext) handshakes on sockets whose `ZMQ_ZAP_DOMAIN` is `domain`.
///
/// A CURVE client is admitted (200) when `authorize(clientPublicKey)` is true (or there is no
/// `authorize`), else refused with 400 "No such client". Then, for CURVE and NULL alike, a
/// `budget` that is full refuses with 400 "Connection budget reached". 400, not 300: libzmq
/// keeps a 300-refused connection open (measured, 4.3.4), while after 400 it closes it and the
/// client does not reconnect. Address is ignored, as in Push Jobs.
///
/// Runs on the server's I/O thread, so `authorize` must be quick and non-blocking.
final class ZAPHandler {
    static let endpoint = "inproc://zeromq.zap.01"
    /// The ZAP domain set on the server's sockets so libzmq consults ZAP for NULL handshakes too.
    static let domain = "pushy"

    let socket: ZMQSocket
    private let authorize: (@Sendable ([UInt8]) -> Bool)?
    private let budget: ConnectionBudget?

    init(context: ZMQContext, authorize: (@Sendable ([UInt8]) -> Bool)?, budget: ConnectionBudget?) throws(ZMQError) {
        socket = try ZMQSocket(context: context, type: ZMQ_REP)
        self.authorize = authorize
        self.budget = budget
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
        var userID = ""
        switch request[5] {
        case Array("CURVE".utf8) where request.count >= 7 && request[6].count == 32:
            let key = request[6]
            if let authorize, !authorize(key) { return answer("400", "No such client") }
            // The user id becomes the "User-Id" property of the client's messages.
            userID = Z85.encode(key) ?? ""
        case Array("NULL".utf8) where budget != nil && request[2] == Array(Self.domain.utf8):
            break
        default:
            return answer("400", "Unsupported mechanism")
        }
        if let budget, !budget.admitConnection() { return answer("400", "Connection budget reached") }
        return answer("200", "OK", userID: userID)
    }
}
