import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// `pushy schedule ...` (issue 14) with the real binary over real agents: a one-shot schedule a
/// few seconds ahead runs; a cron schedule lists its next run times (a DST gap among them says
/// so); after a server restart the history still shows the run, once, and nothing ran twice.
/// Each command and what it printed is logged.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ScheduleCLITests {
    func pushy(_ c: TestCluster, _ args: [String]) async throws -> TestCluster.CLIRun { try await c.loggedCLI(args) }

    /// The schedule's runs, read with the REST client (polled: the CLI's log stays readable).
    func history(_ c: TestCluster, _ name: String) async throws -> [JSONValue] {
        try await c.admin.scheduleHistory(name)["runs"]?.arrayValue ?? []
    }

    @Test func aOneShotRunsOnceAndItsHistorySurvivesARestart() async throws {
        let c = try await TestCluster()
        do {
            try await c.startAgent("web1")
            try await c.startAgent("web2")
            try await c.waitAvailable(["web1", "web2"])

            let created = try await pushy(c, ["schedule", "create", "once", "--in", "10s", "--command", "ok", "--node", "web1", "--node", "web2"])
            #expect(created.status == 0 && created.stdout.contains("Created schedule 'once': once at "), "\(created.stderr)")
            let nightly = try await pushy(c, ["schedule", "create", "nightly", "--cron", "30 2 * * *", "--time-zone", "Europe/Berlin",
                                              "--command", "ok", "--node", "web1", "--missed-runs", "run_once"])
            #expect(nightly.status == 0, "\(nightly.stderr)")
            let list = try await pushy(c, ["schedule", "list"])
            #expect(list.status == 0 && list.stdout.contains("nightly") && list.stdout.contains("30 2 * * * (Europe/Berlin)"), "\(list.stdout)")
            let show = try await pushy(c, ["schedule", "show", "nightly"])
            #expect(show.status == 0 && show.stdout.contains("NEXT RUN (UTC)") && show.stdout.contains("02:30 Europe/Berlin"), "\(show.stdout)")

            // The one-shot runs by itself, on the server's clock.
            var runs: [JSONValue] = []
            try await c.eventually("the one-shot schedule's job to finish", timeout: 60) {
                runs = try await history(c, "once")
                return runs.first?["job_status"]?.stringValue.map { $0 != "voting" && $0 != "running" } ?? false
            }
            #expect(runs.count == 1 && runs.first?["outcome"] == "started" && runs.first?["job_status"] == "complete", "\(runs)")
            let jobId = try #require(runs.first?["job"]?.stringValue)
            #expect(try await c.admin.job(jobId).nodes?.first { $0.0 == .succeeded }?.1.sorted() == ["web1", "web2"])

            await c.stopServer()
            try await c.startServer()
            // A probe one-shot after the restart: once it has run, the scheduler has made passes
            // over every schedule since the restart.
            // `--in` is counted from when the CLI starts: on a loaded machine 2 s had passed before
            // the server saw the request ("in the past"), so both one-shots are 10 s ahead.
            let probe = try await pushy(c, ["schedule", "create", "probe", "--in", "10s", "--command", "ok", "--node", "web1"])
            #expect(probe.status == 0, "\(probe.stderr)")
            try await c.eventually("the probe schedule to run after the restart", timeout: 60) {
                try await history(c, "probe").first?["outcome"] == "started"
            }
            let after = try await pushy(c, ["schedule", "history", "once"])
            #expect(after.status == 0 && after.stdout.contains(jobId) && after.stdout.contains("complete"), "\(after.stdout)")
            #expect(try await history(c, "once").count == 1)
            let fromOnce = try await c.admin.jobs().filter { $0.origin == "schedule:once" }
            #expect(fromOnce.map(\.id) == [jobId], "no double run")
            let json = try await pushy(c, ["schedule", "history", "once", "--format", "json"])
            #expect(try JSONValue.parse(json.stdout)["runs"]?.arrayValue?.count == 1)
            let status = try await pushy(c, ["job", "status", jobId])
            #expect(status.status == 0 && status.stdout.contains("schedule:once"), "\(status.stdout) \(status.stderr)")

            let paused = try await pushy(c, ["schedule", "pause", "nightly"])
            #expect(paused.status == 0 && paused.stdout.contains("Paused schedule 'nightly'."))
            let resumed = try await pushy(c, ["schedule", "resume", "nightly"])
            #expect(resumed.status == 0 && resumed.stdout.contains("Resumed schedule 'nightly'. Next run: "))
            let bad = try await pushy(c, ["schedule", "create", "bad", "--cron", "0 25 * * *", "--command", "ok", "--node", "web1"])
            #expect(bad.status != 0 && bad.stderr.contains("invalid hour '25': 25 is outside 0-23"), "\(bad.stderr)")
            let usage = try await pushy(c, ["schedule", "create", "bad", "--cron", "@daily", "--in", "5m", "--command", "ok", "--node", "web1"])
            #expect(usage.status == 2 && usage.stderr.contains("give exactly one of --cron, --at and --in"), "\(usage.stderr)")
            let deleted = try await pushy(c, ["schedule", "delete", "nightly"])
            #expect(deleted.status == 0 && deleted.stdout.contains("Deleted schedule 'nightly'."))
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
