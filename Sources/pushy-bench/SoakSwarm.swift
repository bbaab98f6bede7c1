import Foundation
import Synchronization

/// The soak's `pushy-swarm` processes: agents that record what they did per job
/// (`--record-jobs`), driven over stdin (`mute`, `unmute`, `restart`, `report`), with their
/// stdout read line by line (answers to `report` go to the waiting call, the rest to a log).
/// `Process` is not `Sendable`; members are set once and only read.
final class SoakSwarm: @unchecked Sendable {
    struct Member: @unchecked Sendable {
        let process: Process
        let stdin: FileHandle
        let first: Int
        let count: Int
    }

    let members: [Member]
    let replies = LineWaiters()
    let restarted = SoakCounter()
    /// The last `stats` (or final `stopped`) line of a swarm process.
    let lastStats = SoakText()

    /// A `name=value` field of the last stats line.
    func stat(_ name: String) -> Int? {
        lastStats.get().split(separator: " ").first { $0.hasPrefix(name + "=") }.flatMap { Int($0.dropFirst(name.count + 1)) }
    }

    /// Starts one process per share with `arguments(first, count)` (clients already registered).
    init(binDir: String, shares: [(first: Int, count: Int)], logDir: String,
         arguments: (Int, Int) -> [String]) throws {
        var members: [Member] = []
        for (i, s) in shares.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binDir + "/pushy-swarm")
            p.arguments = arguments(s.first, s.count)
            let out = Pipe(), input = Pipe()
            let log = logDir + "/soak-swarm-\(i).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = out
            p.standardError = logHandle
            p.standardInput = input
            try p.run()
            members.append(Member(process: p, stdin: input.fileHandleForWriting, first: s.first, count: s.count))
            Self.readLines(out.fileHandleForReading, log: logHandle, replies: replies, restarted: restarted, lastStats: lastStats)
        }
        self.members = members
    }

    /// A plain thread per process: reads its stdout until EOF (the process ended).
    static func readLines(_ handle: FileHandle, log: FileHandle, replies: LineWaiters, restarted: SoakCounter,
                          lastStats: SoakText) {
        Thread.detachNewThread {
            var buffer: [UInt8] = []
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += data
                while let nl = buffer.firstIndex(of: 10) {
                    let line = String(decoding: buffer[..<nl], as: UTF8.self)
                    buffer.removeSubrange(...nl)
                    if line.hasPrefix("report ") {
                        let words = line.split(separator: " ", maxSplits: 2)
                        if words.count >= 2 { replies.deliver(key: String(words[1]), line: line) }
                    } else {
                        if line.hasPrefix("stats ") || line.hasPrefix("stopped ") { lastStats.set(line) }
                        if line.hasPrefix("restarted "), let n = Int(line.split(separator: " ")[1]) {
                            restarted.add(n)
                        }
                        log.write(Data((line + "\n").utf8))
                    }
                }
            }
        }
    }

    var allRunning: Bool { members.allSatisfy { $0.process.isRunning } }

    /// Sends `command` with those of `indexes` each process holds.
    func send(_ command: String, _ indexes: [Int]) {
        for m in members {
            let mine = indexes.filter { $0 >= m.first && $0 < m.first + m.count }
            guard !mine.isEmpty else { continue }
            write(m, command + " " + mine.map(String.init).joined(separator: " "))
        }
    }

    func write(_ m: Member, _ line: String) {
        try? m.stdin.write(contentsOf: Data((line + "\n").utf8))
    }

    /// What the agents did in `job`: global index → `AgentJobEvent` letters; nil when a process
    /// did not answer within `timeout` seconds.
    func report(job: String, timeout: Double) async -> [Int: String]? {
        replies.expect(key: job, lines: members.count)
        for m in members { write(m, "report \(job)") }
        guard let lines = await replies.wait(key: job, timeout: timeout) else { return nil }
        var records: [Int: String] = [:]
        for line in lines {
            // report JOB N I:EVENTS ...
            for word in line.split(separator: " ").dropFirst(3) {
                let parts = word.split(separator: ":")
                if parts.count == 2, let i = Int(parts[0]) { records[i] = String(parts[1]) }
            }
        }
        return records
    }

    /// Closes stdin (the swarm's quit signal) and waits up to 10 s, then terminates stragglers.
    func stop() async {
        for m in members { try? m.stdin.close() }
        let deadline = ContinuousClock.now + .seconds(10)
        while members.contains(where: { $0.process.isRunning }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for m in members where m.process.isRunning {
            m.process.terminate()
            m.process.waitUntilExit()
        }
    }
}

/// The soak's child processes, for the signal handler.
final class SoakChildren: Sendable {
    private let pids = Mutex<[Int32]>([])
    func set(_ p: [Int32]) { pids.withLock { $0 = p } }
    func get() -> [Int32] { pids.withLock { $0 } }
}

/// A line shared with a reader thread.
final class SoakText: Sendable {
    private let text = Mutex("")
    func set(_ t: String) { text.withLock { $0 = t } }
    func get() -> String { text.withLock { $0 } }
}

/// A counter shared with a reader thread.
final class SoakCounter: Sendable {
    private let count = Atomic(0)
    func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// Calls waiting for a known number of lines under a key, each with a deadline.
final class LineWaiters: Sendable {
    struct Pending {
        var lines: [String] = []
        var needed: Int
        var continuation: CheckedContinuation<[String]?, Never>?
    }

    private let state = Mutex<[String: Pending]>([:])

    /// Announces a wait before the request goes out, so an early answer is kept.
    func expect(key: String, lines: Int) {
        state.withLock { $0[key] = Pending(needed: lines) }
    }

    func deliver(key: String, line: String) {
        let done: (CheckedContinuation<[String]?, Never>, [String])? = state.withLock { s in
            guard var p = s[key] else { return nil }
            p.lines.append(line)
            if p.lines.count >= p.needed, let c = p.continuation {
                s[key] = nil
                return (c, p.lines)
            }
            s[key] = p
            return nil
        }
        if let (c, lines) = done { c.resume(returning: lines) }
    }

    /// The lines once all arrived, or nil after `timeout` seconds.
    func wait(key: String, timeout: Double) async -> [String]? {
        await withCheckedContinuation { (c: CheckedContinuation<[String]?, Never>) in
            let ready: [String]?? = state.withLock { s in
                guard var p = s[key] else { return .some(nil) }
                if p.lines.count >= p.needed {
                    s[key] = nil
                    return .some(p.lines)
                }
                p.continuation = c
                s[key] = p
                return .none
            }
            if let ready { return c.resume(returning: ready) }
            Task {
                try? await Task.sleep(for: .seconds(timeout))
                let expired = self.state.withLock { s -> CheckedContinuation<[String]?, Never>? in
                    guard let p = s[key], let c = p.continuation else { return nil }
                    s[key] = nil
                    return c
                }
                expired?.resume(returning: nil)
            }
        }
    }
}
