import Foundation
import PushyCore
import PushyProtocol
import PushyStore

extension CommandEngine {
    /// Creates and starts a job. The caller has validated the request and the node names.
    public func startJob(org: String, orgGUID: String, request: JobRequest, requestor: String,
                         rerunOf: String? = nil, template: (name: String, version: Int)? = nil,
                         origin: String? = nil)
        async throws(StoreError) -> ActiveJobSnapshot {
        let now = clock()
        let date = Date(timeIntervalSince1970: now.rounded(.down))
        let id = Self.newJobId(orgGUID: orgGUID)
        let runTimeout = request.runTimeout ?? config.defaultRunTimeout
        let quorum = request.quorumCount
        let envJSON: JSONValue? = request.env.map { .object($0.map { ($0.0, JSONValue.string($0.1)) }) }
        let record = JobRecord(
            id: id, org: org, command: request.command, quorum: quorum, runTimeout: runTimeout, status: .voting,
            statusReason: nil, requestor: requestor, user: request.user, dir: request.dir, env: envJSON,
            file: request.file, captureOutput: request.captureOutput, createdAt: date, updatedAt: date,
            rateControl: request.rateControl, rerunOf: rerunOf, template: template?.name, templateVersion: template?.version,
            origin: origin)
        // The job's rows are written while its commits go out: a job over thousands of nodes
        // does not wait for the write to start voting. The caller is answered only once the
        // rows are durable, and every later write of this job queues behind this one.
        let store = self.store
        let nodeRecords = request.nodes.map { JobNodeRecord(jobId: id, node: $0, status: .new, reason: nil, updatedAt: date) }
        let writer = self.writer
        let inserted = writer.submit(jobs: [id], "insert job \(id)") { try await store.insertJob(record, nodes: nodeRecords) }

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
        if let r = request.rateControl { startFields.append(("rate_control", r.json)) }
        if let rerunOf { startFields.append(("rerun_of", .string(rerunOf))) }
        if let origin { startFields.append(("origin", .string(origin))) }
        if let template {
            startFields.append(("template", .string(template.name)))
            startFields.append(("template_version", .number(Double(template.version))))
        }

        let limits = request.rateControl.map { LaunchLimits($0, nodeCount: request.nodes.count) }
        // Nodes whose agents run at the commit (issue 16), when the job allows it at all.
        var runsAtCommit = Set<String>()
        if JobMachine.offersRunAtCommit(nodes: request.nodes.count, quorum: quorum, limits: limits) {
            for n in request.nodes where sessions[NodeKey(org: org, node: n)]?.runsAtCommit == true { runsAtCommit.insert(n) }
        }
        // Nodes held by other servers of the cluster (none on a single server).
        let remote = await locateRemote(org: org, request.nodes)
        let (machine, actions) = JobMachine.start(
            id: id, nodes: request.nodes, quorum: quorum, runTimeout: runTimeout, now: now,
            votingTimeout: config.votingTimeout, limits: limits, runsAtCommit: runsAtCommit,
            startEvent: JobFeedEvent("start", startFields)
        ) { node in
            guard let s = self.sessions[NodeKey(org: org, node: node)] else {
                if let r = remote[node] {
                    return r.available ? (true, "") : (false, "unavailable: the node is being reset (rehab)")
                }
                return (false, "offline: no heartbeat from the node")
            }
            return s.isAvailable ? (true, "") : (false, "unavailable: the node is being reset (rehab)")
        }
        let job = ActiveJob(org: org, record: record, machine: machine)
        jobs[id] = job
        tickBell.ring()
        if !remote.isEmpty { cluster?.placement[id] = remote.mapValues(\.server) }
        logger.info("job started", metadata: ["pushy.job": "\(id)", "pushy.nodes": "\(request.nodes.count)"])
        perform(actions, job: job, now: now)
        if case .failure(let failure) = await inserted.value {
            let error = failure as? StoreError ?? StoreError.io("\(failure)")
            // Not recorded, so not run: stop the commits that went out and forget the job.
            logger.error("job not recorded; aborted", metadata: ["pushy.job": "\(id)", "pushy.error": "\(error)"])
            let abort = job.machine.abort(now: clock(), by: "the server (the job could not be recorded)")
            // Resets and feed events, but no store writes: there are no rows to update.
            perform(abort.filter { if case .jobChanged = $0 { false } else { true } }, job: job, now: clock())
            pendingNodeUpdates.removeAll { $0.jobId == id }
            forget(job)
            throw error
        }
        let recordedAt = clock()
        perform(job.machine.markRecorded(now: recordedAt), job: job, now: recordedAt)
        return job.snapshot
    }

    /// Sends `run` to those of `nodes` still waiting for it in a running job.
    func sendRun(_ job: ActiveJob, _ nodes: [String], at date: Date) {
        guard job.machine.status == .running else { return }
        let waiting = nodes.filter { job.machine.nodes[$0] == .ready }.map { NodeKey(org: job.org, node: $0) }
        for key in waiting { sessions[key]?.machine.runSent(job.record.id) }
        send(waiting, ServerMessage(type: .run, sequence: 0, timestamp: date, jobId: job.record.id))
    }

    /// Drops a job from memory (its rows are in the store, or it was never recorded); the
    /// servers holding its other nodes forget it too.
    func forget(_ job: ActiveJob) {
        wake(job.record.id)
        sendRemoteEnd(job)
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
        let now = clock()
        perform(job.machine.abort(now: now, by: requestor), job: job, now: now)
        return job.snapshot
    }

    /// Performs what a job's state machine asked for.
    func perform(_ actions: [JobMachine.Action], job: ActiveJob, now: Double) {
        let date = Date(timeIntervalSince1970: now)
        for action in actions {
            switch action {
            case .sendCommit(let all):
                let (nodes, remote) = splitByServer(job, all)
                sendRemoteCommit(job, remote)
                send(nodes.map { NodeKey(org: job.org, node: $0) }, commitMessage(job, date))
            case .sendCommitRun(let nodes):
                // Only nodes of this server's own sessions run at their commit (`runsAtCommit`).
                var m = commitMessage(job, date)
                m.commitRun = true
                send(nodes.map { NodeKey(org: job.org, node: $0) }, m)
            case .sendRun(let nodes):
                sendRun(job, nodes, at: date)
                sendRemoteRun(job, nodes)
            case .rehab(let n):
                sendAbort(NodeKey(org: job.org, node: n), now: now)
                sendRemoteRehab(job, n)
            case .nodeChanged(let node, let status, let reason):
                counters.nodeChanged(status, reason: reason)
                track(node, status, job: job)
                sendRemoteStatus(job, node, status)
                pendingNodeUpdates.append(JobNodeUpdate(jobId: job.record.id, node: node, status: status, reason: reason, at: date))
            case .jobChanged(let status, let reason):
                let updated = Date(timeIntervalSince1970: now.rounded(.down))
                let store = self.store, id = job.record.id
                // Node updates first, so a reader never sees a finished job with stale nodes.
                var batch = takePendingNodeUpdates(including: id)
                if !job.machine.recorded {
                    // Queued behind its rows; other jobs' changes go separately, so a failed
                    // insert of this job cannot undo them.
                    let others = batch.filter { $0.jobId != id }
                    if !others.isEmpty {
                        enqueueWrite(jobs: Self.jobIds(others), "\(others.count) node update(s)", rows: others.count) { try await store.applyNodeUpdates(others) }
                    }
                    batch = batch.filter { $0.jobId == id }
                }
                let nodeUpdates = batch
                enqueueWrite(jobs: Self.jobIds(nodeUpdates) + (nodeUpdates.contains { $0.jobId == id } ? [] : [id]),
                             "job \(id) \(status.rawValue) + \(nodeUpdates.count) node update(s)", rows: nodeUpdates.count + 1) {
                    if !nodeUpdates.isEmpty { try await store.applyNodeUpdates(nodeUpdates) }
                    try await store.updateJob(id: id, status: status, reason: reason, updatedAt: updated)
                }
                if status.isTerminal {
                    sendRemoteEnd(job)
                    counters.jobsEnded[status.rawValue, default: 0] += 1
                    logger.info("job finished", metadata: ["pushy.job": "\(id)", "pushy.status": "\(status.rawValue)"])
                    memoryEvents += 1
                }
            case .event(let e):
                if e.name == "start" { counters.jobsStarted += 1 }
                record(e, job: job, at: date)
            }
        }
        if job.machine.status.isTerminal { wake(job.record.id) }
    }

    func commitMessage(_ job: ActiveJob, _ date: Date) -> ServerMessage {
        ServerMessage(
            type: .commit, sequence: 0, timestamp: date, jobId: job.record.id, server: config.advertisedHost,
            command: job.record.command, user: job.record.user, dir: job.record.dir, env: job.record.env,
            file: job.record.file, capture: job.record.captureOutput, runTimeout: job.record.runTimeout)
    }

    /// Keeps the node's `held` job in step with its status in `job` (for `reconcile`).
    func track(_ node: String, _ status: NodeJobStatus, job: ActiveJob) {
        let key = NodeKey(org: job.org, node: node)
        guard let s = sessions[key] else { return }
        let actions = s.machine.jobChanged(job.record.id, to: status)
        if !actions.isEmpty { perform(actions, s, key, now: clock()) }
    }

    /// The node changes waiting to be written, one per node and job: a node that went
    /// ready → running → succeeded since the last write is written once, as succeeded (keeping
    /// the latest reason given). Only those of jobs whose rows are durable, and of `job`: the
    /// others wait, because a batch that named a job whose insert then failed would be refused
    /// whole. Changes of jobs no longer held (never recorded) are dropped.
    func takePendingNodeUpdates(including job: String? = nil) -> [JobNodeUpdate] {
        guard !pendingNodeUpdates.isEmpty else { return [] }
        // Per job: write now (true), keep waiting (false) or drop (nil), decided once per job.
        var verdicts: [String: Bool?] = [:]
        func verdict(_ id: String) -> Bool? {
            if let v = verdicts[id] { return v }
            let v: Bool? = id == job ? true : jobs[id].map { $0.machine.recorded }
            verdicts[id] = v
            return v
        }
        var take: [JobNodeUpdate] = [], keep: [JobNodeUpdate] = []
        for u in pendingNodeUpdates {
            switch verdict(u.jobId) {
            case true?: take.append(u)
            case false?: keep.append(u)
            case nil: break
            }
        }
        pendingNodeUpdates = keep
        return Self.merged(take)
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

    /// Node-in-job changes are written in batches, not one transaction per message: the engine's
    /// tick (five times a second while any wait) writes what gathered since the last one.
    func flush() {
        let batch = takePendingNodeUpdates()
        guard !batch.isEmpty else { return }
        let store = self.store
        enqueueWrite(jobs: Self.jobIds(batch), "\(batch.count) node update(s)", rows: batch.count) { try await store.applyNodeUpdates(batch) }
    }

    /// The distinct jobs of a batch of node updates.
    static func jobIds(_ updates: [JobNodeUpdate]) -> [String] {
        var seen = Set<String>()
        return updates.compactMap { seen.insert($0.jobId).inserted ? $0.jobId : nil }
    }

    /// Queues a store write for `jobs`: after their earlier writes, retried until it succeeds.
    func enqueueWrite(jobs: [String], _ what: String, rows: Int = 1, _ op: @escaping @Sendable () async throws -> Void) {
        writer.enqueue(jobs: jobs, what, rows: rows, op)
    }

    /// Waits until every store write asked for so far is done, or `timeout` passes (tests, shutdown).
    @discardableResult
    public func drainWrites(timeout: Duration = .seconds(30)) async -> Bool {
        flush()
        return await writer.drain(timeout: timeout)
    }

    /// The store write loop (`JobWriter`); returns after `stopWriter()` once the writes are done.
    public nonisolated func runWriter() async { await writer.run() }

    /// Ends `runWriter` when nothing is left to write (or after its stop timeout).
    public nonisolated func stopWriter() { writer.stop() }

    /// Waits until the job has ended (or `timeout` passes): `GET /jobs/ID?wait=SECONDS`. The
    /// timer is a child task of the caller's, not the engine's.
    public nonisolated func waitUntilFinished(jobId: String, timeout: Duration) async {
        let token = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForEnd(jobId, token) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Whichever came first, the other must end: release this waiter, stop the timer.
            group.cancelAll()
            await self.release(jobId, token)
        }
    }

    func waitForEnd(_ jobId: String, _ token: UUID) async {
        // Cancelled before it got here: `release` may already have run, and found nothing.
        guard !Task.isCancelled, !feedsClosed, let job = jobs[jobId], !job.machine.status.isTerminal else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            job.waiters[token] = c
        }
    }

    /// Readers waiting in `GET /jobs/ID?wait=` now (`/pushy/_status`).
    public var longPolls: Int { jobs.values.reduce(0) { $0 + $1.waiters.count } }

    func release(_ jobId: String, _ token: UUID) {
        jobs[jobId]?.waiters.removeValue(forKey: token)?.resume()
    }

    func wake(_ jobId: String) {
        guard let job = jobs[jobId], !job.waiters.isEmpty else { return }
        let w = job.waiters
        job.waiters = [:]
        for c in w.values { c.resume() }
    }
}
