import Foundation
import PushySwarm
import Synchronization

/// The stdin control channel of a swarm process (a plain thread: `readLine` blocks).
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
                case "stats": printStats()
                case "quit": done.store(true, ordering: .relaxed); return
                default: emit("error unknown command: \(line)")
                }
            }
            done.store(true, ordering: .relaxed)
        }
    }
}
