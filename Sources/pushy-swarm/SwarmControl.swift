import Foundation
import PushySwarm
import Synchronization

/// The stdin control channel of a swarm process (a plain thread: `readLine` blocks).
/// Commands (global agent indexes): `mute I...`, `unmute I...`, `restart I...` (agents in a job
/// only; answers `restarted N I...`), `report JOB` (with --record-jobs; answers
/// `report JOB N I:EVENTS...`, see `AgentJobEvent`), `stats`, `quit`.
final class SwarmControl: Sendable {
    let swarm: Swarm
    private let done = Atomic(false)
    private let lastStats = Mutex(Date())

    init(swarm: Swarm) { self.swarm = swarm }

    var isDone: Bool { done.load(ordering: .relaxed) }
    var secondsSinceStats: Double { Date().timeIntervalSince(lastStats.withLock { $0 }) }

    func printStats() {
        lastStats.withLock { $0 = Date() }
        emit("stats \(swarm.stats)")
    }

    func readStdin() {
        Thread.detachNewThread { [self] in
            while let line = readLine() {
                let words = line.split(separator: " ")
                switch words.first {
                case "mute": for w in words.dropFirst() { if let i = Int(w) { swarm.mute(index: i) } }; emit("muted \(words.count - 1)")
                case "unmute": for w in words.dropFirst() { if let i = Int(w) { swarm.unmute(index: i) } }; emit("unmuted \(words.count - 1)")
                case "restart":
                    let indexes = words.dropFirst().compactMap { Int($0) }
                    let swarm = swarm
                    Task {
                        var restarted: [Int] = []
                        for i in indexes {
                            if await swarm.restart(index: i) { restarted.append(i) }
                        }
                        emit("restarted \(restarted.count) " + restarted.map(String.init).joined(separator: " "))
                    }
                case "report":
                    guard words.count == 2 else { emit("error usage: report JOB_ID"); continue }
                    let job = String(words[1]), swarm = swarm
                    Task {
                        let records = await swarm.report(job: job)
                        emit("report \(job) \(records.count) " + records.map { "\($0.index):\($0.events)" }.joined(separator: " "))
                    }
                case "stats": printStats()
                case "quit": done.store(true, ordering: .relaxed); return
                default: emit("error unknown command: \(line)")
                }
            }
            done.store(true, ordering: .relaxed)
        }
    }
}
