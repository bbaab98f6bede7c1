import Foundation
import PushyAPIClient
import PushyProtocol
import PushyServer
import Testing

/// A child process (a real `pushy-server` or `pushy-client`) with stdout and stderr in a log
/// file. Every wait has a deadline; `stop` ends it on every path (also when it is stopped).
final class ChildProcess: @unchecked Sendable {
    enum Exit: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        var description: String {
            switch self {
            case .exited(let c): "exit code \(c)"
            case .signaled(let s): "killed by signal \(s)"
            }
        }
    }

    let name: String
    let logPath: String
    private let process: Process

    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        try? handle.close()
        process = p
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ sig: Int32) {
        if process.isRunning { kill(process.processIdentifier, sig) }
    }

    /// The exit, or nil if it is still running at the deadline.
    func waitExit(timeout: Double) async -> Exit? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationReason == .uncaughtSignal ? .signaled(process.terminationStatus) : .exited(process.terminationStatus)
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
        guard process.isRunning else { return await waitExit(timeout: 1) }
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

/// A free TCP port on `host` (bound, read, released; the kernel does not hand it out again at once).
func freePort(host: String = "127.0.0.1") throws -> Int {
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

/// A real `pushy-server` process on its own data directory and fixed free ports (so a restart
/// finds the same ports), and real `pushy-client` processes, each logging to a file.
final class FaultCluster: @unchecked Sendable {
    /// Logs, node keys and agents' file directories (never on a filesystem a test fills up).
    let workDir: String
    /// The server's data directory: `WORKDIR/data` unless given.
    let dataDir: String
    let host: String
    let config: ServerConfiguration
    let admin: PushyRESTClient
    private(set) var server: ChildProcess?
    private(set) var serverRuns: [ChildProcess] = []
    var agents: [String: ChildProcess] = [:]
    var agentRuns: [ChildProcess] = []
    var keyPaths: [String: String] = [:]
    /// Job processes left behind by agents that were killed; killed at shutdown.
    var orphans: [Int32] = []
    /// Job commands the agents accept.
    static let whitelist = ["ok=/bin/true", "sleep=/bin/sleep 20", "short=/bin/sleep 3", "long=/bin/sleep 120"]

    /// `dataDir`: the server's data directory (default: `data` in a new temporary directory).
    init(dataDir: String? = nil, host: String = "127.0.0.1", heartbeat: Double = 0.5,
         configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        workDir = NSTemporaryDirectory() + "pushy-fault-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let dir = dataDir ?? workDir + "/data"
        self.dataDir = dir
        self.host = host
        var c = ServerConfiguration(dataDir: dir)
        c.listenAddress = host
        c.advertisedHost = host
        c.apiPort = try freePort(host: host)
        c.heartbeatPort = try freePort(host: host)
        c.commandPort = try freePort(host: host)
        c.heartbeatInterval = heartbeat
        c.rehabInterval = 0.25
        c.votingTimeout = 10
        c.waitCompleteTime = 1
        configure(&c)
        config = c
        _ = try await DataDirectory.initialize(config: c)
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: dir + "/admin.pem", encoding: .utf8))
        admin = try PushyRESTClient(orgURL: "https://\(host):\(c.apiPort)/organizations/pushy", userId: "admin", key: key,
                                    tls: ClientTLS(trustedCertificatePath: dir + "/tls.crt"), timeout: .seconds(15))
    }

    var orgURL: String { admin.orgURL }
    var certificatePath: String { dataDir + "/tls.crt" }
    var processes: [ChildProcess] { (server.map { [$0] } ?? []) + Array(agents.values) }

    /// Starts `pushy-server run` and waits (≤ 30 s) until its REST API answers; returns the seconds it took.
    @discardableResult
    func startServer() async throws -> Double {
        let run = serverRuns.count + 1
        let p = try ChildProcess(
            name: "server run \(run)", executable: TestCluster.binary("pushy-server"),
            arguments: ["run", "--data-dir", dataDir, "--log-level", ProcessInfo.processInfo.environment["PUSHY_FAULT_LOG_LEVEL"] ?? "info"], logPath: workDir + "/server-\(run).log")
        server = p
        serverRuns.append(p)
        return try await waitFor("the server's REST API (run \(run))", timeout: 30, logs: [p]) { () -> Probe<Void> in
            guard p.isRunning else { throw FaultError.setup("the server exited: \(p.logTail())") }
            _ = try await admin.status()
            return .done(())
        }.seconds
    }

    func killServer() async throws {
        try await server?.kill9()
        server = nil
    }

    /// SIGTERM; how the server ended and the seconds it took (nil exit: still running at `timeout`).
    func terminateServer(timeout: Double) async -> (exit: ChildProcess.Exit?, seconds: Double) {
        guard let s = server else { return (nil, 0) }
        let start = Date()
        s.signal(SIGTERM)
        let exit = await s.waitExit(timeout: timeout)
        let seconds = Date().timeIntervalSince(start)
        if exit == nil { await s.stop(grace: 1) }
        server = nil
        return (exit, seconds)
    }

    /// Registers a client (node identity) with a fresh key; returns the key path.
    @discardableResult
    func createNode(_ name: String) async throws -> String {
        let key = try RSAPrivateKey.generate()
        let path = workDir + "/\(name).pem"
        FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8),
                                       attributes: [.posixPermissions: 0o600])
        try await admin.createClient(name: name, publicKeyPEM: key.publicKey.pemRepresentation)
        keyPaths[name] = path
        return path
    }

    /// Starts a real `pushy-client`; inside network namespace `netns` when given (`ip netns exec`).
    @discardableResult
    func startAgent(_ name: String, netns: String? = nil) async throws -> ChildProcess {
        var keyPath = keyPaths[name] ?? ""
        if keyPath.isEmpty { keyPath = try await createNode(name) }
        var args = ["--server-url", orgURL, "--node", name, "--key", keyPath, "--log-level", "info",
                    "--trusted-cert", certificatePath, "--file-dir", workDir + "/agent-\(name)"]
        for w in Self.whitelist { args += ["--whitelist", w] }
        var executable = TestCluster.binary("pushy-client")
        if let netns {
            args = ["netns", "exec", netns, executable] + args
            executable = "/usr/sbin/ip"
        }
        let run = agentRuns.filter { $0.name.hasPrefix("agent \(name) ") }.count + 1
        let p = try ChildProcess(name: "agent \(name) run \(run)", executable: executable, arguments: args,
                                 logPath: workDir + "/agent-\(name)-\(run).log")
        agents[name] = p
        agentRuns.append(p)
        return p
    }

    /// SIGKILL of an agent; its job's processes are killed at shutdown.
    func killAgent(_ name: String) async throws {
        guard let p = agents[name] else { return }
        orphans += p.descendants
        try await p.kill9()
    }

    /// Waits until every node in `names` is online and available; returns the seconds it took.
    @discardableResult
    func waitAvailable(_ names: [String], timeout: Double = 30) async throws -> Double {
        try await waitFor("nodes \(names) available", timeout: timeout, logs: processes) { () -> Probe<Void> in
            let states = try await admin.nodeStates()
            let seen = states.filter { names.contains($0.nodeName) }
                .map { "\($0.nodeName): \($0.status.rawValue)/\($0.availability.rawValue)" }
            let ready = names.allSatisfy { n in states.contains { $0.nodeName == n && $0.availability == .available && $0.status == .online } }
            return ready ? .done(()) : .notYet(seen.joined(separator: ", "))
        }.seconds
    }

    /// Waits until the job has ended; returns its view and the seconds it took.
    func waitEnded(_ id: String, timeout: Double = 30) async throws -> (view: JobView, seconds: Double) {
        let r = try await waitFor("job \(id) to end", timeout: timeout, logs: processes) { () -> Probe<JobView> in
            let v = try await admin.job(id)
            return v.status.isTerminal ? .done(v) : .notYet(Self.describe(v))
        }
        return (r.value, r.seconds)
    }

    /// Waits until every node of the job is running.
    func waitRunning(_ id: String, nodes: Int, timeout: Double = 20) async throws {
        _ = try await waitFor("job \(id) running on \(nodes) node(s)", timeout: timeout, logs: processes) { () -> Probe<Void> in
            let v = try await admin.job(id)
            return v.count(.running) == nodes ? .done(()) : .notYet(Self.describe(v))
        }
    }

    /// Runs a job to its end and returns it.
    func runJob(_ command: String, on nodes: [String], timeout: Double = 30) async throws -> JobView {
        let id = try await admin.startJob(JobRequest(command: command, nodes: nodes))
        return try await waitEnded(id, timeout: timeout).view
    }

    static func describe(_ v: JobView) -> String {
        let nodes = (v.nodes ?? []).map { "\($0.0.rawValue)=\($0.1.joined(separator: ","))" }.joined(separator: " ")
        let reasons = (v.nodeReasons ?? []).map { "\($0.0): \($0.1)" }.joined(separator: "; ")
        return "\(v.status.rawValue) [\(nodes)]" + (v.statusReason.map { " (\($0))" } ?? "") + (reasons.isEmpty ? "" : " reasons: \(reasons)")
    }

    /// The reason the job gives for `node`.
    static func reason(_ v: JobView, _ node: String) -> String? { v.nodeReasons?.first { $0.0 == node }?.1 }

    /// The nodes of `v` in `status`.
    static func nodes(_ v: JobView, _ status: NodeJobStatus) -> [String] { v.nodes?.first { $0.0 == status }?.1 ?? [] }

    /// Stops every agent and the server (each with a deadline), kills what their jobs left
    /// behind, and removes the work directory (and the data directory in it).
    func shutdown() async {
        var leftovers = orphans
        for p in agentRuns where p.isRunning { leftovers += p.descendants }
        for p in agentRuns { await p.stop(grace: 5) }
        for p in serverRuns { await p.stop(grace: 10) }
        for pid in leftovers { kill(pid, SIGKILL) }
        // PUSHY_FAULT_KEEP=1 keeps the logs for a look afterwards.
        if ProcessInfo.processInfo.environment["PUSHY_FAULT_KEEP"] != nil {
            print("fault logs kept in \(workDir)")
        } else {
            try? FileManager.default.removeItem(atPath: workDir)
        }
    }
}

/// Runs a tool synchronously at test-planning time (for `.enabled(if:)`), with a deadline.
func toolSucceeds(_ path: String, _ args: [String], timeout: Double = 10) -> Bool {
    guard FileManager.default.isExecutableFile(atPath: path) else { return false }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return false }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning, Date() < deadline { usleep(10_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        return false
    }
    return p.terminationReason == .exit && p.terminationStatus == 0
}

/// A network namespace joined to the host by a veth pair, both made by the test itself; the
/// agents run inside it, the server listens on the host end. Named after this process
/// (`pyflt-PID`), so a later run can remove what a crashed one left.
struct NetworkNamespace {
    static let prefix = "pyflt-"
    static let ip = "/usr/sbin/ip"
    let name: String
    let hostLink: String
    let innerLink: String
    let hostAddress: String
    let innerAddress: String

    /// Root, `ip` present, and a namespace can really be made (containers may forbid it).
    static let usable: Bool = {
        guard getuid() == 0 else { return false }
        let probe = prefix + "probe-\(getpid())"
        guard toolSucceeds(ip, ["netns", "add", probe]) else { return false }
        return toolSucceeds(ip, ["netns", "del", probe])
    }()

    /// Removes namespaces (and whatever still runs in them) left by runs whose process is gone.
    static func removeStale() async {
        guard let list = try? await runTool(ip, ["netns", "list"]) else { return }
        for line in list.output.split(separator: "\n") {
            guard let first = line.split(separator: " ").first, first.hasPrefix(prefix) else { continue }
            let name = String(first)
            let owner = Int32(name.dropFirst(prefix.count).split(separator: "-").last ?? "") ?? 0
            // A run still in progress (its process is alive) keeps its namespace.
            if owner > 0, kill(owner, 0) == 0 { continue }
            if let pids = try? await runTool(ip, ["netns", "pids", name]) {
                for p in pids.output.split(separator: "\n").compactMap({ Int32($0) }) { kill(p, SIGKILL) }
            }
            try? await runTool(ip, ["netns", "del", name])
        }
    }

    static func create() async throws -> NetworkNamespace {
        let pid = Int(getpid())
        let a = (pid / 64) % 256, b = (pid % 64) * 4
        let ns = NetworkNamespace(
            name: prefix + "\(pid)", hostLink: "pyflt\(pid)h", innerLink: "pyflt\(pid)n",
            hostAddress: "10.211.\(a).\(b + 1)", innerAddress: "10.211.\(a).\(b + 2)")
        let steps: [[String]] = [
            ["netns", "add", ns.name],
            ["link", "add", ns.hostLink, "type", "veth", "peer", "name", ns.innerLink, "netns", ns.name],
            ["addr", "add", ns.hostAddress + "/30", "dev", ns.hostLink],
            ["link", "set", ns.hostLink, "up"],
            ["netns", "exec", ns.name, ip, "addr", "add", ns.innerAddress + "/30", "dev", ns.innerLink],
            ["netns", "exec", ns.name, ip, "link", "set", ns.innerLink, "up"],
            ["netns", "exec", ns.name, ip, "link", "set", "lo", "up"],
        ]
        for step in steps {
            let r = try await runTool(ip, step)
            guard r.code == 0 else {
                await ns.remove()
                throw FaultError.setup("ip \(step.joined(separator: " ")): \(r.output)")
            }
        }
        return ns
    }

    /// Takes the namespace's end of the link down: its packets go nowhere, the host's own
    /// address stays reachable from the host.
    func cut() async throws { try await link("down") }
    func restore() async throws { try await link("up") }

    private func link(_ state: String) async throws {
        let r = try await runTool(Self.ip, ["netns", "exec", name, Self.ip, "link", "set", innerLink, state])
        guard r.code == 0 else { throw FaultError.setup("link \(state): \(r.output)") }
    }

    /// Kills what still runs inside, then deletes the namespace (and with it the veth pair).
    func remove() async {
        if let pids = try? await runTool(Self.ip, ["netns", "pids", name]) {
            for p in pids.output.split(separator: "\n").compactMap({ Int32($0) }) { kill(p, SIGKILL) }
        }
        try? await runTool(Self.ip, ["netns", "del", name])
        try? await runTool(Self.ip, ["link", "del", hostLink])
    }
}

/// A small tmpfs mounted by the test, so the server's store can be filled up for real (as root,
/// permissions do not stop SQLite; a full filesystem does).
struct SmallFilesystem {
    let path: String
    var filler: String { path + "/filler" }

    static let usable: Bool = {
        guard getuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "pushy-tmpfs-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard toolSucceeds("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) else { return false }
        return toolSucceeds("/usr/bin/umount", [probe])
    }()

    static func mount(megabytes: Int) async throws -> SmallFilesystem {
        let path = NSTemporaryDirectory() + "pushy-fault-fs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try await runTool("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path])
        guard r.code == 0 else { throw FaultError.setup("mount tmpfs at \(path): \(r.output)") }
        return SmallFilesystem(path: path)
    }

    /// Writes a file until the filesystem is full; returns the bytes written.
    func fill() throws -> Int {
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw FaultError.setup("cannot create \(filler) (errno \(errno))") }
        defer { close(fd) }
        var total = 0
        for size in [1 << 20, 4096, 512, 1] {
            let chunk = [UInt8](repeating: 0x5a, count: size)
            while true {
                let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, size) }
                if n > 0 { total += n }
                if n < size { break }
            }
        }
        guard errno == ENOSPC else { throw FaultError.setup("filling \(path) stopped with errno \(errno), not ENOSPC") }
        return total
    }

    func free() throws { try FileManager.default.removeItem(atPath: filler) }

    func unmount() async {
        if (try? await runTool("/usr/bin/umount", [path]))?.code != 0 {
            try? await runTool("/usr/bin/umount", ["-l", path])
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}
