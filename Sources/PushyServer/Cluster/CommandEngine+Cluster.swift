import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// The engine's side of several servers on one database (issue 17 point 2): every hook is a
/// no-op without a cluster (SQLite, in memory), so the single-server path is unchanged.
extension CommandEngine {
    /// Joins the cluster as server `id` (the store has registered it).
    public func attachCluster(id: String, store: any ClusterStore) {
        cluster = EngineCluster(id: id, store: store)
    }

    public var clusterId: String? { cluster?.id }

    // MARK: Presence

    /// A node's session here started, changed availability (`available`) or ended (nil).
    func notePresence(_ key: NodeKey, available: Bool?) {
        cluster?.presenceChanged(key, available: available)
    }

    // MARK: Owner side

    /// Where the named nodes without a session here are held by other live servers (node →
    /// server, available), read at job start.
    func locateRemote(org: String, _ names: [String]) async -> [String: (server: String, available: Bool)] {
        guard let cluster else { return [:] }
        let missing = names.filter { sessions[NodeKey(org: org, node: $0)] == nil }
        guard !missing.isEmpty else { return [:] }
        let store = cluster.store, id = cluster.id
        do {
            var out: [String: (server: String, available: Bool)] = [:]
            // The read joins live leases: its servers are live now, whatever the last look said.
            for p in try await store.presence(org: org, names: missing, excluding: id) {
                cluster.heard.insert(p.server)
                out[p.node] = (p.server, p.available)
            }
            return out
        } catch {
            logger.error("cannot read where other servers' nodes are; they count as offline", metadata: ["pushy.error": "\(error)"])
            return [:]
        }
    }

    /// The server holding `node` of job `job` when it is not this one.
    func remoteServer(of node: String, in job: ActiveJob) -> String? {
        cluster?.placement[job.record.id]?[node]
    }

    /// Splits a job's nodes into those held here and those held elsewhere (by server).
    func splitByServer(_ job: ActiveJob, _ nodes: [String]) -> (local: [String], remote: [String: [String]]) {
        guard let placed = cluster?.placement[job.record.id], !placed.isEmpty else { return (nodes, [:]) }
        var local: [String] = [], remote: [String: [String]] = [:]
        for n in nodes {
            if let s = placed[n] { remote[s, default: []].append(n) } else { local.append(n) }
        }
        return (local, remote)
    }

    func remoteSpec(_ job: ActiveJob) -> RemoteJobSpec {
        let r = job.record
        return RemoteJobSpec(id: r.id, org: r.org, command: r.command, user: r.user, dir: r.dir, env: r.env, file: r.file,
                             capture: r.captureOutput, runTimeout: r.runTimeout)
    }

    func sendRemoteCommit(_ job: ActiveJob, _ remote: [String: [String]]) {
        guard let cluster else { return }
        let spec = remoteSpec(job)
        for (server, nodes) in remote { cluster.send(.commit(spec, nodes: nodes), to: server) }
    }

    func sendRemoteRun(_ job: ActiveJob, _ nodes: [String]) {
        guard let cluster, job.machine.status == .running else { return }
        let (_, remote) = splitByServer(job, nodes.filter { job.machine.nodes[$0] == .ready })
        for (server, nodes) in remote { cluster.send(.run(job: job.record.id, nodes: nodes), to: server) }
    }

    func sendRemoteRehab(_ job: ActiveJob, _ node: String) {
        guard let cluster, let server = remoteServer(of: node, in: job) else { return }
        cluster.send(.rehab(org: job.org, nodes: [node]), to: server)
    }

    func sendRemoteStatus(_ job: ActiveJob, _ node: String, _ status: NodeJobStatus) {
        guard let cluster, let server = remoteServer(of: node, in: job) else { return }
        cluster.send(.status(job: job.record.id, [.init(node: node, status: status)]), to: server)
    }

    /// The job ended: its other servers forget it.
    func sendRemoteEnd(_ job: ActiveJob) {
        guard let cluster, let placed = cluster.placement.removeValue(forKey: job.record.id) else { return }
        for server in Set(placed.values) { cluster.send(.end(job: job.record.id), to: server) }
    }

    // MARK: Holder side

    /// What a node's machine knows of a job another server owns (nil: none such here).
    func remoteFacts(_ jobId: String, org: String, node: String) -> NodeMachine.JobFacts? {
        guard let job = cluster?.remoteJobs[jobId], job.spec.org == org else { return nil }
        return NodeMachine.JobFacts(nodeStatus: job.nodes[node], running: job.running, finished: job.finished)
    }

    func isRemoteJob(_ jobId: String) -> Bool { cluster?.remoteJobs[jobId] != nil }

    /// Other owners' jobs held here for longer than `age` seconds whose rows say they ended:
    /// their `end` never came (dropped while the owner took this server for gone a moment).
    /// Forgotten as an `end` would; a node still in one is sent `abort` (rehab), as when its owner is gone.
    func dropEndedRemoteJobs(olderThan age: Double) async {
        guard let cluster else { return }
        let now = clock()
        let old = cluster.remoteJobs.values.filter { now - $0.since >= age }.map { ($0.spec.org, $0.spec.id) }
        for (org, id) in old {
            guard let status = try? await store.job(org: org, id: id)?.status, status.isTerminal else { continue }
            if let job = self.cluster?.remoteJobs.removeValue(forKey: id) {
                job.finished = true
                logger.notice("another server's job had ended without telling this one; forgotten", metadata: ["pushy.job": "\(id)"])
                // As `serversGone`: a node still in it may still run its command.
                for (node, status) in job.nodes where !status.isTerminal {
                    sendAbort(NodeKey(org: job.spec.org, node: node), stillIn: id, now: clock())
                }
            }
        }
    }

    /// Whether this server is one of several on one database (PostgreSQL).
    var isClustered: Bool { cluster != nil }

    /// A live output chunk of a node held here in another server's job: sent to the owner for
    /// the job's feed, at most `outputCap` bytes per node and stream (the owner keeps no more).
    func relayOutput(_ jobId: String, _ msg: AgentMessage, key: NodeKey) {
        guard let cluster, let job = cluster.remoteJobs[jobId], job.spec.org == key.org, job.running,
              let status = job.nodes[key.node], !status.isTerminal
        else { return drop("output_for_unknown_job", "\(key.org)/\(key.node)") }
        guard let stream = msg.stream, stream == "stdout" || stream == "stderr", let data = msg.data,
              let bytes = msg.bytes(of: data)
        else { return drop("bad_output", "\(key.org)/\(key.node)") }
        let sent = job.outputRelayed[key.node + "/" + stream, default: 0]
        guard sent < config.outputCap else { return }
        job.outputRelayed[key.node + "/" + stream] = sent + bytes.count
        cluster.send(.output(job: jobId, node: key.node, stream: stream, offset: msg.offset ?? sent,
                             data: Data(bytes).base64EncodedString()), to: job.owner)
    }

    /// A node held here said something about another server's job: it goes to the owner. A
    /// result's final output is saved here (output rows are per node).
    func remoteInput(_ jobId: String, _ key: NodeKey, _ input: JobMachine.Input, message: AgentMessage?) {
        guard let cluster, let job = cluster.remoteJobs[jobId], job.spec.org == key.org else { return }
        if let msg = message, JobMachine.isResult(input), msg.stdout != nil || msg.stderr != nil {
            let rec = JobOutputRecord(
                jobId: jobId, node: key.node, stdout: msg.bytes(of: msg.stdout) ?? [], stderr: msg.bytes(of: msg.stderr) ?? [],
                stdoutTruncated: msg.stdoutTruncated ?? false, stderrTruncated: msg.stderrTruncated ?? false)
            let store = self.store
            enqueueWrite(jobs: [jobId], "output of \(key.node) in job \(jobId)") { try await store.saveOutput(rec) }
        }
        cluster.send(.inputs(job: jobId, [.init(node: key.node, input: input)]), to: job.owner)
    }

    /// A node's session here ended: the other owners' jobs it is part of see it go down.
    func remoteNodeDown(_ key: NodeKey, reason: String) {
        guard let cluster else { return }
        for (id, job) in cluster.remoteJobs where job.spec.org == key.org && !job.finished {
            if let s = job.nodes[key.node], !s.isTerminal { remoteInput(id, key, .down(reason: reason), message: nil) }
        }
    }

    /// The resend of a `run` a node seems not to have had, for another server's job.
    func resendRemoteRun(_ jobId: String, _ key: NodeKey, now: Double) {
        guard let job = cluster?.remoteJobs[jobId], job.running, let s = sessions[key] else { return }
        s.machine.runSent(jobId)
        send([key], ServerMessage(type: .run, sequence: 0, timestamp: Date(timeIntervalSince1970: now), jobId: jobId))
    }

    /// A `start` or `job_complete` of a job run here goes to the other live servers' org feeds.
    func relayOrgEvent(org: String, name: String, data: JSONValue) {
        guard let cluster else { return }
        for server in cluster.liveServers where server != cluster.id {
            cluster.send(.orgEvent(org: org, name: name, data: data), to: server)
        }
    }

    /// Another server's job event, in this server's org feed (with this server's `org-N` ids).
    func publishOrgEvent(org: String, name: String, data: JSONValue, at now: Double) {
        orgSequence += 1
        let event = FeedEvent(name: name, id: "org-\(orgSequence)", data: data)
        orgEvents.append((at: now, org: org, event: event))
        expireOrgEvents()
        for (token, s) in orgSubscribers where s.org == org {
            if !s.continuation.deliver(event) { orgSubscribers[token] = nil }
        }
    }

    /// Asks the live server that owns job `id` to abort it (a REST abort that reached this
    /// server); false when no live server other than this one owns it.
    public func relayAbort(org: String, id: String, requestor: String) async -> Bool {
        guard let cluster else { return false }
        let store = cluster.store, me = cluster.id
        guard let owner = try? await store.jobOwner(id: id), owner != me,
              (try? await store.liveServers())?.contains(where: { $0.id == owner }) == true else { return false }
        cluster.heard.insert(owner)  // seen live just now
        cluster.send(.abort(job: id, org: org, by: requestor), to: owner)
        return true
    }

    // MARK: Messages from other servers

    /// Handles a batch of messages from other servers, in order.
    func clusterReceive(_ envelopes: [ClusterEnvelope]) {
        guard let cluster else { return }
        let now = clock()
        for e in envelopes {
            cluster.heard.insert(e.from)
            for m in ClusterMessage.batch(e.body) {
                cluster.received += 1
                handle(m, from: e.from, now: now)
            }
        }
    }

    func handle(_ m: ClusterMessage, from owner: String, now: Double) {
        guard let cluster else { return }
        let date = Date(timeIntervalSince1970: now)
        switch m {
        case .commit(let spec, let nodes):
            let job = cluster.remoteJobs[spec.id] ?? RemoteJob(spec: spec, owner: owner, since: now)
            cluster.remoteJobs[spec.id] = job
            var here: [NodeKey] = []
            // A repeated commit (a message handled twice) leaves nodes it already reached alone.
            for n in nodes where job.nodes[n] == nil {
                let key = NodeKey(org: spec.org, node: n)
                if sessions[key] != nil {
                    job.nodes[n] = .new
                    here.append(key)
                } else {
                    // Moved away (or gone) since the owner looked.
                    cluster.send(.inputs(job: spec.id, [.init(node: n, input: .down(reason: "offline: no session on its server"))]),
                                 to: owner)
                }
            }
            guard !here.isEmpty else { return }
            send(here, ServerMessage(
                type: .commit, sequence: 0, timestamp: date, jobId: spec.id, server: config.advertisedHost,
                command: spec.command, user: spec.user, dir: spec.dir, env: spec.env, file: spec.file,
                capture: spec.capture, runTimeout: spec.runTimeout))
        case .run(let id, let nodes):
            guard let job = cluster.remoteJobs[id] else { return }
            job.running = true
            let keys = nodes.map { NodeKey(org: job.spec.org, node: $0) }.filter { sessions[$0] != nil }
            for key in keys { sessions[key]?.machine.runSent(id) }
            send(keys, ServerMessage(type: .run, sequence: 0, timestamp: date, jobId: id))
        case .status(let id, let changes):
            guard let job = cluster.remoteJobs[id] else { return }
            for c in changes {
                job.nodes[c.node] = c.status
                let key = NodeKey(org: job.spec.org, node: c.node)
                guard let s = sessions[key] else { continue }
                let actions = s.machine.jobChanged(id, to: c.status)
                if !actions.isEmpty { perform(actions, s, key, now: now) }
            }
        case .rehab(let org, let nodes):
            for n in nodes { sendAbort(NodeKey(org: org, node: n), now: now) }
        case .end(let id):
            if let job = cluster.remoteJobs.removeValue(forKey: id) { job.finished = true }
        case .inputs(let id, let inputs):
            guard let job = jobs[id] else { return }
            for i in inputs { forward(job, NodeKey(org: job.org, node: i.node), i.input, now: now) }
        case .abort(let id, let org, let by):
            _ = abortJob(org: org, id: id, requestor: by)
        case .orgEvent(let org, let name, let data):
            publishOrgEvent(org: org, name: name, data: data, at: now)
        case .output(let id, let node, let stream, let offset, let data):
            guard let job = jobs[id], let state = job.machine.nodes[node], state == .running || state == .ready,
                  stream == "stdout" || stream == "stderr", let bytes = Data(base64Encoded: data)
            else { return drop("output_for_unknown_job", "\(owner) \(node)") }
            keepOutput(job, node: node, stream: stream, Array(bytes), offset: offset, relayed: true)
        }
    }

    /// Servers that left the live set (lease expired or stopped): this server's jobs see their
    /// nodes there go down; jobs they owned with nodes here end here (the nodes are reset).
    func serversGone(_ gone: Set<String>) {
        guard let cluster, !gone.isEmpty else { return }
        let now = clock()
        for (id, placed) in cluster.placement {
            guard let job = jobs[id], !job.machine.status.isTerminal else { continue }
            for (node, server) in placed where gone.contains(server) {
                if let s = job.machine.nodes[node], !s.isTerminal {
                    forward(job, NodeKey(org: job.org, node: node), .down(reason: "its server (\(server)) stopped"), now: now)
                }
            }
        }
        for (id, job) in cluster.remoteJobs where gone.contains(job.owner) {
            cluster.remoteJobs[id] = nil
            job.finished = true
            for (node, status) in job.nodes where !status.isTerminal {
                sendAbort(NodeKey(org: job.spec.org, node: node), stillIn: id, now: now)
            }
        }
    }

    /// This server's lease ran out and a peer swept it (the database was out of reach for
    /// longer than `cluster_lease`): the jobs it ran are crashed in the database already, so
    /// they end here (their nodes are reset) rather than go on. Their end is written all the
    /// same: the store leaves a job the sweep crashed as it is, and a job whose rows landed
    /// after the sweep (queued while cut off) would otherwise stay running in the database.
    func clusterLeaseLost() {
        guard cluster != nil else { return }
        let now = clock()
        for job in jobs.values where !job.machine.status.isTerminal {
            logger.error("this server's cluster lease ran out and another server ended its job; stopping it here",
                         metadata: ["pushy.job": "\(job.record.id)"])
            perform(job.machine.abort(now: now, by: "the server (its cluster lease ran out)"), job: job, now: now)
        }
        // Other owners' jobs: this server was taken for dead, so their owners ended its part.
        for (id, job) in cluster?.remoteJobs ?? [:] {
            cluster?.remoteJobs[id] = nil
            job.finished = true
            for (node, status) in job.nodes where !status.isTerminal {
                sendAbort(NodeKey(org: job.spec.org, node: node), stillIn: id, now: now)
            }
        }
    }

    /// Registered (again): every session's presence is written in full, since presence is
    /// otherwise written only on change and a swept server's rows are gone.
    func clusterPresenceSnapshot() {
        guard let cluster else { return }
        for (key, s) in sessions { cluster.presenceChanged(key, available: s.isAvailable) }
    }

    /// The live set seen by the membership loop. Every server this one's jobs still count on
    /// (placements, owners of remote jobs) and not live is gone, each time (not only when it
    /// left between two looks, which a missed look or a restart would hide); handling is idempotent.
    /// Not `judging` (this server was out of touch with the database until lately, so a peer
    /// may simply not be back yet): newly live servers are noted, none is taken for gone.
    func clusterMembership(_ live: Set<String>, judging: Bool = true) {
        guard let cluster else { return }
        guard judging else {
            cluster.liveServers.formUnion(live)
            return
        }
        var gone = cluster.liveServers.subtracting(live)
        for placed in cluster.placement.values { gone.formUnion(placed.values.filter { !live.contains($0) }) }
        gone.formUnion(cluster.remoteJobs.values.map(\.owner).filter { !live.contains($0) })
        // Heard from lately: the look may have been read just before it registered.
        gone.subtract(cluster.heard.union(cluster.heardBefore))
        cluster.liveServers = live
        cluster.heardBefore = cluster.heard
        cluster.heard = []
        serversGone(gone)
    }

    /// Servers this one's sweep has just deleted (their jobs are crashed in the database now):
    /// gone at once, whatever the last look at the live set said, so their jobs' nodes held
    /// here are sent `abort` (rehab) as soon as this server knows, not a lease round (or, for a
    /// server heard from lately, three) later, while such a node, still running the dead
    /// server's command, counted as available. Other servers holding such nodes still learn it
    /// at their next look.
    func clusterSwept(_ swept: Set<String>) {
        guard let cluster, !swept.isEmpty else { return }
        cluster.liveServers.subtract(swept)
        cluster.heard.subtract(swept)
        cluster.heardBefore.subtract(swept)
        serversGone(swept)
    }

    /// What the sender writes next.
    func takeClusterBatch() -> (messages: [(to: String, body: String)], presence: [PresenceChange]) {
        cluster?.take() ?? ([], [])
    }

    /// The sender's wake-ups (nil without a cluster).
    func clusterSignals() -> AsyncStream<Void>? { cluster?.signals }

    /// Every node of `org` seen by this server and the other live ones (`GET node_states`).
    public func clusterNodeStates(org: String) async -> [NodeStateView] {
        var states = nodeStates(org: org)
        guard let cluster else { return states }
        let local = Set(states.map(\.nodeName))
        let store = cluster.store, id = cluster.id
        let remote = (try? await store.presence(org: org, names: nil, excluding: id)) ?? []
        for p in remote where !local.contains(p.node) {
            states.append(NodeStateView(nodeName: p.node, status: .online, availability: p.available ? .available : .unavailable))
        }
        return states.sorted { $0.nodeName < $1.nodeName }
    }

    /// Every node connected to a live server of the cluster (the dashboard's nodes page): this
    /// server's sessions, with their last heartbeat, and the others' presence (no heartbeat time:
    /// presence is written on change, not per heartbeat).
    func clusterNodeActivity(org: String) async -> [String: (available: Bool, lastHeartbeat: Double?)] {
        var activity = nodeActivity(org: org)
        guard let cluster else { return activity }
        let store = cluster.store, id = cluster.id
        for p in (try? await store.presence(org: org, names: nil, excluding: id)) ?? [] where activity[p.node] == nil {
            activity[p.node] = (p.available, nil)
        }
        return activity
    }

    /// One node's state, from another live server when it has no session here.
    public func clusterNodeState(org: String, node: String) async -> NodeStateView {
        let here = nodeState(org: org, node: node)
        guard here.status == .offline, let cluster else { return here }
        let store = cluster.store, id = cluster.id
        guard let p = (try? await store.presence(org: org, names: [node], excluding: id))?.first else { return here }
        return NodeStateView(nodeName: node, status: .online, availability: p.available ? .available : .unavailable)
    }
}
