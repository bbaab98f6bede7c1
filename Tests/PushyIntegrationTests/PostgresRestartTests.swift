import Foundation
import Logging
@testable import PushyPostgres
import PushyPostgresTestSupport
import PushyTestSupport
import Synchronization
import Testing

/// Store calls end when the database restarts under them. postgres-nio 1.33.2 can leave a query
/// on a connection the database closed unanswered for ever; before `PostgresStore.unlessSilent`
/// most of these workers hung for good after a few restarts (and a server's cluster loops, so
/// its stop, with them: the CI failure of `aLostDatabaseAnswers503AndTheServerReconnects`).
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
struct PostgresRestartTests {
    /// Eight workers run reads and transactions (20 ms each, so the restarts catch some in
    /// flight) while the database is stopped and started six times; after the last start every
    /// worker must finish a call it began after it.
    @Test func everyCallEndsAcrossDatabaseRestarts() async throws {
        let pg = try await PrivateCluster.start()
        do {
            // Long enough for a loaded machine's first connection (`open` migrates): a call
            // while the database is away fails after this long, which only slows the workers.
            var url = pg.url
            url.connectTimeout = 10
            let store = try await PostgresStore.open(url: url, logger: quietLogger)
            let workers = RestartWorkers(count: 8)
            let running = Task.detached { await workers.run(store) }
            do {
                try await eventually("every worker's first call", timeout: .seconds(30)) { workers.allFinished(after: nil) }
                for cycle in 0..<6 {
                    let before = workers.finishedCalls
                    try await eventually("calls before pause \(cycle + 1)", timeout: .seconds(30)) { workers.finishedCalls > before + 8 }
                    try await pg.pause(mode: cycle % 2 == 0 ? "fast" : "immediate")
                    try await pg.resume()
                }
                let resumed = ContinuousClock.now
                try await eventually("every worker to finish a call begun after the last restart", timeout: .seconds(90)) {
                    workers.allFinished(after: resumed)
                }
                print("postgres-restart: \(workers.finishedCalls) calls, all 8 workers going again \(ContinuousClock.now - resumed) after the last start")
            } catch {
                print("postgres-restart: workers: \(workers.describe())")
                workers.stop()
                await waitForTask(running, "the store workers", timeout: .seconds(30))
                await store.shutdown()
                throw error
            }
            workers.stop()
            await waitForTask(running, "the store workers", timeout: .seconds(30))
            await store.shutdown()
        } catch {
            await pg.stop()
            throw error
        }
        await pg.stop()
    }
}

/// Workers calling the store in a loop, each noting when its last finished call began.
final class RestartWorkers: Sendable {
    /// Per worker, when its last finished call began (nil: none yet).
    private let lastFinishedStart: Mutex<[ContinuousClock.Instant?]>
    private let calls = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    let count: Int

    init(count: Int) {
        self.count = count
        lastFinishedStart = Mutex(Array(repeating: nil, count: count))
    }

    var finishedCalls: Int { calls.load(ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Whether every worker has finished (answered or failed) a call, begun after `instant` when given.
    func allFinished(after instant: ContinuousClock.Instant?) -> Bool {
        lastFinishedStart.withLock { $0.allSatisfy { began in began.map { b in instant.map { b > $0 } ?? true } ?? false } }
    }

    func describe() -> String {
        let now = ContinuousClock.now
        return lastFinishedStart.withLock {
            $0.enumerated().map { "#\($0.offset): " + ($0.element.map { "last call begun \(now - $0) ago" } ?? "no call finished") }
                .joined(separator: "; ")
        }
    }

    func run(_ store: PostgresStore) async {
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<count {
                group.addTask {
                    var n = 0
                    while !self.stopped.load(ordering: .relaxed) {
                        n += 1
                        let began = ContinuousClock.now
                        do {
                            if n % 2 == 0 {
                                try await store.transaction { s in try await s.run("SELECT pg_sleep(0.02)") }
                            } else {
                                try await store.read { s in try await s.run("SELECT pg_sleep(0.02)") }
                            }
                        } catch {
                            try? await Task.sleep(for: .milliseconds(20))  // the database is away: not a busy loop
                        }
                        self.lastFinishedStart.withLock { $0[worker] = began }
                        self.calls.add(1, ordering: .relaxed)
                    }
                }
            }
        }
    }
}
