#if os(Linux)
import Glibc
import CZMQ

/// An epoll set for many ZeroMQ sockets: readiness costs O(ready), not O(sockets) as
/// `zmq_poll` does (which also asks every socket for `ZMQ_EVENTS` on every call). A socket's
/// `ZMQ_FD` is edge-triggered and only says "look again", so a user must drain a socket that
/// fired until `ZMQ_EVENTS` says it is empty, and look again after every send on it.
final class EdgePoller {
    private let epfd: Int32
    private var events: [epoll_event]

    init(capacity: Int = 1024) throws(ZMQError) {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw ZMQError(code: errno, message: "epoll_create1 failed") }
        events = Array(repeating: epoll_event(), count: capacity)
    }

    deinit { Glibc.close(epfd) }

    /// Watches `fd` for input; `edge` for a `ZMQ_FD`, level for an ordinary fd such as a wake
    /// signal. False when the kernel refused.
    @discardableResult
    func add(fd: Int32, token: UInt64, edge: Bool) -> Bool {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (edge ? EPOLLET.rawValue : 0)
        event.data.u64 = token
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0
    }

    func remove(fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event)
    }

    /// Tokens of the fds that fired within `timeout` ms (-1 = wait forever); empty on timeout or EINTR.
    func wait(timeout: Int32) -> [UInt64] {
        var tokens: [UInt64] = []
        wait(timeout: timeout) { tokens.append($0) }
        return tokens
    }

    /// As `wait(timeout:)`, handing each token to `body` (no array).
    func wait(timeout: Int32, _ body: (UInt64) -> Void) {
        let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeout) }
        for i in 0..<max(0, Int(n)) { body(events[i].data.u64) }
    }
}

extension ZMQSocket {
    /// Whether a message is waiting (`ZMQ_EVENTS` & `ZMQ_POLLIN`); also re-arms `ZMQ_FD`.
    var hasInput: Bool {
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) == 0 else { return false }
        return events & ZMQ_POLLIN != 0
    }
}
#endif
