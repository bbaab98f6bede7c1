#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZMQ

/// A file descriptor an I/O thread polls next to its zmq sockets so that other threads can
/// wake it when they queue outbound work. An eventfd on Linux, a pipe elsewhere.
final class WakeSignal: Sendable {
    /// The descriptor to poll for readability.
    let readFD: Int32
    private let writeFD: Int32

    init() throws(ZMQError) {
        #if os(Linux)
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw ZMQError(code: errno, message: "eventfd failed") }
        readFD = fd
        writeFD = fd
        #else
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ZMQError(code: errno, message: "pipe failed") }
        for fd in fds { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        readFD = fds[0]
        writeFD = fds[1]
        #endif
    }

    deinit {
        close(readFD)
        if writeFD != readFD { close(writeFD) }
    }

    /// Wakes the poller. Never blocks: a full counter/pipe already means "wake pending".
    func signal() {
        var one: UInt64 = 1
        while write(writeFD, &one, MemoryLayout<UInt64>.size) < 0 && errno == EINTR {}
    }

    /// Clears pending wake-ups (called by the poller after it woke).
    func drain() {
        var buffer: (UInt64, UInt64) = (0, 0)
        while read(readFD, &buffer, MemoryLayout.size(ofValue: buffer)) > 0 || errno == EINTR {
            #if os(Linux)
            break  // one read resets an eventfd counter
            #endif
        }
    }

    var pollItem: zmq_pollitem_t { zmq_pollitem_t(socket: nil, fd: readFD, events: pollIn, revents: 0) }
}
