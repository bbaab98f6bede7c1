import CZMQ

/// A libzmq context: the I/O threads and socket table shared by every socket made from it.
///
/// zmq contexts are thread-safe, hence `@unchecked Sendable`. Every socket keeps a strong
/// reference to its context, so `zmq_ctx_term` in `deinit` runs only after the last
/// `zmq_close` and cannot block on a live socket. `ZMQ_BLOCKY` is off, so lingering
/// messages never hold up termination.
///
/// A context can host at most one ZAP handler (`inproc://zeromq.zap.01`), so give each
/// `ZMQServerTransport` that uses a `zapAuthorizer` its own context.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// - Parameters:
    ///   - ioThreads: libzmq background I/O threads (`ZMQ_IO_THREADS`).
    ///   - maxSockets: socket budget (`ZMQ_MAX_SOCKETS`); libzmq's default of 1023 is far too
    ///     small for a server with thousands of peers or a swarm of in-process agents.
    public init(ioThreads: Int = 1, maxSockets: Int = 4096) throws(ZMQError) {
        guard ioThreads >= 1, maxSockets >= 1 else {
            throw .invalid("ZMQContext: ioThreads and maxSockets must be positive")
        }
        guard let handle = zmq_ctx_new() else { throw .last("zmq_ctx_new") }
        self.handle = handle
        for (option, value, name) in [
            (ZMQ_IO_THREADS, Int32(clamping: ioThreads), "ZMQ_IO_THREADS"),
            (ZMQ_MAX_SOCKETS, Int32(clamping: maxSockets), "ZMQ_MAX_SOCKETS"),
            (ZMQ_BLOCKY, 0, "ZMQ_BLOCKY"),
        ] where zmq_ctx_set(handle, option, value) != 0 {
            let error = ZMQError.last("zmq_ctx_set(\(name), \(value))")
            zmq_ctx_term(handle)
            throw error
        }
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
