#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// What must be stopped whatever happens (servers, swarms, a PostgreSQL cluster): each step is
/// registered when its process starts and removed when it was stopped in order. On SIGINT,
/// SIGTERM or SIGHUP every step still registered runs (newest first) and the bench exits 130;
/// `runAll` does the same on any other way out.
final class BenchCleanup: Sendable {
    private let steps = Mutex<[(id: Int, name: String, run: @Sendable () -> Void)]>([])
    private let next = Atomic(0)

    /// Installs the signal handlers (once per bench run); keep what it returns for the run.
    func stopOnSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM, SIGHUP].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                say("signal \(sig): stopping every process the bench started")
                runAll()
                Glibc.exit(130)
            }
            source.resume()
            return source
        }
    }

    /// Registers `run` (synchronous, bounded) and returns its id for `remove`.
    @discardableResult
    func add(_ name: String, _ run: @escaping @Sendable () -> Void) -> Int {
        let id = next.add(1, ordering: .relaxed).newValue
        steps.withLock { $0.append((id, name, run)) }
        return id
    }

    func remove(_ id: Int) { steps.withLock { $0.removeAll { $0.id == id } } }

    /// Held while the steps run: a second caller (the signal handler and the run's own end at
    /// once) waits until the first has stopped everything, so neither exits half-way.
    private let running = Mutex(())

    /// Runs every registered step once, newest first (swarms before servers before the database).
    func runAll() {
        running.withLock { _ in
            let all = steps.withLock { s in
                defer { s = [] }
                return s
            }
            for step in all.reversed() { step.run() }
        }
    }
}

/// SIGTERM, then SIGKILL after `grace` seconds; waits (bounded) until `pid` has exited.
func stopProcess(_ process: Process, grace: Double = 10) {
    guard process.isRunning else { return }
    process.terminate()
    let deadline = Date().addingTimeInterval(grace)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    let end = Date().addingTimeInterval(10)
    while process.isRunning, Date() < end { usleep(20_000) }
}
