import CZMQ
import Synchronization

/// A libzmq socket monitor (`zmq_socket_monitor`) on one listening socket, reporting accepted,
/// closed and failed connections to a `ConnectionBudget`. The PAIR end is polled by the
/// transport's I/O thread.
///
/// Measured with libzmq 4.3.4: `DISCONNECTED` follows every `ACCEPTED` — peer closed or killed,
/// CURVE handshake failed, ZAP refused (400), plaintext client on a CURVE socket, bare TCP
/// connect without a greeting — so accepted minus disconnected is the number of open connections.
final class ConnectionMonitor {
    static let events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_ACCEPT_FAILED
    private static let sequence = Atomic(0)

    let socket: ZMQSocket
    private let monitored: ZMQSocket
    private let budget: ConnectionBudget

    init(context: ZMQContext, watching monitored: ZMQSocket, budget: ConnectionBudget) throws(ZMQError) {
        let endpoint = "inproc://pushy.monitor.\(Self.sequence.wrappingAdd(1, ordering: .relaxed).newValue)"
        guard zmq_socket_monitor(monitored.handle, endpoint, Self.events) == 0 else {
            throw .last("zmq_socket_monitor")
        }
        socket = try ZMQSocket(context: context, type: ZMQ_PAIR)
        // Unbounded on our side: a dropped DISCONNECTED event would leak budget for good.
        try socket.set(ZMQ_RCVHWM, 0, "ZMQ_RCVHWM")
        try socket.set(ZMQ_LINGER, 0, "ZMQ_LINGER")
        try socket.connect(endpoint, role: "connection monitor")
        self.monitored = monitored
        self.budget = budget
    }

    /// Reads every waiting event. Frame 1 is 6 bytes: event id (UInt16) and value (UInt32, the
    /// errno for failures), native byte order; frame 2 is the endpoint.
    func handlePending() {
        while let frames = try? socket.receive() {
            guard let head = frames.first, head.count >= 6 else { continue }
            let (event, value) = head.withUnsafeBytes {
                (Int32($0.loadUnaligned(fromByteOffset: 0, as: UInt16.self)),
                 $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            }
            switch event {
            case ZMQ_EVENT_ACCEPTED: budget.record(.accepted)
            case ZMQ_EVENT_DISCONNECTED: budget.record(.disconnected)
            case ZMQ_EVENT_ACCEPT_FAILED: budget.record(.acceptFailed(errno: Int32(bitPattern: value)))
            default: break
            }
        }
    }

    /// Stops the monitor and closes the PAIR; call before closing the monitored socket.
    func close() {
        zmq_socket_monitor(monitored.handle, nil, 0)
        socket.close()
    }
}
