import Foundation
import PushyCore
import PushyProtocol
import PushyStore

extension CommandEngine {
    /// Creates and starts a job. The caller has validated the request and the node names.
    public func startJob(org: String, orgGUID: String, request: JobRequest, requestor: String) async throws(StoreError) -> ActiveJobSnapshot {
        let now = Self.now()
        let date = Date(timeIntervalSince1970: now.rounded(.down))
        let id = Self.newJobId(orgGUID: orgGUID)
        let runTimeout = request.runTimeout ?? config.defaultRunTimeout
        let quorum = request.quorumCount
        let envJSON: JSONValue? = request.env.map { .object($0.map { ($0.0, JSONValue.string($0.1)) }) }
        let record = JobRecord(
            id: id, org: org, command: request.command, quorum: quorum, runTimeout: runTimeout, status: .voting,
            statusReason: nil, requestor: requestor, user: request.user, dir: request.dir, env: envJSON,
            file: request.file, captureOutput: request.captureOutput, createdAt: date, updatedAt: date)
        // The job's rows are written while its commits go out: a job over thousands of nodes
        // does not wait for the write to start voting. The caller is answered only once the
        // rows are durable, and every later write of this job queues behind this one.
        let store = self.store
        let nodeRecords = request.nodes.map { JobNodeRecord(jobId: id, node: $0, status: .new, reason: nil, updatedAt: date) }
        let inserted = enqueueWriteWithResult { () async throws(StoreError) in
            try await store.insertJob(record, nodes: nodeRecords)
        }

        var startFields: [(String, JSONValue)] = [
            ("command", .string(request.command)), ("run_timeout", .number(Double(runTimeout))),
            ("quorum", .number(Double(quorum))), ("node_count", .number(Double(request.nodes.count))),
            ("user", .string(requestor)),
        ]
        if let u = request.user { startFields.append(("job_user", .string(u))) }
        if let d = request.dir { startFields.append(("dir", .string(d))) }
        if let envJSON { startFields.append(("env", envJSON)) }
        if request.file != nil { startFields.append(("file_specified", .bool(true))) }
        startFields.append(("capture", .bool(request.captureOutput)))

        let (machine, actions) = JobMachine.start(
            id: id, nodes: request.nodes, quorum: quorum, runTimeout: runTimeout, now: now,
            votingTimeout: config.votingTimeout, startEvent: JobFeedEvent("start", startFields)
        ) { node in
            guard let s = self.sessions[NodeKey(org: org, node: node)] else {
                return (false, "offline: no heartbeat from the node")
            }
            return s.state == .idle ? (true, "") : (false, "unavailable: the node is being reset (rehab)")
        }
        let job = ActiveJob(org: org, record: record, machine: machine)
        jobs[id] = job
        logger.info("job started", metadata: ["pushy.job": "\(id)", "pushy.nodes": "\(request.nodes.count)"])
        perform(actions, job: job, now: now)
        if case .failure(let error) = await inserted.value {
            // Not recorded, so not run: stop the commits that went out and forget the job.
            logger.error("job not recorded; aborted", metadata: ["pushy.job": "\(id)", "pushy.error": "\(error)"])
            job.heldRuns = []
            let abort = job.machine.abort(now: Self.now(), by: "the server (the job could not be recorded)")
            // Resets and feed events, but no store writes: there are no rows to update.
            perform(abort.filter { if case .jobChanged = $0 { false } else { true } }, job: job, now: Self.now())
            job.heldUpdates = []
            forget(job)
            throw error
        }
        job.recorded = true
        if !job.heldUpdates.isEmpty {
            pendingNodeUpdates += job.heldUpdates
            job.heldUpdates = []
            scheduleFlush()
        }
        if !job.heldRuns.isEmpty {
            let nodes = job.heldRuns
            job.heldRuns = []
            sendRun(job, nodes, at: Date())
        }
        return job.snapshot
    }

    /// Sends `run` to those of `nodes` still waiting for it in a running job.
    func sendRun(_ job: ActiveJob, _ nodes: [String], at date: Date) {
        guard job.machine.status == .running else { return }
        let waiting = nodes.filter { job.machine.nodes[$0] == .ready }
        send(waiting.map { NodeKey(org: job.org, node: $0) },
             ServerMessage(type: .run, sequence: 0, timestamp: date, jobId: job.record.id))
    }

    /// Drops a job from memory (its rows are in the store, or it was never recorded).
    func forget(_ job: ActiveJob) {
        wake(job.record.id)
        jobs[job.record.id] = nil
    }

    static func newJobId(orgGUID: String) -> String {
        var g = SystemRandomNumberGenerator()
        let suffix = (0..<20).map { _ in String(UInt8.random(in: 0...15, using: &g), radix: 16) }.joined()
        return String(orgGUID.suffix(12)) + suffix
    }

    /// The state of a job still held in memory (nil once it has been released to the store).
    public func activeJobSnapshot(org: String, id: String) -> ActiveJobSnapshot? {
        guard let j = jobs[id], j.org == org else { return nil }
        return j.snapshot
    }

    /// The live view of a job still held in memory, built off the actor.
    public nonisolated func activeJobView(org: String, id: String) async -> JobView? {
        await activeJobSnapshot(org: org, id: id)?.view()
    }

    /// Aborts a job (spec 12 point 1); nil when the job is not active here.
    public func abortJob(org: String, id: String, requestor: String) -> ActiveJobSnapshot? {
        guard let job = jobs[id], job.org == org else { return nil }
        let now = Self.now()
        perform(job.machine.abort(now: now, by: requestor), job: job, now: now)
        return job.snapshot
    }

    /// Performs what a job's state machine asked for.
    func perform(_ actions: [JobMachine.Action], job: ActiveJob, now: Double) {
        let date = Date(timeIntervalSince1970: now)
        for action in actions {
            switch action {
            case .sendCommit(let nodes):
                send(nodes.map { NodeKey(org: job.org, node: $0) }, ServerMessage(
                    type: .commit, sequence: 0, timestamp: date, jobId: job.record.id, server: config.advertisedHost,
                    command: job.record.command, user: job.record.user, dir: job.record.dir, env: job.record.env,
                    file: job.record.file, capture: job.record.captureOutput, runTimeout: job.record.runTimeout))
            case .sendRun(let nodes):
                if job.recorded { sendRun(job, nodes, at: date) } else { job.heldRuns += nodes }
            case .rehab(let n):
                sendAbort(NodeKey(org: job.org, node: n), now: now)
            case .nodeChanged(let node, let status, let reason):
                let update = JobNodeUpdate(jobId: job.record.id, node: node, status: status, reason: reason, at: date)
                if job.recorded {
                    pendingNodeUpdates.append(update)
                    scheduleFlush()
                } else {
                    job.heldUpdates.append(update)
                }
            case .jobChanged(let status, let reason):
                let updated = Date(timeIntervalSince1970: now.rounded(.down))
                job.record.status = status
                job.record.updatedAt = updated
                let store = self.store, id = job.record.id
                // Node updates first, so a reader never sees a finished job with stale nodes.
                var batch = takePendingNodeUpdates()
                if !job.recorded {
                    // Queued behind its rows; other jobs' changes go separately, so a failed
                    // insert of this job cannot undo them.
                    let others = batch
                    if !others.isEmpty { enqueueWrite { try await store.applyNodeUpdates(others) } }
                    batch = Self.merged(job.heldUpdates)
                    job.heldUpdates = []
                }
                let nodeUpdates = batch
                enqueueWrite {
                    if !nodeUpdates.isEmpty { try await store.applyNodeUpdates(nodeUpdates) }
                    try await store.updateJob(id: id, status: status, reason: reason, updatedAt: updated)
                }
                if status.isTerminal {
                    logger.info("job finished", metadata: ["pushy.job": "\(id)", "pushy.status": "\(status.rawValue)"])
                    memoryEvents += 1
                }
            case .event(let e):
                record(e, job: job, at: date)
            }
        }
        if job.machine.status.isTerminal { wake(job.record.id) }
    }

    /// The node changes waiting to be written, one per node and job: a node that went
    /// ready → running → succeeded since the last write is written once, as succeeded (keeping
    /// the latest reason given).
    func takePendingNodeUpdates() -> [JobNodeUpdate] {
        let pending = pendingNodeUpdates
        pendingNodeUpdates = []
        return Self.merged(pending)
    }

    /// One update per node and job, the latest (keeping the latest reason given), in first-seen order.
    static func merged(_ pending: [JobNodeUpdate]) -> [JobNodeUpdate] {
        guard pending.count > 1 else { return pending }
        var latest: [String: [String: Int]] = [:]
        var merged: [JobNodeUpdate] = []
        merged.reserveCapacity(pending.count)
        for u in pending {
            if let i = latest[u.jobId]?[u.node] {
                let reason = u.reason ?? merged[i].reason
                merged[i] = u
                merged[i].reason = reason
            } else {
                latest[u.jobId, default: [:]][u.node] = merged.count
                merged.append(u)
            }
        }
        return merged
    }

    /// Writes node-in-job changes in batches instead of one transaction per message.
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task {
            try? await Task.sleep(for: .milliseconds(100))
            await self.flush()
        }
    }

    func flush() {
        flushScheduled = false
        let batch = takePendingNodeUpdates()
        guard !batch.isEmpty else { return }
        let store = self.store
        enqueueWrite { try await store.applyNodeUpdates(batch) }
    }

    /// Store writes run one after another in the order they were asked for.
    func enqueueWrite(_ op: @escaping @Sendable () async throws -> Void) {
        let previous = writeChain
        let logger = self.logger
        writeChain = Task {
            await previous?.value
            do { try await op() } catch {
                logger.error("store write failed", metadata: ["pushy.error": "\(error)"])
            }
        }
    }

    /// Like `enqueueWrite`, in the same order, but the caller can await the outcome.
    func enqueueWriteWithResult(
        _ op: @escaping @Sendable () async throws(StoreError) -> Void
    ) -> Task<Result<Void, StoreError>, Never> {
        let previous = writeChain
        let write = Task { () -> Result<Void, StoreError> in
            await previous?.value
            do throws(StoreError) { try await op() } catch { return .failure(error) }
            return .success(())
        }
        writeChain = Task { _ = await write.value }
        return write
    }

    /// Waits until every store write asked for so far is done (tests, shutdown).
    public func drainWrites() async {
        flush()
        await writeChain?.value
    }

    /// Waits until the job has ended (or `timeout` passes): `GET /jobs/ID?wait=SECONDS`.
    public func waitUntilFinished(jobId: String, timeout: Duration) async {
        guard let job = jobs[jobId], !job.machine.status.isTerminal else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            job.waiters.append(c)
            Task {
                try? await Task.sleep(for: timeout)
                await self.wake(jobId)
            }
        }
    }

    func wake(_ jobId: String) {
        guard let job = jobs[jobId], !job.waiters.isEmpty else { return }
        let w = job.waiters
        job.waiters = []
        for c in w { c.resume() }
    }
}
