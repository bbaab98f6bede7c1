import Foundation
import Logging
import PushyAPIClient
import PushyPostgres
import PushyPostgresTestSupport
import PushyProtocol
import PushyServer
import PushyStore
import Testing

/// Issue 17 point 1: `pushy-server init --postgres URL` and `run` on PostgreSQL with real agents,
/// and a database lost and back while the server runs. Each test has a database (or, for the
/// outage, a whole throwaway cluster) of its own.
@Suite(.serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipReason)))
struct PostgresServerTests {
    static func report(_ line: String) { print("postgres-timing: \(line)") }

    /// The `pushy-server` binary: init writes `postgres_url` to server.json and seeds the
    /// database; `config` shows the URL without its password; a URL that cannot be parsed stops
    /// init before it writes anything.
    @Test func initWithPostgresKeepsTheURLAndSeedsTheDatabase() async throws {
        try await TestPostgres.withDatabase { url in
            var withPassword = url
            withPassword.password = "hunter2"  // the test cluster trusts loopback: any password works
            let dir = NSTemporaryDirectory() + "pushy-pg-init-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let server = TestCluster.binary("pushy-server")

            let bad = try await runTool(server, ["init", "--data-dir", dir, "--no-user-config", "--postgres", "postgres://nobody"], timeout: 60)
            #expect(bad.code != 0)
            #expect(bad.output.contains("postgres_url") && bad.output.contains("expected postgres://USER"), "\(bad.output)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/server.pem"), "init wrote files before checking postgres_url")

            let initRun = try await runTool(server, ["init", "--data-dir", dir, "--no-user-config", "--postgres",
                                                      withPassword.text(showingPassword: true)], timeout: 60)
            #expect(initRun.code == 0, "\(initRun.output)")
            #expect(initRun.output.contains("database:         PostgreSQL \(url.location)"), "\(initRun.output)")
            #expect(!initRun.output.contains("hunter2"), "\(initRun.output)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/pushy.sqlite"))
            let file = try String(contentsOfFile: dir + "/server.json", encoding: .utf8)
            #expect(file.contains("\"postgres_url\""), "\(file)")

            let config = try await runTool(server, ["config", "--data-dir", dir], timeout: 60)
            #expect(config.code == 0, "\(config.output)")
            #expect(config.output.contains("postgres_url") && config.output.contains("pushy:****@"), "\(config.output)")
            #expect(!config.output.contains("hunter2"), "\(config.output)")

            let store = try await PostgresStore.open(url: url, logger: quietLogger)
            let admin = try await store.principal(org: "pushy", name: "admin")
            #expect(admin?.isSuperuser == true)
            #expect(try await store.group(org: "pushy", name: "admins")?.members == [GroupMember(.user, "admin")])
            await store.shutdown()
        }
    }

    /// Real `pushy-server run` and `pushy-client` processes on PostgreSQL: jobs run, their rows
    /// are in the database, and a kill -9 of the server mid-job loses nothing committed (the
    /// unfinished job is crashed at the restart, with its reason).
    @Test func aServerOnPostgresRunsJobsWithRealAgentsAndSurvivesAKill() async throws {
        try await TestPostgres.withDatabase { url in
            let c = try await FaultCluster { $0.postgresURL = url.text(showingPassword: true) }
            do {
                try await c.startServer()
                for n in ["pg1", "pg2"] { try await c.startAgent(n) }
                try await c.waitAvailable(["pg1", "pg2"])
                let done = try await c.runJob("ok", on: ["pg1", "pg2"])
                #expect(done.status == .complete, "\(FaultCluster.describe(done))")
                #expect(done.count(.succeeded) == 2)
                #expect(!FileManager.default.fileExists(atPath: c.dataDir + "/pushy.sqlite"))
                #expect(c.server?.log.contains("pushy.database=PostgreSQL \(url.location)") == true, "\(c.server?.logTail() ?? "")")

                let store = try await PostgresStore.open(url: url, logger: quietLogger)
                // The REST answer comes from memory; the rows follow in the writer's next batch.
                _ = try await waitFor("the finished job's rows", timeout: 30) { () -> Probe<Void> in
                    let job = try await store.job(org: "pushy", id: done.id)?.status
                    let nodes = try await store.jobNodes(jobId: done.id).map(\.status)
                    return job == .complete && nodes == [.succeeded, .succeeded] ? .done(()) : .notYet("\(String(describing: job)) \(nodes)")
                }
                #expect(try await store.node(org: "pushy", name: "pg1") != nil)

                let running = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["pg1", "pg2"]))
                try await c.waitRunning(running, nodes: 2)
                try await c.killServer()
                try await c.startServer()
                try await c.waitAvailable(["pg1", "pg2"], timeout: 60)
                let crashed = try await c.admin.job(running)
                #expect(crashed.status == .crashed, "\(FaultCluster.describe(crashed))")
                #expect(crashed.statusReason == FaultTests.restartReason)
                #expect(try await store.job(org: "pushy", id: running)?.status == .crashed)
                #expect(try await c.admin.job(done.id).status == .complete)
                let next = try await c.runJob("ok", on: ["pg1", "pg2"])
                #expect(next.status == .complete, "\(FaultCluster.describe(next))")
                await store.shutdown()
            } catch {
                await c.shutdown()
                throw error
            }
            await c.shutdown()
        }
    }

    /// The database stops under a running server: REST calls answer 503 with a message naming
    /// PostgreSQL (no 500, no crash) within about connect_timeout; once it is back the server
    /// reconnects by itself and runs the next job, without a restart.
    @Test func aLostDatabaseAnswers503AndTheServerReconnects() async throws {
        let pg = try await PrivateCluster.start()
        do {
            var url = pg.url
            url.connectTimeout = 2
            let c = try await TestCluster { $0.postgresURL = url.text(showingPassword: true) }
            do {
                try await c.startAgent("pg-lost")
                try await c.waitAvailable(["pg-lost"])
                #expect(try await c.admin.jobs().isEmpty)

                try await pg.pause()
                let asked = ContinuousClock.now
                for call in ["list jobs", "start a job"] {
                    do {
                        if call == "list jobs" {
                            _ = try await c.admin.jobs()
                        } else {
                            _ = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["pg-lost"]))
                        }
                        Issue.record("\(call) succeeded with the database down")
                    } catch {
                        #expect((error as? PushyClientError)?.status == 503, "\(call): \(error)")
                        #expect("\(error)".contains("PostgreSQL"), "\(call): \(error)")
                        if call == "list jobs" { Self.report("the 503: \(error)") }
                    }
                }
                Self.report("database down: two REST calls answered 503 in \(ContinuousClock.now - asked)")

                try await pg.resume()
                let resumed = ContinuousClock.now
                try await c.eventually("the server to use the database again", timeout: 60) {
                    (try? await c.admin.jobs()) != nil
                }
                Self.report("database back: REST calls work again after \(ContinuousClock.now - resumed)")
                let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["pg-lost"]))
                let job = try await c.waitFinished(id)
                #expect(job.status == .complete, "\(job)")
                #expect(job.count(.succeeded) == 1)
            } catch {
                await c.shutdown()
                throw error
            }
            await c.shutdown()
        } catch {
            await pg.stop()
            throw error
        }
        await pg.stop()
    }
}

/// A PostgreSQL cluster of the test's own (scripts/pg-test-cluster.sh), for tests that stop the
/// database, which would break every other test on the shared one.
struct PrivateCluster {
    let dir: String
    let url: PostgresURL

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/pg-test-cluster.sh").path
    }

    static func start() async throws -> PrivateCluster {
        // Ours: if this test process is killed, the next start removes the cluster.
        let r = try await runTool("/bin/bash", [script, "start", String(getpid())], timeout: 90)
        func value(_ key: String) -> String? {
            r.output.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        guard r.code == 0, let dir = value("PUSHY_TEST_POSTGRES_DIR"), let url = value("PUSHY_TEST_POSTGRES_URL") else {
            throw TestPostgresError("scripts/pg-test-cluster.sh start failed (exit \(r.code)): \(r.output)")
        }
        return PrivateCluster(dir: dir, url: try PostgresURL(parsing: url))
    }

    /// Stops the server (`pg_ctl stop -m fast`, or `immediate`: connections are closed), keeping the data.
    func pause(mode: String = "fast") async throws {
        let r = try await runTool("/bin/bash", [Self.script, "pause", dir, mode], timeout: 60)
        guard r.code == 0 else { throw TestPostgresError("pausing the cluster failed: \(r.output)") }
    }

    func resume() async throws {
        let r = try await runTool("/bin/bash", [Self.script, "resume", dir], timeout: 90)
        guard r.code == 0 else { throw TestPostgresError("resuming the cluster failed: \(r.output)") }
    }

    func stop() async {
        _ = try? await runTool("/bin/bash", [Self.script, "stop", dir], timeout: 60)
    }
}

/// Warnings and worse only.
let quietLogger: Logger = {
    var l = Logger(label: "pushy-postgres-tests")
    l.logLevel = .warning
    return l
}()
