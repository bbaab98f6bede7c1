import Foundation

/// One timed job of the cluster bench: wall time, CPU per process group, the database's work.
struct ClusterJobRun {
    var nodes = 0
    var seconds = 0.0
    var post = 0.0
    var ok = false
    var status = ""
    var cpu = ClusterCPU()
    var database = DatabaseWork()
}

/// CPU seconds over a span: the server the job was posted to, the other servers, PostgreSQL
/// (the postmaster and its backends; nil with a database the bench did not start), the swarm.
struct ClusterCPU {
    var owner = 0.0
    var others = 0.0
    var postgres: Double?
    var swarm = 0.0
    var seconds = 0.0

    var total: Double { owner + others + (postgres ?? 0) + swarm }
    /// Average % of one core over the span.
    func percent(_ v: Double?) -> String {
        guard let v, seconds > 0 else { return "n/a" }
        return String(format: "%.1f %%", v / seconds * 100)
    }
}

/// Everything the cluster bench measured.
struct ClusterResult {
    var agents = 0
    var servers = 0
    var swarmProcesses = 0
    var interval = 10.0
    var lease = 15.0
    var postgres = ""
    var registerSeconds: Double?
    var registeredVia = ""
    var availableSeconds: Double?
    var connectCPU: ClusterCPU?
    /// Per server: agents held and RSS before agents / after the idle phase / after the jobs.
    var held: [Int] = []
    var rssBaseline: [Int] = []
    var rssIdle: [Int] = []
    var rssAfterJobs: [Int] = []
    var swarmRSS: Int?
    var idleCPU: ClusterCPU?
    var idleDatabase: DatabaseWork?
    var allNode: [ClusterJobRun] = []
    var small: [ClusterJobRun] = []
    var victim: Int?
    var victimAgents = 0
    var failoverFirst: Double?
    var failoverAll: Double?
    var failoverMoved = 0
    var leaseSwept: Double?
    var heldAfterFailover: [Int] = []
    var afterFailover: ClusterJobRun?
    /// Checks that failed (the bench exits 1), and other remarks.
    var failures: [String] = []
    var notes: [String] = []

    static func median(_ v: [Double]) -> Double? { SizeResult.median(v) }
    static func seconds(_ v: Double?) -> String { SizeResult.seconds(v) }
    static func kb(_ v: Double?) -> String { v.map { String(format: "%.1f KB", $0 / 1024) } ?? "—" }

    /// Per server: (RSS − baseline) / agents held, sorted.
    func perAgent(_ rss: [Int]) -> [Double] {
        guard rss.count == held.count, rssBaseline.count == held.count else { return [] }
        return held.indices.compactMap { i in
            held[i] > 0 ? Double(rss[i] - rssBaseline[i]) / Double(held[i]) : nil
        }.sorted()
    }

    func spread(_ v: [Double]) -> String {
        guard let lo = v.first, let hi = v.last else { return "—" }
        return "\(Self.kb(lo)) / \(Self.kb(Self.median(v))) / \(Self.kb(hi))"
    }

    static func counts(_ v: [Int]) -> String {
        guard let lo = v.min(), let hi = v.max() else { return "—" }
        return lo == hi ? "\(lo)" : "\(lo)–\(hi)"
    }

    func jobFigures(_ runs: [ClusterJobRun]) -> String {
        let t = runs.map(\.seconds)
        guard !t.isEmpty else { return "—" }
        return "\(SizeResult.millis(Self.median(t))) / \(SizeResult.millis(t.max())) (\(runs.filter(\.ok).count) of \(runs.count) complete, every node succeeded)"
    }

    /// CPU per job (medians) and the swarm's share of all CPU spent.
    func jobCPU(_ runs: [ClusterJobRun]) -> String {
        guard !runs.isEmpty else { return "—" }
        let owner = Self.median(runs.map(\.cpu.owner)) ?? 0, others = Self.median(runs.map(\.cpu.others)) ?? 0
        let pg = runs.first?.cpu.postgres == nil ? nil : Self.median(runs.compactMap(\.cpu.postgres))
        let swarm = Self.median(runs.map(\.cpu.swarm)) ?? 0
        let total = owner + others + (pg ?? 0) + swarm
        return String(format: "owner %.2f s, other servers %.2f s, PostgreSQL %@, swarm %.2f s — the swarm %.0f %% of the %.2f CPU-s",
                      owner, others, pg.map { String(format: "%.2f s", $0) } ?? "n/a", swarm,
                      total > 0 ? swarm / total * 100 : 0, total)
    }

    func database(_ runs: [ClusterJobRun]) -> String {
        // The run with the median wall time stands for the others.
        guard let mid = runs.sorted(by: { $0.seconds < $1.seconds }).dropFirst(runs.count / 2).first else { return "—" }
        return mid.database.summary
    }

    var markdown: String {
        var rows: [(String, String, String)] = []
        func row(_ a: String, _ b: String, _ c: String = "—") { rows.append((a, b, c)) }
        row("agents available (of \(agents)): servers × agents each, swarm processes",
            "\(held.reduce(0, +)) — \(servers) servers × \(Self.counts(held)), \(swarmProcesses) swarm processes", "100,000 (issue 17)")
        row("client registration (\(registeredVia); not what is measured)", Self.seconds(registerSeconds))
        row("time until all available (swarm start → every node available on a live server)", Self.seconds(availableSeconds))
        if let c = connectCPU {
            row("  CPU meanwhile (average): all servers / PostgreSQL / all swarm processes",
                "\(c.percent(c.owner + c.others)) / \(c.percent(c.postgres)) / \(c.percent(c.swarm)) of one core")
        }
        row("server RSS per agent after the idle phase, (RSS − baseline) / agents held: min / median / max over servers",
            spread(perAgent(rssIdle)))
        row("  the same after the jobs", spread(perAgent(rssAfterJobs)))
        row("  all servers' RSS together after the jobs (a server's baseline before agents: \(SizeResult.megabytes(rssBaseline.reduce(0, +) / max(1, servers))) on average)",
            SizeResult.megabytes(rssAfterJobs.reduce(0, +)))
        row("swarm RSS per agent (whole processes / agents)", Self.kb(swarmRSS.map { Double($0) / Double(max(1, agents)) }))
        if let c = idleCPU {
            row("idle CPU (heartbeats every \(interval) s): all servers / PostgreSQL / all swarm processes",
                "\(c.percent(c.owner + c.others)) / \(c.percent(c.postgres)) / \(c.percent(c.swarm)) of one core")
        }
        if let d = idleDatabase { row("  database meanwhile (leases, membership, message polling)", d.rateSummary) }
        row("job over all \(agents) nodes, POST → complete, p50 / max of \(allNode.count)", jobFigures(allNode), "≤ 10 s (p50)")
        row("  of which POST → 201 (p50)", SizeResult.millis(Self.median(allNode.map(\.post))))
        row("  CPU per job (p50)", jobCPU(allNode))
        row("  database per job (the median run; background included)", database(allNode))
        let smallNodes = small.first?.nodes ?? 0
        row("job over \(smallNodes) nodes (spread over every server) while the cluster holds \(agents), p50 / max of \(small.count)",
            jobFigures(small))
        row("  CPU per job (p50)", jobCPU(small))
        row("  database per job (the median run; background included)", database(small))
        if let v = victim {
            row("SIGKILL server \(v) (\(victimAgents) agents): its agents available on the others, first / all",
                "\(Self.seconds(failoverFirst)) / \(Self.seconds(failoverAll)) (\(failoverMoved) of \(victimAgents))",
                "offline_threshold + 1 interval + splay")
            row("  its lease ran out and a peer swept it after", Self.seconds(leaseSwept), "cluster_lease \(Int(lease)) s")
            row("  agents per live server afterwards", Self.counts(heldAfterFailover))
            if let j = afterFailover {
                row("  job over all \(j.nodes) nodes on the servers left (\(servers - 1)), POST → complete",
                    "\(SizeResult.millis(j.seconds)) (\(j.ok ? "complete, every node succeeded" : j.status))")
            }
        }
        var text = "| measure | figure | target / expected |\n|---|---|---|\n"
        for r in rows { text += "| \(r.0) | \(r.1) | \(r.2) |\n" }
        if let mid = allNode.sorted(by: { $0.seconds < $1.seconds }).dropFirst(allNode.count / 2).first, !mid.database.top.isEmpty {
            text += "\nThe statements of the median all-node job, most calls first:\n\n| calls | rows | statement |\n|---|---|---|\n"
            for s in mid.database.top {
                let q = s.query.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|")
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                text += "| \(s.calls) | \(s.rows) | `\(q.prefix(110))\(q.count > 110 ? "…" : "")` |\n"
            }
        }
        if !failures.isEmpty { text += "\nChecks that failed:\n" + failures.map { "- \($0)\n" }.joined() }
        if !notes.isEmpty { text += "\n" + notes.map { "- \($0)\n" }.joined() }
        return text
    }
}
