#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZMQ

/// The server I/O thread's wait: its wake signal, the ROUTER, and the notification fds of the
/// ZAP handler and the connection monitors. On Linux one epoll set made once, so a wake-up
/// costs an `epoll_wait` and a `ZMQ_EVENTS` question or two to the ROUTER; `zmq_poll`, used
/// elsewhere, sets up and tears down a wait on every descriptor twice per call (issue 16: a
/// third of the thread's idle time went there).
final class ServerPoller {
    /// What a wait found, by bit.
    struct Fired: OptionSet {
        let rawValue: UInt64
        static let wake = Fired(rawValue: 1)
        /// The ROUTER has a message to read (only when asked for).
        static let router = Fired(rawValue: 2)
        static let zap = Fired(rawValue: 4)
        /// Connection monitor `i`'s fd fired.
        static func monitor(_ i: Int) -> Fired { Fired(rawValue: 8 << UInt64(i)) }
    }

    private let router: ZMQSocket
    #if os(Linux)
    private let poller: EdgePoller?
    #endif
    private var items: [zmq_pollitem_t]
    private let hasZAP: Bool
    private let monitors: Int

    /// `zap` and `monitors` are notification fds (`ZMQSocket.notificationFD`); their owners
    /// drain their sockets whenever they fire. At most 60 monitors.
    init(wake: WakeSignal, router: ZMQSocket, zap: Int32?, monitors: [Int32]) {
        precondition(monitors.count <= 60, "ServerPoller: too many monitors")
        self.router = router
        hasZAP = zap != nil
        self.monitors = monitors.count
        items = [wake.pollItem, router.pollItem]
        if let zap { items.append(zmq_pollitem_t(socket: nil, fd: zap, events: pollIn, revents: 0)) }
        items += monitors.map { zmq_pollitem_t(socket: nil, fd: $0, events: pollIn, revents: 0) }
        #if os(Linux)
        // zmq_poll instead should the kernel refuse any of them (a wait that missed the ZAP
        // handler would leave every handshake unanswered).
        poller = (try? EdgePoller(capacity: 8)).flatMap { poller in
            var added = poller.add(fd: wake.readFD, token: Fired.wake.rawValue, edge: false)
                && poller.add(fd: router.notificationFD, token: Fired.router.rawValue, edge: true)
            if let zap { added = added && poller.add(fd: zap, token: Fired.zap.rawValue, edge: true) }
            for (i, fd) in monitors.enumerated() { added = added && poller.add(fd: fd, token: Fired.monitor(i).rawValue, edge: true) }
            return added ? poller : nil
        }
        #endif
    }

    /// Waits up to `timeout` ms for any of them; `router` says whether the ROUTER's messages
    /// are wanted now (not while the consumer is behind). nil when waiting failed for good.
    func wait(router wanted: Bool, timeout: Int) -> Fired? {
        #if os(Linux)
        if let poller {
            var fired: Fired = []
            // The ROUTER's fd is edge-triggered and only says "look again". Whether a message
            // waits is asked before waiting (a send or a read that stopped at its batch limit may
            // have taken the signal of one that is there), and after, when the fd fired.
            let pending = wanted && router.hasInput
            poller.wait(timeout: pending ? 0 : Int32(clamping: timeout)) { token in
                fired.insert(Fired(rawValue: token))
            }
            let looked = fired.contains(.router)
            fired.remove(.router)
            if wanted && (pending || (looked && router.hasInput)) { fired.insert(.router) }
            return fired
        }
        #endif
        items[1].events = wanted ? pollIn : 0
        let ready = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeout) }
        if ready < 0 { return zmq_errno() == EINTR ? [] : nil }
        var fired: Fired = []
        if items[0].revents & pollIn != 0 { fired.insert(.wake) }
        if items[1].revents & pollIn != 0 { fired.insert(.router) }
        if hasZAP && items[2].revents & pollIn != 0 { fired.insert(.zap) }
        let first = hasZAP ? 3 : 2
        for i in 0..<monitors where items[first + i].revents & pollIn != 0 { fired.insert(.monitor(i)) }
        return fired
    }
}
