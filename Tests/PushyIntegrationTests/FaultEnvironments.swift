import Foundation
import PushyTestSupport
import Testing

/// Runs a tool synchronously at test-planning time (for `.enabled(if:)`), with a deadline.
func toolSucceeds(_ path: String, _ args: [String], timeout: Double = 10) -> Bool {
    guard FileManager.default.isExecutableFile(atPath: path) else { return false }
    guard let null = try? openForChild("/dev/null", writing: true) else { return false }
    defer { close(null) }
    guard let p = try? Spawned(Command(path, args), stdin: null, stdout: null, stderr: null) else { return false }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning, Date() < deadline { usleep(10_000) }
    if p.isRunning {
        p.signal(SIGKILL)
        return false
    }
    return p.exit == .exited(0)
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
