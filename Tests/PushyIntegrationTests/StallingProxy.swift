import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A TCP relay on a free loopback port in front of the test server, which a test can make go
/// quiet: `freeze()` stops passing bytes on the connections open now — they stay open and
/// silent, like a peer behind a dead NAT, even after the server closes its end — and
/// `blackhole()` does the same to every later connection. TLS passes through untouched.
final class StallingProxy: Sendable {
    let port: Int
    private let target: UInt16
    private let listener: Int32

    private struct Connection {
        var client: Int32
        var upstream: Int32
        var pumps = 2
        var frozen = false
    }

    private struct State {
        var connections: [Int: Connection] = [:]
        var next = 0
        var blackhole = false
        var stopped = false
    }

    private let state = Mutex(State())

    init(to targetPort: Int) throws {
        target = UInt16(targetPort)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError.socket(errno) }
        var addr = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ProxyError.socket(errno)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    enum ProxyError: Error { case socket(Int32) }

    /// The org URL through this proxy.
    var orgURL: String { "https://127.0.0.1:\(port)/organizations/pushy" }

    /// Stops passing bytes on every connection open now.
    func freeze() {
        state.withLock { s in for id in s.connections.keys { s.connections[id]?.frozen = true } }
    }

    /// Freezes the open connections and every later one.
    func blackhole() {
        state.withLock { s in
            s.blackhole = true
            for id in s.connections.keys { s.connections[id]?.frozen = true }
        }
    }

    /// Closes the listener and every connection.
    func stop() {
        let fds = state.withLock { s -> [Int32] in
            s.stopped = true
            return s.connections.values.flatMap { [$0.client, $0.upstream] }
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR, !state.withLock({ $0.stopped }) { continue }
                return
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(port: target)
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard upstream >= 0, connected == 0 else {
                close(client)
                if upstream >= 0 { close(upstream) }
                continue
            }
            let id: Int? = state.withLock { s in
                guard !s.stopped else { return nil }
                s.next += 1
                s.connections[s.next] = Connection(client: client, upstream: upstream, frozen: s.blackhole)
                return s.next
            }
            guard let id else {
                close(client)
                close(upstream)
                return
            }
            Thread.detachNewThread { [self] in pump(id, from: client, to: upstream) }
            Thread.detachNewThread { [self] in pump(id, from: upstream, to: client) }
        }
    }

    /// Copies bytes until either side ends; a frozen connection reads and drops them.
    private func pump(_ id: Int, from source: Int32, to sink: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        reading: while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            if state.withLock({ $0.connections[id]?.frozen ?? true }) { continue }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { send(sink, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if w < 0, errno == EINTR { continue }
                if w <= 0 { break reading }
                sent += w
            }
        }
        // A live connection ends both ways at once; a frozen one stays open and silent towards
        // the client until the client gives up on it (or the proxy stops).
        let (wake, last) = state.withLock { s -> ([Int32], Connection?) in
            guard var c = s.connections[id] else { return ([], nil) }
            c.pumps -= 1
            if c.pumps == 0 {
                s.connections[id] = nil
                return ([], c)
            }
            s.connections[id] = c
            let keepOpen = c.frozen && source == c.upstream && !s.stopped
            return (keepOpen ? [] : [c.client, c.upstream], nil)
        }
        for fd in wake { shutdown(fd, Int32(SHUT_RDWR)) }
        if let last {
            close(last.client)
            close(last.upstream)
        }
    }
}
