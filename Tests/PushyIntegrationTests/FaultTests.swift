import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// Issue 11 points 6 and 9: faults under real `pushy-server` and `pushy-client` processes.
/// Heartbeats every 0.5 s, so a silent agent is declared dead ≈ 1.25 s after its last beat
/// (2.5 intervals, docs/decisions.md "Settings"). Times are printed for docs/reliability.md.
///
/// One suite per kind of fault, each serialized (its timings mean something only when its own
/// tests do not compete), the kinds side by side: most of their time is waiting (a 40 s cut,
/// detection times), so in turn they set the whole test run's length.
@Suite(.timeLimit(.minutes(5)))
struct FaultTests {
    static let detectionBound = 10.0
    static let restartReason = "the server restarted while the job was unfinished"

    static func report(_ line: String) { print("fault-timing: \(line)") }
}

extension FaultTests {
    /// Faults: kill -9 of the server mid-job; agents back after a restart.
    @Suite(.serialized) struct ServerKilled {
        @Test func serverKilledMidJobLosesNoCommittedJob() async throws {
            let c = try await FaultCluster()
            do {
                try await c.startServer()
                for n in ["s1", "s2"] { try await c.startAgent(n) }
                try await c.waitAvailable(["s1", "s2"])
                let done = try await c.runJob("ok", on: ["s1", "s2"])
                #expect(done.status == .complete)
                // A 20 s job, so it is still running at the kill however slow the machine (a 3 s one
                // had ended before the kill on a loaded machine).
                let running = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["s1", "s2"]))
                try await c.waitRunning(running, nodes: 2)

                try await c.killServer()
                let killed = Date()
                let restart = try await c.startServer()
                try await c.waitAvailable(["s1", "s2"], timeout: 60)
                let sinceKill = Date().timeIntervalSince(killed)
                FaultTests.report("server kill -9: REST back \(fmt(restart)) s after restart, agents available \(fmt(sinceKill)) s after the kill")

                // The job that had ended is as it was; the unfinished one is crashed, with the reason.
                let before = try await c.admin.job(done.id)
                #expect(before.status == .complete)
                #expect(FaultCluster.nodes(before, .succeeded).sorted() == ["s1", "s2"])
                let crashed = try await c.admin.job(running)
                #expect(crashed.status == .crashed, "\(FaultCluster.describe(crashed))")
                #expect(crashed.statusReason == FaultTests.restartReason)
                #expect(FaultCluster.nodes(crashed, .crashed).sorted() == ["s1", "s2"])
                #expect(FaultCluster.reason(crashed, "s1") == FaultTests.restartReason)
                #expect(Set(try await c.admin.jobs().map(\.id)).isSuperset(of: [done.id, running]))
                #expect(c.server?.log.contains("jobs left unfinished by the previous run are now crashed") == true)

                // The agents dropped the crashed job's command and run the next one.
                let next = try await c.runJob("ok", on: ["s1", "s2"])
                #expect(next.status == .complete, "\(FaultCluster.describe(next))")
                #expect(next.count(.succeeded) == 2)
            } catch {
                Issue.record("\(error)")
            }
            await c.shutdown()
        }

        /// Agents running a long job when the server restarts must come back within 60 s too:
        /// the restarted server has crashed that job already.
        @Test func agentsRunningALongJobReturnAfterServerRestart() async throws {
            let c = try await FaultCluster()
            do {
                try await c.startServer()
                try await c.startAgent("l1")
                try await c.waitAvailable(["l1"])
                let running = try await c.admin.startJob(JobRequest(command: "long", nodes: ["l1"]))
                try await c.waitRunning(running, nodes: 1)
                try await c.killServer()
                let killed = Date()
                try await c.startServer()
                try await c.waitAvailable(["l1"], timeout: 60)
                FaultTests.report("server kill -9 during a long job: agent available \(fmt(Date().timeIntervalSince(killed))) s after the kill")
                #expect(try await c.admin.job(running).status == .crashed)
                #expect(try await c.runJob("ok", on: ["l1"]).count(.succeeded) == 1)
            } catch {
                Issue.record("\(error)")
            }
            await c.shutdown()
        }
    }
}

extension FaultTests {
    /// Faults: kill -9 and SIGSTOP of an agent mid-job.
    @Suite(.serialized) struct AgentFaults {
        @Test func agentKilledMidJobEndsTheJob() async throws {
            let c = try await FaultCluster()
            do {
                try await c.startServer()
                for n in ["k1", "k2"] { try await c.startAgent(n) }
                try await c.waitAvailable(["k1", "k2"])
                let id = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["k1"]))
                try await c.waitRunning(id, nodes: 1)

                try await c.killAgent("k1")
                let (ended, seconds) = try await c.waitEnded(id, timeout: FaultTests.detectionBound)
                FaultTests.report("agent kill -9: job ended \(fmt(seconds)) s after the kill: \(FaultCluster.describe(ended))")
                #expect(FaultCluster.nodes(ended, .crashed) == ["k1"], "\(FaultCluster.describe(ended))")
                #expect(FaultCluster.reason(ended, "k1")?.isEmpty == false)

                // The other agent is unaffected; the killed one, started again, is back and works.
                #expect(try await c.runJob("ok", on: ["k2"]).status == .complete)
                try await c.startAgent("k1")
                let back = try await c.waitAvailable(["k1"], timeout: 30)
                FaultTests.report("agent kill -9: restarted agent available after \(fmt(back)) s")
                let next = try await c.runJob("ok", on: ["k1", "k2"])
                #expect(next.count(.succeeded) == 2, "\(FaultCluster.describe(next))")
            } catch {
                Issue.record("\(error)")
            }
            await c.shutdown()
        }

        // MARK: 3. SIGSTOP of an agent

        @Test func stoppedAgentEndsTheJobAndRecoversAfterSIGCONT() async throws {
            let c = try await FaultCluster()
            do {
                try await c.startServer()
                try await c.startAgent("p1")
                try await c.waitAvailable(["p1"])
                let id = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["p1"]))
                try await c.waitRunning(id, nodes: 1)

                c.agents["p1"]?.signal(SIGSTOP)
                let (ended, seconds) = try await c.waitEnded(id, timeout: FaultTests.detectionBound)
                FaultTests.report("agent SIGSTOP: job ended \(fmt(seconds)) s after the stop: \(FaultCluster.describe(ended))")
                #expect(FaultCluster.nodes(ended, .crashed) == ["p1"], "\(FaultCluster.describe(ended))")
                #expect(FaultCluster.reason(ended, "p1")?.isEmpty == false)
                let down = try await c.admin.nodeState("p1")
                #expect(down.availability == .unavailable || down.status == .offline)

                c.agents["p1"]?.signal(SIGCONT)
                let back = try await c.waitAvailable(["p1"], timeout: 30)
                FaultTests.report("agent SIGSTOP: available again \(fmt(back)) s after SIGCONT")
                let next = try await c.runJob("ok", on: ["p1"])
                #expect(next.status == .complete, "\(FaultCluster.describe(next))")
                #expect(next.count(.succeeded) == 1)
                #expect(c.agents["p1"]?.isRunning == true)
            } catch {
                Issue.record("\(error)")
            }
            await c.shutdown()
        }
    }
}

extension FaultTests {
    /// Faults: the agents' link cut for 40 s (network namespace).
    @Suite(.serialized) struct NetworkCut {
        /// How long the link stays down (issue 11 point 9).
        static let cutSeconds = 40.0

        @Test(.enabled(if: NetworkNamespace.usable,
                       "needs root and `ip netns`: the agents run in a network namespace the test creates"))
        func networkCutEndsJobsAndAgentsReturn() async throws {
            await NetworkNamespace.removeStale()
            let ns = try await NetworkNamespace.create()
            var cluster: FaultCluster?
            do {
                let c = try await FaultCluster(host: ns.hostAddress)
                cluster = c
                try await c.startServer()
                for n in ["n1", "n2"] { try await c.startAgent(n, netns: ns.name) }
                try await c.startAgent("h1")
                let all = ["n1", "n2", "h1"]
                try await c.waitAvailable(all)
                let before = try await c.runJob("ok", on: all)
                #expect(before.count(.succeeded) == 3)
                let hit = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["n1", "n2"]))
                try await c.waitRunning(hit, nodes: 2)

                try await ns.cut()
                let cutAt = Date()
                let (ended, seconds) = try await c.waitEnded(hit, timeout: FaultTests.detectionBound)
                FaultTests.report("network cut: job on the cut agents ended \(fmt(seconds)) s after the cut: \(FaultCluster.describe(ended))")
                #expect(FaultCluster.nodes(ended, .crashed).sorted() == ["n1", "n2"], "\(FaultCluster.describe(ended))")
                #expect(FaultCluster.reason(ended, "n1")?.isEmpty == false)
                // Meanwhile the server serves the rest: the host's agent runs jobs, and a job that
                // names a cut-off node ends with a reason for it.
                let hostJob = try await c.runJob("ok", on: ["h1"])
                #expect(hostJob.count(.succeeded) == 1)
                let mixed = try await c.runJob("ok", on: ["n1", "h1"])
                #expect(FaultCluster.reason(mixed, "n1")?.isEmpty == false, "\(FaultCluster.describe(mixed))")
                FaultTests.report("network cut: job naming a cut node: \(FaultCluster.describe(mixed))")

                // The cut lasts its full length: this is the fault, not a wait for an event.
                try await Task.sleep(until: .now + .seconds(max(0, Self.cutSeconds - Date().timeIntervalSince(cutAt))), clock: .continuous)
                try await ns.restore()
                let back = try await c.waitAvailable(all, timeout: 60)
                FaultTests.report("network cut of \(Int(Self.cutSeconds)) s: agents available \(fmt(back)) s after the link came back")
                #expect(c.agents["n1"]?.isRunning == true && c.agents["n2"]?.isRunning == true)

                let after = try await c.runJob("ok", on: all)
                #expect(after.count(.succeeded) == 3, "\(FaultCluster.describe(after))")
                // Nothing lost: every job is listed, and as it ended.
                #expect(Set(try await c.admin.jobs().map(\.id)) == [before.id, hit, hostJob.id, mixed.id, after.id])
                #expect(try await c.admin.job(before.id).count(.succeeded) == 3)
                #expect(try await c.admin.job(hit).count(.crashed) == 2)
            } catch {
                Issue.record("\(error)")
            }
            await cluster?.shutdown()
            await ns.remove()
        }
    }
}

extension FaultTests {
    /// Faults: the server's store full, then room again.
    @Suite(.serialized) struct StoreFull {
        /// How long the store stays full.
        static let storeOutage = 10.0

        @Test(.enabled(if: SmallFilesystem.usable, "needs root to mount a small tmpfs under the server's data directory"))
        func fullStoreAnswersClearlyKeepsJobsAndCatchesUp() async throws {
            let fs = try await SmallFilesystem.mount(megabytes: 32)
            var cluster: FaultCluster?
            var filled = false
            do {
                let c = try await FaultCluster(dataDir: fs.path + "/data")
                cluster = c
                try await c.startServer()
                try await c.startAgent("f1")
                try await c.waitAvailable(["f1"])
                #expect(try await c.runJob("ok", on: ["f1"]).status == .complete)
                // The job in flight ends only once the disk is full (a 3 s sleep ended before a loaded
                // machine had filled it, and its rows were written before the fault).
                let gate = NSTemporaryDirectory() + "pushy-fault-gate-" + UUID().uuidString
                defer { try? FileManager.default.removeItem(atPath: gate) }
                let inFlight = try await c.admin.startJob(JobRequest(command: "gate", nodes: ["f1"], env: [("GATE", gate)]))
                try await c.waitRunning(inFlight, nodes: 1)

                let bytes = try fs.fill()
                filled = true
                let fullAt = Date()
                FaultTests.report("store full: filled the filesystem with \(bytes / 1024) KB")
                FileManager.default.createFile(atPath: gate, contents: Data())
                // The job in flight still ends (kept in memory, its writes retried).
                let (ended, _) = try await c.waitEnded(inFlight, timeout: 15)
                #expect(ended.status == .complete, "\(FaultCluster.describe(ended))")
                #expect(ended.count(.succeeded) == 1)
                let (reliability, _) = try await waitFor("store write failures to be counted", timeout: 15, logs: c.processes) { () -> Probe<JSONValue> in
                    let r = try await c.admin.status()["reliability"] ?? .null
                    return (r["store_write_failures"]?.doubleValue ?? 0) >= 3 ? .done(r) : .notYet("\(r)")
                }
                FaultTests.report("store full: job in flight ended \(fmt(ended.updatedAt.timeIntervalSince(fullAt))) s after the disk filled; "
                            + "\(fmt(Date().timeIntervalSince(fullAt))) s in: failures \(reliability["store_write_failures"]?.doubleValue ?? 0), "
                            + "pending \(reliability["store_writes_pending"]?.doubleValue ?? 0)")
                #expect((reliability["store_writes_pending"]?.doubleValue ?? 0) > 0)

                // A new job cannot be recorded: a clear 503, at once.
                let asked = Date()
                do {
                    let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["f1"]))
                    Issue.record("a job was accepted while the store was full: \(id)")
                } catch {
                    let took = Date().timeIntervalSince(asked)
                    FaultTests.report("store full: POST /jobs answered in \(fmt(took)) s: \(error)")
                    #expect(error.status == 503, "\(error)")
                    #expect("\(error)".contains("cannot be written"), "\(error)")
                    #expect(took < 5)
                }
                // Reads go on, and the server keeps serving the finished job from memory.
                #expect(try await c.admin.nodeStates().contains { $0.nodeName == "f1" })
                #expect(try await c.admin.job(inFlight).status == .complete)
                #expect(c.server?.isRunning == true)

                // Keep the store full long enough for the retries to reach their longest backoff (2 s),
                // checking all along that the REST API answers and the server runs.
                _ = try await waitFor("the outage to last \(Int(Self.storeOutage)) s", timeout: Self.storeOutage + 10, logs: c.processes) { () -> Probe<Void> in
                    guard c.server?.isRunning == true else { throw FaultError.setup("the server exited") }
                    let r = try await c.admin.status()["reliability"] ?? .null
                    return Date().timeIntervalSince(fullAt) >= Self.storeOutage ? .done(()) : .notYet("\(r)")
                }
                try fs.free()
                filled = false
                let outage = Date().timeIntervalSince(fullAt)
                let (_, caughtUp) = try await waitFor("pending store writes to land", timeout: 20, logs: c.processes) { () -> Probe<Void> in
                    let r = try await c.admin.status()["reliability"] ?? .null
                    return r["store_writes_pending"]?.doubleValue == 0 ? .done(()) : .notYet("\(r)")
                }
                FaultTests.report("store full for \(fmt(outage)) s: pending writes landed \(fmt(caughtUp)) s after space was freed")
                #expect(try await c.runJob("ok", on: ["f1"]).status == .complete)

                // The rows really are on disk: after a restart the job is complete, not crashed.
                let (exit, _) = await c.terminateServer(timeout: 15)
                #expect(exit == .exited(0))
                try await c.startServer()
                let reread = try await c.admin.job(inFlight)
                #expect(reread.status == .complete, "\(FaultCluster.describe(reread))")
                #expect(reread.count(.succeeded) == 1)
            } catch {
                Issue.record("\(error)")
            }
            if filled { try? fs.free() }
            await cluster?.shutdown()
            await fs.unmount()
        }
    }
}

extension FaultTests {
    /// Faults: graceful shutdown with work in flight.
    @Suite(.serialized) struct Sigterm {
        /// What is in flight on the REST API when SIGTERM arrives.
        enum InFlight: String { case nothing, longPoll = "a long poll (GET job?wait=20)", orgFeed = "an org feed (SSE)" }

        @Test func sigtermStopsTheServerGracefullyAndTheNextStartIsClean() async throws {
            try await sigterm(with: .nothing)
        }

        @Test func sigtermAnswersALongPollInFlight() async throws {
            try await sigterm(with: .longPoll)
        }

        @Test func sigtermEndsAnOpenFeed() async throws {
            try await sigterm(with: .orgFeed)
        }

        func sigterm(with inFlight: InFlight) async throws {
            let c = try await FaultCluster()
            var pending: Task<String, Never>?
            do {
                try await c.startServer()
                for n in ["t1", "t2"] { try await c.startAgent(n) }
                try await c.waitAvailable(["t1", "t2"])
                let done = try await c.runJob("ok", on: ["t1", "t2"])
                #expect(done.status == .complete)
                let admin = c.admin
                let seen = FeedNames()
                if inFlight == .orgFeed {
                    pending = Task {
                        do {
                            // An id the server does not know: it replays from `start_of_history` at once.
                            for try await e in admin.orgFeed(lastEventID: "none") { seen.add(e.name) }
                            return "the feed ended"
                        } catch { return "the feed failed: \(error)" }
                    }
                }
                let running = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["t2"]))
                try await c.waitRunning(running, nodes: 1)
                if inFlight == .orgFeed {
                    _ = try await waitFor("the org feed to start", timeout: 10) { () -> Probe<Void> in
                        seen.names.contains("start_of_history") ? .done(()) : .notYet("\(seen.names)")
                    }
                }
                if inFlight == .longPoll {
                    pending = Task {
                        do {
                            let v = try await admin.job(running, nodes: false, wait: 20)
                            return "answered: \(v.status.rawValue)"
                        } catch { return "not answered: \(error)" }
                    }
                    // The server counts its waiting readers (`long_polls` in /pushy/_status): SIGTERM
                    // only once the poll is really there (a probe request answered was not enough: the
                    // poll's own connection could still be on its way, "connection refused").
                    _ = try await waitFor("the long poll to reach the server", timeout: 20) { () -> Probe<Void> in
                        let n = try await admin.status()["long_polls"]?.intValue ?? 0
                        return n >= 1 ? .done(()) : .notYet("long_polls \(n)")
                    }
                }

                let firstRun = c.server!
                let (exit, seconds) = await c.terminateServer(timeout: 30)
                FaultTests.report("SIGTERM with \(inFlight.rawValue) in flight: server \(exit.map { "ended (\($0))" } ?? "still running, killed") \(fmt(seconds)) s after the signal")
                #expect(exit == .exited(0), "\(firstRun.logTail())")
                // ≈ 5 s of it is the HTTP server closing idle keep-alive TLS connections (docs/reliability.md).
                #expect(seconds < 8, "graceful shutdown took \(fmt(seconds)) s")
                if let pending {
                    let outcome = await pending.value
                    FaultTests.report("SIGTERM: \(inFlight.rawValue): \(outcome)")
                    #expect(!outcome.hasPrefix("not answered"), "\(outcome)")
                }
                #expect(firstRun.errorLines.isEmpty, "error lines at shutdown:\n\(firstRun.errorLines.joined(separator: "\n"))")

                try await c.startServer()
                let back = try await c.waitAvailable(["t1", "t2"], timeout: 60)
                FaultTests.report("SIGTERM: agents available \(fmt(back)) s after the next start")
                let after = try await c.admin.job(done.id)
                #expect(after.status == .complete)
                #expect(FaultCluster.nodes(after, .succeeded).sorted() == ["t1", "t2"])
                let crashed = try await c.admin.job(running)
                #expect(crashed.status == .crashed, "\(FaultCluster.describe(crashed))")
                #expect(crashed.statusReason == FaultTests.restartReason)
                #expect(try await c.runJob("ok", on: ["t1", "t2"]).count(.succeeded) == 2)
                let secondRun = c.server!
                #expect(secondRun.errorLines.isEmpty, "error lines after a clean stop:\n\(secondRun.errorLines.joined(separator: "\n"))")
            } catch {
                Issue.record("\(error)")
            }
            pending?.cancel()
            await c.shutdown()
        }
    }
}


/// Names of feed events seen, shared with the task reading the feed.
final class FeedNames: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String] = []
    func add(_ name: String) { lock.withLock { seen.append(name) } }
    var names: [String] { lock.withLock { seen } }
}

func fmt(_ seconds: Double) -> String { String(format: "%.1f", seconds) }
