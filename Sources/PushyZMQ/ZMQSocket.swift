import CZMQ

/// One libzmq socket. Not Sendable: a socket is created on the caller's thread, handed once
/// to its I/O thread (thread creation is a full memory barrier, which zmq requires for a
/// migration) and used only there afterwards.
///
/// All sends and receives are non-blocking (`ZMQ_DONTWAIT`); the owning loop waits in
/// `zmq_poll` instead. Calls interrupted by a signal (`EINTR`) are retried.
final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    /// Keeps the context alive (and `zmq_ctx_term` waiting) until this socket is closed.
    private let context: ZMQContext
    /// Reused receive buffer. Heap-allocated because a small `zmq_msg_t` stores its bytes
    /// inline, and `zmq_msg_data` must keep pointing at a stable address.
    private let message: UnsafeMutablePointer<zmq_msg_t>
    private var isClosed = false

    init(context: ZMQContext, type: Int32) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type) else { throw .last("zmq_socket") }
        self.handle = handle
        self.context = context
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        close()
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Closes the socket now (linger is set to 0 first so nothing is kept). Idempotent.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        var linger: Int32 = 0
        zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_close(handle)
    }

    // MARK: Options

    func set(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw .last("zmq_setsockopt(\(name))")
        }
    }

    func set(_ option: Int32, int64 value: Int64, _ name: String) throws(ZMQError) {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size) == 0 else {
            throw .last("zmq_setsockopt(\(name))")
        }
    }

    func set(_ option: Int32, bytes: [UInt8], _ name: String) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw .last("zmq_setsockopt(\(name))") }
    }

    func set(_ option: Int32, string: String, _ name: String) throws(ZMQError) {
        try set(option, bytes: Array(string.utf8), name)
    }

    /// The endpoint actually bound, with any `*` port resolved (`ZMQ_LAST_ENDPOINT`).
    func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw .last("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func bind(_ endpoint: String, role: String) throws(ZMQError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw .last("cannot bind \(role) to \(endpoint)") }
    }

    func connect(_ endpoint: String, role: String) throws(ZMQError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw .last("cannot connect \(role) to \(endpoint)") }
    }

    // MARK: Messages

    /// Sends `head` (if any) followed by `frames` as one multipart message without blocking.
    /// Throws `EAGAIN` when the first part cannot be queued (high-water mark, no peer) and
    /// `EHOSTUNREACH` for an unknown ROUTER peer; once the first part is accepted, the rest is too.
    func send(_ frames: [[UInt8]], head: [UInt8]? = nil) throws(ZMQError) {
        let total = frames.count + (head == nil ? 0 : 1)
        guard total > 0 else { return }
        var index = 0
        if let head {
            try sendFrame(head, more: total > 1)
            index = 1
        }
        for frame in frames {
            index += 1
            try sendFrame(frame, more: index < total)
        }
    }

    private func sendFrame(_ frame: [UInt8], more: Bool) throws(ZMQError) {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        var byte: UInt8 = 0  // a valid address for empty frames
        while true {
            let rc = frame.isEmpty
                ? zmq_send(handle, &byte, 0, flags)
                : frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            if rc >= 0 { return }
            if zmq_errno() != EINTR { throw .last("zmq_send") }
        }
    }

    /// Receives one whole multipart message, or nil when none is waiting.
    func receive() throws(ZMQError) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        // Identity, header and body on a ROUTER: one allocation, not three growths.
        frames.reserveCapacity(3)
        repeat {
            while zmq_msg_recv(message, handle, ZMQ_DONTWAIT) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                if code == EAGAIN && frames.isEmpty { return nil }
                throw .last("zmq_msg_recv")
            }
            let size = zmq_msg_size(message)
            frames.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: size)))
        } while zmq_msg_more(message) != 0
        return frames
    }
}

/// libzmq poll-item flags are `Int16`; the imported macros are `Int32`.
let pollIn = Int16(ZMQ_POLLIN)
let pollOut = Int16(ZMQ_POLLOUT)

extension ZMQSocket {
    var pollItem: zmq_pollitem_t { zmq_pollitem_t(socket: handle, fd: 0, events: pollIn, revents: 0) }

    /// The socket's notification fd (`ZMQ_FD`), for an `EdgePoller` or a `ServerPoller`. It is
    /// edge-triggered — it only says "look again" — so it suits a socket that is drained
    /// (received from until it has nothing) whenever it fires and after every send on it.
    var notificationFD: Int32 {
        var fd: Int32 = -1
        var size = MemoryLayout<Int32>.size
        zmq_getsockopt(handle, ZMQ_FD, &fd, &size)
        return fd
    }
}
