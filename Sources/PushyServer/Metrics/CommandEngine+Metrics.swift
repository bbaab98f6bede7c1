import PushyCore
import PushyProtocol
import PushyZMQ

/// What `/metrics` reads off the engine at scrape time: its running totals and a pass over
/// the sessions (once per scrape, not per message).
struct EngineMetricsSnapshot: Sendable {
    var counters: EngineCounters
    var dropped: [String: Int]
    var agentsConnected = 0
    var agentsAvailable = 0
    /// Connected agents by state: `idle`, `in_job` (held by a job) or `rehab`.
    var agentsByState: [String: Int] = ["idle": 0, "in_job": 0, "rehab": 0]
    var activeJobs = 0
    var jobFeedSubscribers = 0
    var orgFeedSubscribers = 0
    var reconciliations = 0
    var runsResent = 0
    var livenessHeldBack = 0
    var longPolls = 0
}

extension CommandEngine {
    func metricsSnapshot() -> EngineMetricsSnapshot {
        var s = EngineMetricsSnapshot(counters: counters, dropped: dropped)
        s.agentsConnected = sessions.count
        for session in sessions.values {
            let state: String
            if session.machine.availability == .rehab {
                state = "rehab"
            } else if session.machine.held != nil {
                state = "in_job"
            } else {
                state = "idle"
            }
            s.agentsByState[state, default: 0] += 1
            if session.isAvailable { s.agentsAvailable += 1 }
        }
        for job in jobs.values {
            if !job.machine.status.isTerminal { s.activeJobs += 1 }
            s.jobFeedSubscribers += job.subscribers.count
        }
        s.orgFeedSubscribers = orgSubscribers.count
        s.reconciliations = reconciliations
        s.runsResent = runsResent
        s.livenessHeldBack = livenessHeldBack
        s.longPolls = longPolls
        return s
    }
}

extension PushyMetrics {
    /// Brings the scrape-time metrics up to date from the engine, the connection budget and
    /// the job writer.
    func sample(engine: CommandEngine, budget: ConnectionBudget) async {
        guard enabled else { return }
        let e = await engine.metricsSnapshot()
        gauge("pushy_agents_connected", "Agents with a session (heartbeating) now", Double(e.agentsConnected))
        gauge("pushy_agents_available", "Connected agents free to take a job now", Double(e.agentsAvailable))
        for (state, n) in e.agentsByState.sorted(by: { $0.key < $1.key }) {
            gauge("pushy_agents", "Connected agents by state (idle, in_job, rehab)", [("state", state)], Double(n))
        }
        let c = budget.snapshot
        gauge("pushy_connections_open", "ZeroMQ connections held (2 per agent)", Double(c.open))
        gauge("pushy_connections_budget", "Most ZeroMQ connections the server holds before refusing agents", Double(c.budget))
        gauge("pushy_connections_refusing", "1 while new agents are refused (at the budget)", c.refusing ? 1 : 0)
        counter("pushy_connections_refused_total", "Agents refused at the connection budget", total: c.refusedTotal)
        counter("pushy_connections_accept_failures_total", "Connections libzmq failed to accept", total: c.acceptFailures)

        counter("pushy_jobs_started_total", "Jobs started", total: e.counters.jobsStarted)
        for status in JobStatus.allCases where status.isTerminal {
            counter("pushy_jobs_ended_total", "Jobs that reached a final state, by that state",
                    [("status", status.rawValue)], total: e.counters.jobsEnded[status.rawValue] ?? 0)
        }
        gauge("pushy_jobs_active", "Jobs voting or running now", Double(e.activeJobs))
        for (t, n) in e.counters.nodeTransitions {
            counter("pushy_job_node_transitions_total", "Node-in-job status changes, by new status and reason class",
                    [("status", t.status), ("reason", t.reason)], total: n)
        }
        for (type, n) in e.counters.inbound {
            counter("pushy_messages_received_total", "Agent messages checked and handled, by type", [("type", type)], total: n)
        }
        for (type, n) in e.counters.outbound {
            counter("pushy_messages_sent_total", "Messages sent to agents, by type (a heartbeat broadcast counts once)",
                    [("type", type)], total: n)
        }
        for (reason, n) in e.dropped {
            counter("pushy_messages_dropped_total", "Agent messages dropped, by reason", [("reason", reason)], total: n)
        }
        gauge("pushy_sse_subscribers", "Open job status feeds (SSE), by kind", [("feed", "job")], Double(e.jobFeedSubscribers))
        gauge("pushy_sse_subscribers", "Open job status feeds (SSE), by kind", [("feed", "org")], Double(e.orgFeedSubscribers))
        gauge("pushy_long_polls", "Readers waiting in GET /jobs/ID?wait=", Double(e.longPolls))
        counter("pushy_reconciliations_total", "Nodes whose job part ended because a message was lost", total: e.reconciliations)
        counter("pushy_runs_resent_total", "run messages sent again to a node still committed", total: e.runsResent)
        counter("pushy_liveness_held_back_total", "Ticks whose liveness was judged over an interval late", total: e.livenessHeldBack)
        for (reason, n) in engine.refusals.snapshot.byReason {
            counter("pushy_http_refusals_total", "REST requests refused at authentication, by reason", [("reason", reason)], total: n)
        }
        let w = engine.writer.stats
        counter("pushy_store_writes_total", "Job store writes done", total: w.written)
        counter("pushy_store_write_failures_total", "Job store write attempts that failed", total: w.failures)
        gauge("pushy_store_writes_pending", "Job store writes queued or waiting for a retry", Double(w.pending))
        await sampleCluster(engine: engine)
    }
}
