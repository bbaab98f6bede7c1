import Foundation
import Logging
import PushyStore
import Synchronization

/// Writes jobs' rows to the store in the background, one write at a time.
///
/// Each job's writes are applied in the order they were asked for (its insert, then its
/// updates). A write that fails is kept and retried with backoff, and it holds back only the
/// later writes of the jobs it touches: other jobs' writes, and new jobs' inserts, go on, so a
/// store that is full or read-only for a while does not stall the REST API. Every failure is
/// logged and counted. The engine keeps a job in memory while `hasPending(job:)`, so a job is
/// never released before its rows are durable.
final class JobWriter: Sendable {
    typealias Operation = @Sendable () async throws -> Void

    struct Write: Sendable {
        let jobs: [String]
        /// What the write does, for the log.
        let what: String
        let op: Operation
        /// Rows the write carries (`/metrics` batch sizes).
        var rows = 1
        /// Retried until it succeeds (updates); else its first outcome is final (inserts, whose
        /// caller answers the request with the error).
        let retries: Bool
        let completion: (@Sendable (Result<Void, any Error>) -> Void)?
        var attempts = 0
        var notBefore: ContinuousClock.Instant?
    }

    /// Counters for `/pushy/_status` and tests.
    struct Stats: Sendable, Equatable {
        var written = 0
        var failures = 0
        /// Writes waiting (queued or waiting to be retried).
        var pending = 0
        var lastError: String?
    }

    private struct State {
        var queue: [Write] = []
        var pendingByJob: [String: Int] = [:]
        var stats = Stats()
        /// Woken when a write is queued (the loop waits on it when there is nothing to do).
        var doorbell: CheckedContinuation<Void, Never>?
        var rung = false
        var stopping = false
        /// When `run` gives up at a stop (set by `stop`).
        var stopDeadline: ContinuousClock.Instant?
        /// Jobs whose insert failed: their later writes can only fail, so they are dropped.
        var unrecorded: Set<String> = []

        /// One write of each of `jobs` is done (written or dropped).
        mutating func release(_ jobs: [String]) {
            for j in jobs {
                let n = (pendingByJob[j] ?? 1) - 1
                pendingByJob[j] = n > 0 ? n : nil
            }
        }
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let metrics: PushyMetrics
    /// Delay before the n-th retry: doubling from `firstRetryDelay` up to `maxRetryDelay`.
    let firstRetryDelay: Duration
    let maxRetryDelay: Duration

    init(logger: Logger, firstRetryDelay: Duration = .milliseconds(50), maxRetryDelay: Duration = .seconds(2),
         metrics: PushyMetrics = .disabled) {
        self.logger = logger
        self.metrics = metrics
        self.firstRetryDelay = firstRetryDelay
        self.maxRetryDelay = maxRetryDelay
    }

    var stats: Stats { state.withLock { $0.stats } }

    /// Whether any write of `job` is not yet durable.
    func hasPending(job: String) -> Bool { state.withLock { $0.pendingByJob[job] != nil } }

    /// Queues a write that is retried until it succeeds.
    func enqueue(jobs: [String], _ what: String, rows: Int = 1, _ op: @escaping Operation) {
        add(Write(jobs: jobs, what: what, op: op, rows: rows, retries: true, completion: nil))
    }

    /// Queues a write that is tried once, in order with the job's other writes; its outcome can
    /// be awaited later (the caller goes on meanwhile).
    func submit(jobs: [String], _ what: String, _ op: @escaping Operation) -> WriteOutcome {
        let outcome = WriteOutcome()
        add(Write(jobs: jobs, what: what, op: op, retries: false, completion: { outcome.complete($0) }))
        return outcome
    }

    private func add(_ write: Write) {
        let bell = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if !s.unrecorded.isEmpty, write.jobs.allSatisfy(s.unrecorded.contains) { return nil }
            s.queue.append(write)
            for j in write.jobs { s.pendingByJob[j, default: 0] += 1 }
            s.stats.pending = s.queue.count
            s.rung = true
            defer { s.doorbell = nil }
            return s.doorbell
        }
        bell?.resume()
    }

    /// Waits until every write queued so far is done, or `timeout` passes; true when all are.
    @discardableResult
    func drain(timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // Written = nothing queued and nothing in flight (a running write is off the queue).
            if state.withLock({ $0.pendingByJob.isEmpty }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return state.withLock { $0.pendingByJob.isEmpty }
    }

    /// Ends `run` once the queue is empty, or `stopTimeout` from now with what is left logged as lost.
    func stop(stopTimeout: Duration = .seconds(10)) {
        let bell = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if !s.stopping { s.stopDeadline = ContinuousClock.now + stopTimeout }
            s.stopping = true
            defer { s.doorbell = nil }
            return s.doorbell
        }
        bell?.resume()
    }

    /// The write loop. Returns after `stop()` once nothing is left to write (or, with writes
    /// failing, at the stop's deadline, logging the writes given up). Cancelling it stops it.
    func run() async {
        await withTaskCancellationHandler { await loop() } onCancel: { stop() }
    }

    private func loop() async {
        while true {
            let now = ContinuousClock.now
            let (stopping, deadline, empty) = state.withLock { s in (s.stopping, s.stopDeadline, s.queue.isEmpty) }
            if stopping {
                if empty { return }
                // Cancelled (the service group failed): no time to wait for a store to recover.
                if Task.isCancelled || deadline.map({ now >= $0 }) ?? false {
                    let lost = state.withLock { s in
                        defer { s.queue = []; s.pendingByJob = [:]; s.stats.pending = 0 }
                        return s.queue.map(\.what)
                    }
                    logger.error("store writes given up at shutdown; the jobs they belong to will be crashed at the next start",
                                 metadata: ["pushy.writes": "\(lost)"])
                    return
                }
            }
            let (next, wake) = state.withLock { s in (Self.takeRunnable(&s.queue, now: now), Self.earliestRetry(s.queue)) }
            if let next {
                await perform(next)
                continue
            }
            if let wake {
                // Something waits for a retry: look again at its time or in a moment, whichever
                // is first (a new write may be runnable before that).
                let until = min(wake, now + .milliseconds(100))
                try? await Task.sleep(until: until, clock: .continuous)
            } else if !stopping {
                await waitForWrite()
            }
        }
    }

    private func waitForWrite() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.rung || s.stopping || !s.queue.isEmpty {
                    s.rung = false
                    return true
                }
                s.doorbell = c
                return false
            }
            if resumeNow { c.resume() }
        }
        state.withLock { $0.rung = false }
    }

    /// Removes and returns the first write that may run now: not waiting for a retry, and
    /// touching no job that an earlier waiting write touches.
    static func takeRunnable(_ queue: inout [Write], now: ContinuousClock.Instant) -> Write? {
        var held = Set<String>()
        for (i, w) in queue.enumerated() {
            let waiting = w.notBefore.map { $0 > now } ?? false
            if waiting || w.jobs.contains(where: held.contains) {
                held.formUnion(w.jobs)
                continue
            }
            return queue.remove(at: i)
        }
        return nil
    }

    static func earliestRetry(_ queue: [Write]) -> ContinuousClock.Instant? {
        queue.compactMap(\.notBefore).min()
    }

    private func perform(_ write: Write) async {
        let started = ContinuousClock.now
        do {
            try await write.op()
            metrics.storeWrite(duration: ContinuousClock.now - started, rows: write.rows, outcome: "ok")
            finish(write)
            write.completion?(.success(()))
        } catch {
            metrics.storeWrite(duration: ContinuousClock.now - started, rows: write.rows, outcome: "failed")
            var w = write
            w.attempts += 1
            let failures = state.withLock { s -> Int in
                s.stats.failures += 1
                s.stats.lastError = "\(error)"
                return s.stats.failures
            }
            guard w.retries else {
                // A job whose insert failed is not recorded: its later writes can only fail.
                let dropped = dropWrites(onlyOf: write.jobs)
                state.withLock { s in
                    if s.unrecorded.count > 1000 { s.unrecorded.removeAll() }
                    s.unrecorded.formUnion(write.jobs)
                }
                finish(write)
                logger.error("store write failed", metadata: [
                    "pushy.write": "\(w.what)", "pushy.error": "\(error)", "pushy.dropped_writes": "\(dropped)",
                ])
                write.completion?(.failure(error))
                return
            }
            if let e = error as? StoreError, e.kind != .io {
                // Not the storage failing but the write itself (a row that is not there): trying
                // again cannot help. Logged and counted, not retried.
                finish(write)
                logger.error("store write rejected; not retried", metadata: ["pushy.write": "\(w.what)", "pushy.error": "\(error)"])
                return
            }
            let delay = min(maxRetryDelay, firstRetryDelay * (1 << min(w.attempts - 1, 16)))
            w.notBefore = ContinuousClock.now + delay
            // The first failure of a write and every 20th after it are logged; all are counted.
            if w.attempts == 1 || w.attempts % 20 == 0 {
                logger.error("store write failed; retrying", metadata: [
                    "pushy.write": "\(w.what)", "pushy.attempt": "\(w.attempts)", "pushy.error": "\(error)",
                    "pushy.failures": "\(failures)",
                ])
            }
            state.withLock { s in
                // Back at the head: it stays ahead of the later writes of its jobs.
                s.queue.insert(w, at: 0)
            }
        }
    }

    /// Removes the queued writes that touch only `jobs`; returns how many.
    private func dropWrites(onlyOf jobs: [String]) -> Int {
        let set = Set(jobs)
        return state.withLock { s in
            let (drop, keep) = (s.queue.filter { $0.jobs.allSatisfy(set.contains) }, s.queue.filter { !$0.jobs.allSatisfy(set.contains) })
            s.queue = keep
            for w in drop { s.release(w.jobs) }
            s.stats.pending = s.queue.count
            return drop.count
        }
    }

    private func finish(_ write: Write) {
        state.withLock { s in
            s.release(write.jobs)
            s.stats.written += 1
            s.stats.pending = s.queue.count
        }
        if write.attempts > 0 {
            logger.notice("store write succeeded after \(write.attempts) failed attempt(s)", metadata: ["pushy.write": "\(write.what)"])
        }
    }
}

/// The outcome of one submitted write, awaited by whoever needs it.
final class WriteOutcome: Sendable {
    private struct State {
        var result: Result<Void, any Error>?
        var waiters: [CheckedContinuation<Result<Void, any Error>, Never>] = []
    }

    private let state = Mutex(State())

    func complete(_ result: Result<Void, any Error>) {
        let waiters = state.withLock { s in
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: result) }
    }

    var value: Result<Void, any Error> {
        get async {
            await withCheckedContinuation { c in
                let done = state.withLock { s -> Result<Void, any Error>? in
                    if let r = s.result { return r }
                    s.waiters.append(c)
                    return nil
                }
                if let done { c.resume(returning: done) }
            }
        }
    }
}
