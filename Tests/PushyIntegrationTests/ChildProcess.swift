import Synchronization
import Foundation
import PushyTestSupport
import Testing

/// A child process (a real `pushy-server` or `pushy-client`) with stdout and stderr in a log
/// file. Every wait has a deadline; `stop` ends it on every path (also when it is stopped).
final class ChildProcess: @unchecked Sendable {
    typealias Exit = Spawned.Exit

    let name: String
    let logPath: String
    private let process: Spawned

    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        let log = try openForChild(logPath, writing: true)
        defer { close(log) }
        let null = try openForChild("/dev/null", writing: false)
        defer { close(null) }
        process = try Spawned(Command(executable, arguments), stdin: null, stdout: log, stderr: log)
    }

    var pid: Int32 { process.pid }
    var isRunning: Bool { process.isRunning }

    func signal(_ sig: Int32) { process.signal(sig) }

    /// The exit, or nil if it is still running at the deadline.
    func waitExit(timeout: Double) async -> Exit? {
        guard await process.exited.waitIgnoringCancellation(timeout: .milliseconds(Int(timeout * 1000))) else { return nil }
        return process.exit
    }

    /// SIGKILL, and waits (≤ 10 s) until it is gone.
    func kill9() async throws {
        signal(SIGKILL)
        guard await waitExit(timeout: 10) != nil else {
            Issue.record("\(name) (pid \(pid)) still running 10 s after SIGKILL")
            throw FaultError.timeout("\(name) to die")
        }
    }

    /// Ends the process on any path: SIGCONT (in case it is stopped), SIGTERM, then SIGKILL
    /// after `grace` seconds. Returns how it ended (nil only if even SIGKILL did not end it).
    @discardableResult
    func stop(grace: Double = 10) async -> Exit? {
        guard process.isRunning else { return process.exit }
        signal(SIGCONT)
        signal(SIGTERM)
        if let e = await waitExit(timeout: grace) { return e }
        signal(SIGKILL)
        return await waitExit(timeout: 5)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func logTail(_ lines: Int = 15) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Lines logged at error or critical level (swift-log's stream format: `TIME LEVEL LABEL: ...`).
    var errorLines: [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            let words = line.split(separator: " ", maxSplits: 2)
            return words.count >= 2 && (words[1] == "error" || words[1] == "critical")
        }
    }

    /// Pids of every process below this one (read from /proc), e.g. a job's command.
    var descendants: [Int32] { Self.descendants(of: pid) }

    static func descendants(of root: Int32) -> [Int32] {
        var parent: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name: state, ppid, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parent[pid] = ppid }
        }
        var found: [Int32] = []
        var frontier = [root]
        while let p = frontier.popLast() {
            let children = parent.filter { $0.value == p }.map(\.key)
            found += children
            frontier += children
        }
        return found
    }
}

enum FaultError: Error, CustomStringConvertible {
    case timeout(String)
    case setup(String)
    var description: String {
        switch self {
        case .timeout(let w): "timed out waiting for \(w)"
        case .setup(let w): "setup failed: \(w)"
        }
    }
}

/// What one look at the system found: done (with a value) or not yet (with what was seen).
enum Probe<T> {
    case done(T)
    case notYet(String)
}

/// Polls `probe` every 100 ms until it is done or `timeout` seconds pass; at the deadline the
/// test fails with what it last saw and the tails of `logs`. Errors thrown by the probe (a
/// server that is down) count as "not yet". Returns the value and the seconds it took.
func waitFor<T>(_ what: String, timeout: Double, logs: [ChildProcess] = [],
                _ probe: () async throws -> Probe<T>) async throws -> (value: T, seconds: Double) {
    let start = Date()
    let deadline = start.addingTimeInterval(timeout)
    var lastSeen = "nothing yet"
    while true {
        do {
            switch try await probe() {
            case .done(let v): return (v, Date().timeIntervalSince(start))
            case .notYet(let seen): lastSeen = seen
            }
        } catch {
            lastSeen = "error: \(error)"
        }
        if Date() >= deadline { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    let tails = logs.map { "--- \($0.name) (\($0.logPath)):\n\($0.logTail())" }.joined(separator: "\n")
    Issue.record("timed out after \(Int(timeout)) s waiting for \(what); last saw: \(lastSeen)\n\(tails)")
    throw FaultError.timeout(what)
}

/// A free TCP port on `host` that the kernel will not hand to anyone else: taken at random below
/// the ephemeral range (`ip_local_port_range`), where `bind(…:0)` and outgoing connections never
/// land. A port the kernel picked (port 0, then released) went back to the ephemeral pool and was
/// seen taken by another test's port-0 listener before the server bound it ("Address already in use").
/// Checked free by binding it; only other explicit picks (random over ≈ 12,000 ports) can collide.
func freePort(host: String = "127.0.0.1") throws -> Int {
    let low = ephemeralLow()
    guard low > 20_100 else { return try kernelPickedPort(host: host) }
    for _ in 0..<200 {
        let port = Int.random(in: 20_000..<low)
        // Never the same port twice in this test process: clusters running side by side pick
        // their ports before their servers bind them (a port two of them picked was seen taken).
        guard pickedPorts.withLock({ $0.insert(port).inserted }) else { continue }
        if try canBind(host: host, port: port) { return port }
    }
    throw FaultError.setup("no free port on \(host) in 20000..<\(low) after 200 tries")
}

/// Every port `freePort` has handed out in this process.
private let pickedPorts = Mutex<Set<Int>>([])

/// The first port of the kernel's ephemeral range (32768 by default).
private func ephemeralLow() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
          let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first,
          let low = Int(first) else { return 32_768 }
    return low
}

private func canBind(host: String, port: Int) throws -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FaultError.setup("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, host, &addr.sin_addr)
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

private func kernelPickedPort(host: String) throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FaultError.setup("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    inet_pton(AF_INET, host, &addr.sin_addr)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw FaultError.setup("bind to \(host):0 failed (errno \(errno))") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Runs a short command (ip, mount) with a deadline; returns its exit code and output.
@discardableResult
func runTool(_ path: String, _ args: [String], timeout: Double = 20) async throws -> (code: Int32, output: String) {
    let log = NSTemporaryDirectory() + "pushy-tool-" + UUID().uuidString + ".log"
    defer { try? FileManager.default.removeItem(atPath: log) }
    let p = try ChildProcess(name: ([path] + args).joined(separator: " "), executable: path, arguments: args, logPath: log)
    guard let exit = await p.waitExit(timeout: timeout) else {
        await p.stop(grace: 2)
        throw FaultError.timeout("'\(p.name)' to finish")
    }
    let code: Int32 = if case .exited(let c) = exit { c } else { -1 }
    return (code, p.log)
}
