import Foundation
import PushyProtocol
import Testing

@testable import PushyCore

/// The agent's job runner (spec 7.3, nack reasons of spec 5.3).
@Suite(.timeLimit(.minutes(2))) struct AgentRunnerTests {
    static let job = "0123456789abcdef0123456789abcdef"
    static let other = "fedcba9876543210fedcba9876543210"
    static let allOK = AgentRunner.Checks(userExists: { _ in true }, directoryExists: { _ in true })

    static func runner() throws -> AgentRunner {
        try AgentRunner(whitelist: Whitelist(entries: [
            WhitelistEntry(pattern: .exact("chef-client"), commandLine: "chef-client -l info"),
            WhitelistEntry(pattern: .exact("locked"), commandLine: "sleep 1", lock: .defaultLock),
        ]))
    }

    static func commit(_ job: String = job, command: String = "chef-client", user: String? = nil, dir: String? = nil,
                       env: JSONValue? = nil, file: String? = nil, capture: Bool? = false) -> ServerMessage {
        ServerMessage(type: .commit, sequence: 1, timestamp: Date(timeIntervalSince1970: 0), jobId: job, server: "s",
                      command: command, user: user, dir: dir, env: env, file: file, capture: capture, runTimeout: 30)
    }

    /// The nack's reason, or nil when the output is not a single nack_commit for `job`.
    static func nackReason(_ out: [AgentRunner.Output]) -> String? {
        guard out.count == 1, case .send(.nackCommit, let j, let reason) = out[0], j == job else { return nil }
        return reason
    }

    @Test func idleCommitIsAckedWithAPlan() throws {
        var r = try Self.runner()
        #expect(r.jobState == .idle)
        #expect(r.jobId == nil)
        let out = r.commit(Self.commit(user: "deploy", dir: "/tmp", env: ["A": "1", "N": 2], file: "raw:hi", capture: true),
                           checks: Self.allOK)
        #expect(out == [.send(.ackCommit, jobId: Self.job, reason: nil)])
        #expect(r.jobState == .committed)
        #expect(r.jobId == Self.job)
        guard case .committed(let plan) = r.state else { Issue.record("not committed"); return }
        #expect(plan.commandLine == "chef-client -l info")
        #expect(plan.user == "deploy")
        #expect(plan.dir == "/tmp")
        #expect(plan.env.map(\.0) == ["A"], "non-string env values are dropped")
        #expect(plan.file == "raw:hi")
        #expect(plan.capture)
        #expect(plan.runTimeout == 30)
        #expect(plan.lock == nil)
    }

    /// `commit_run` (issue 16): an accepted commit starts the job at once, answered `ack_run`
    /// (the lock taken for the vote is let go as for `run`); a refused one is nacked as usual,
    /// and a `run` that follows anyway is acked again.
    @Test func commitRunStartsAtOnce() throws {
        var r = try Self.runner()
        var m = Self.commit(command: "locked")
        m.commitRun = true
        let out = r.commit(m, checks: Self.allOK)
        #expect(r.state == .running(jobId: Self.job))
        guard out.count == 3, case .spawn(let plan) = out[2] else { Issue.record("no spawn: \(out)"); return }
        #expect(out[0] == .send(.ackRun, jobId: Self.job, reason: nil))
        #expect(out[1] == .releaseLock(r.defaultLockPath))
        #expect(plan.commandLine == "sleep 1")
        #expect(r.run(jobId: Self.job) == [.send(.ackRun, jobId: Self.job, reason: nil)])
        var busy = m
        busy.jobId = Self.other
        #expect(r.commit(busy, checks: Self.allOK).first == .send(.nackCommit, jobId: Self.other, reason: "busy: already working on job \(Self.job)"))
        var refused = try Self.runner()
        var unknown = Self.commit(command: "rm -rf /")
        unknown.commitRun = true
        #expect(Self.nackReason(refused.commit(unknown, checks: Self.allOK)) == "not whitelisted: 'rm -rf /'")
        #expect(refused.state == .idle)
    }

    @Test func lockEntryIsCarriedInThePlan() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(command: "locked"), checks: Self.allOK)
        guard case .committed(let plan) = r.state else { Issue.record("not committed"); return }
        #expect(plan.lock == .defaultLock)
    }

    @Test func commitWhileBusyIsNacked() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(Self.other), checks: Self.allOK)
        #expect(Self.nackReason(r.commit(Self.commit(), checks: Self.allOK))?.contains("busy") == true)
        _ = r.run(jobId: Self.other)
        #expect(r.jobState == .running)
        #expect(Self.nackReason(r.commit(Self.commit(), checks: Self.allOK))?.contains("busy") == true)
        #expect(r.jobId == Self.other, "the running job is untouched")
    }

    @Test func notWhitelistedIsNacked() throws {
        var r = try Self.runner()
        let reason = Self.nackReason(r.commit(Self.commit(command: "rm -rf /"), checks: Self.allOK))
        #expect(reason?.contains("whitelist") == true)
        #expect(r.state == .idle)
    }

    @Test func missingUserOrDirectoryIsNacked() throws {
        var r = try Self.runner()
        let noUser = AgentRunner.Checks(userExists: { $0 != "ghost" }, directoryExists: { _ in true })
        let noDir = AgentRunner.Checks(userExists: { _ in true }, directoryExists: { $0 != "/nope" })
        #expect(Self.nackReason(r.commit(Self.commit(user: "ghost"), checks: noUser))?.contains("user") == true)
        #expect(Self.nackReason(r.commit(Self.commit(dir: "/nope"), checks: noDir))?.contains("directory") == true)
        #expect(r.state == .idle)
        // The checks are only asked about values the commit carries.
        #expect(r.commit(Self.commit(user: "deploy"), checks: noUser) == [.send(.ackCommit, jobId: Self.job, reason: nil)])
    }

    @Test(arguments: ["file:x", "RAW:x", "base64", "", "b64:aGk="])
    func badFilePrefixIsNacked(_ file: String) throws {
        var r = try Self.runner()
        #expect(Self.nackReason(r.commit(Self.commit(file: file), checks: Self.allOK))?.contains("file") == true)
        #expect(r.state == .idle)
    }

    @Test func commitWithoutJobIdIsIgnored() throws {
        var r = try Self.runner()
        var m = Self.commit()
        m.jobId = nil
        #expect(r.commit(m, checks: Self.allOK).isEmpty)
        #expect(r.state == .idle)
    }

    @Test func runForTheCommittedJobAcksAndSpawns() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(), checks: Self.allOK)
        guard case .committed(let plan) = r.state else { Issue.record("not committed"); return }
        #expect(r.run(jobId: Self.job) == [.send(.ackRun, jobId: Self.job, reason: nil), .spawn(plan)])
        #expect(r.state == .running(jobId: Self.job))
        // A second run for the same job while running (a server resending one it thought lost)
        // is acked again and changes nothing: no second process (Pushy; the reference nacked it).
        #expect(r.run(jobId: Self.job) == [.send(.ackRun, jobId: Self.job, reason: nil)])
        #expect(r.state == .running(jobId: Self.job))
    }

    @Test func runForAnotherJobOrWhenIdleIsNacked() throws {
        var r = try Self.runner()
        let idle = r.run(jobId: Self.job)
        if case .send(.nackRun, let j, _) = idle.first, idle.count == 1 { #expect(j == Self.job) } else { Issue.record("expected nack_run") }
        #expect(r.state == .idle)
        _ = r.commit(Self.commit(), checks: Self.allOK)
        let wrong = r.run(jobId: Self.other)
        if case .send(.nackRun, let j, _) = wrong.first, wrong.count == 1 { #expect(j == Self.other) } else { Issue.record("expected nack_run") }
        #expect(r.jobState == .committed, "the committed job is kept")
        #expect(r.jobId == Self.job)
    }

    @Test(arguments: [(Int32(0), AgentMessageType.succeeded), (1, .failed), (127, .failed), (-1, .failed)])
    func exitStatusDecidesTheResult(_ status: Int32, _ expected: AgentMessageType) throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(), checks: Self.allOK)
        _ = r.run(jobId: Self.job)
        #expect(r.exited(jobId: Self.other, status: status).isEmpty, "another job's exit is ignored")
        #expect(r.exited(jobId: Self.job, status: status) == [.send(expected, jobId: Self.job, reason: nil)])
        #expect(r.state == .idle)
        #expect(r.exited(jobId: Self.job, status: status).isEmpty, "only once")
    }

    @Test func spawnFailureReportsFailedAndGoesIdle() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(), checks: Self.allOK)
        _ = r.run(jobId: Self.job)
        #expect(r.spawnFailed(jobId: Self.job, reason: "no such file") == [.send(.failed, jobId: Self.job, reason: "no such file")])
        #expect(r.state == .idle)
    }

    @Test func abortWhileRunningKillsAndReportsTheJob() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(), checks: Self.allOK)
        _ = r.run(jobId: Self.job)
        #expect(r.abort() == [.kill(jobId: Self.job), .send(.aborted, jobId: Self.job, reason: nil)])
        #expect(r.state == .idle)
        #expect(r.exited(jobId: Self.job, status: 0).isEmpty, "the killed process's exit is not reported")
    }

    @Test func abortWhileCommittedReportsTheJobWithoutKilling() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(), checks: Self.allOK)
        #expect(r.abort() == [.send(.aborted, jobId: Self.job, reason: nil)])
        #expect(r.state == .idle)
        #expect(r.commit(Self.commit(Self.other), checks: Self.allOK) == [.send(.ackCommit, jobId: Self.other, reason: nil)])
    }

    @Test func abortWhileIdleReportsNull() throws {
        var r = try Self.runner()
        #expect(r.abort() == [.send(.aborted, jobId: nil, reason: nil)])
        #expect(r.state == .idle)
    }
    // MARK: Lock entries (spec 7.2, 12 point 5)

    static func lockRunner() throws -> AgentRunner {
        try AgentRunner(whitelist: Whitelist(entries: [
            WhitelistEntry(pattern: .exact("locked"), commandLine: "sleep 1", lock: .defaultLock),
            WhitelistEntry(pattern: .exact("own"), commandLine: "sleep 1", lock: .path("/run/own.lock")),
        ]), defaultLockPath: "/var/chef/cache/chef-client-running.pid")
    }

    /// Checks whose `tryLock` records the paths asked for and answers with `held`.
    final class LockProbe: @unchecked Sendable {
        var asked: [String] = []
        func checks(held: Bool) -> AgentRunner.Checks {
            AgentRunner.Checks(userExists: { _ in true }, directoryExists: { _ in true }, tryLock: { path in
                self.asked.append(path)
                return held ? "lock held: \(path)" : nil
            })
        }
    }

    @Test func heldLockIsNackedWithThePath() throws {
        var r = try Self.lockRunner()
        let probe = LockProbe()
        let reason = Self.nackReason(r.commit(Self.commit(command: "own"), checks: probe.checks(held: true)))
        #expect(reason == "lock held: /run/own.lock")
        #expect(probe.asked == ["/run/own.lock"])
        #expect(r.state == .idle)
        #expect(r.heldLock == nil)
    }

    @Test func takenLockIsAckedAndReleasedWhenTheJobStarts() throws {
        var r = try Self.lockRunner()
        let probe = LockProbe()
        #expect(r.commit(Self.commit(command: "locked"), checks: probe.checks(held: false))
            == [.send(.ackCommit, jobId: Self.job, reason: nil)])
        #expect(probe.asked == ["/var/chef/cache/chef-client-running.pid"])
        #expect(r.heldLock == "/var/chef/cache/chef-client-running.pid")
        guard case .committed(let plan) = r.state else { Issue.record("not committed"); return }
        #expect(r.run(jobId: Self.job) == [
            .send(.ackRun, jobId: Self.job, reason: nil), .releaseLock("/var/chef/cache/chef-client-running.pid"),
            .spawn(plan),
        ])
        #expect(r.heldLock == nil)
    }

    @Test func abortWhileCommittedReleasesTheLock() throws {
        var r = try Self.lockRunner()
        _ = r.commit(Self.commit(command: "own"), checks: LockProbe().checks(held: false))
        #expect(r.abort() == [.releaseLock("/run/own.lock"), .send(.aborted, jobId: Self.job, reason: nil)])
        #expect(r.heldLock == nil)
    }

    @Test func otherNacksDoNotTakeTheLock() throws {
        var r = try Self.lockRunner()
        let probe = LockProbe()
        var checks = probe.checks(held: false)
        checks.directoryExists = { _ in false }
        #expect(Self.nackReason(r.commit(Self.commit(command: "locked", dir: "/nope"), checks: checks))?
            .contains("directory") == true)
        #expect(probe.asked.isEmpty, "a nacked commit never takes the lock")
        #expect(r.heldLock == nil)
    }

    // MARK: Users, files

    @Test func anotherUserNeedsRoot() throws {
        var r = try Self.runner()
        let notRoot = AgentRunner.Checks(userExists: { _ in true }, directoryExists: { _ in true },
                                         canRunAs: { $0 == "me" })
        #expect(Self.nackReason(r.commit(Self.commit(user: "deploy"), checks: notRoot))
            == "cannot run as deploy: the agent is not root")
        #expect(r.commit(Self.commit(user: "me"), checks: notRoot) == [.send(.ackCommit, jobId: Self.job, reason: nil)])
    }

    @Test func undecodableBase64FileIsNacked() throws {
        var r = try Self.runner()
        #expect(Self.nackReason(r.commit(Self.commit(file: "base64:abc"), checks: Self.allOK))?.contains("base64") == true)
    }

    @Test func fileParameterDecodes() {
        #expect(AgentRunner.decodeFile("raw:héllo\n") == Array("héllo\n".utf8))
        #expect(AgentRunner.decodeFile("raw:") == [])
        #expect(AgentRunner.decodeFile("base64:/wAB") == [0xFF, 0x00, 0x01])
        #expect(AgentRunner.decodeFile("base64:aGVs\nbG8=") == Array("hello".utf8), "line breaks are skipped")
        #expect(AgentRunner.decodeFile("text:x") == nil)
    }

    // MARK: Environment (spec 7.3)

    static func plan(env: [(String, String)]) -> AgentRunner.Plan {
        AgentRunner.Plan(jobId: job, commandLine: "x", lock: nil, user: nil, dir: nil, env: env, file: nil,
                         capture: false, runTimeout: nil)
    }

    @Test func jobEnvIsAddedAndPushVariablesWin() {
        let env = AgentRunner.environment(
            base: ["PATH": "/bin", "CHEF_PUSH_JOB_FILE": "/stale"],
            plan: Self.plan(env: [("PATH", "/opt/bin"), ("A", "1"), ("CHEF_PUSH_NODE_NAME", "fake"), ("CHEF_PUSH_JOB_ID", "x")]),
            nodeName: "web1", allowedOverwritable: nil, jobFile: nil)
        #expect(env == ["PATH": "/opt/bin", "A": "1", "CHEF_PUSH_NODE_NAME": "web1", "CHEF_PUSH_JOB_ID": Self.job])
    }

    @Test func keysOutsideTheAllowedListAreRenamed() {
        let env = AgentRunner.environment(
            base: ["PATH": "/bin"], plan: Self.plan(env: [("PATH", "/opt/bin"), ("LANG", "C")]),
            nodeName: "web1", allowedOverwritable: ["LANG"], jobFile: "/tmp/pushy_file1")
        #expect(env == ["PATH": "/bin", "CHEF_PUSH_ENV_PATH": "/opt/bin", "LANG": "C", "CHEF_PUSH_NODE_NAME": "web1",
                        "CHEF_PUSH_JOB_ID": Self.job, "CHEF_PUSH_JOB_FILE": "/tmp/pushy_file1"])
        let none = AgentRunner.environment(base: [:], plan: Self.plan(env: [("A", "1")]), nodeName: "n",
                                           allowedOverwritable: [], jobFile: nil)
        #expect(none["A"] == nil && none["CHEF_PUSH_ENV_A"] == "1", "an empty list allows nothing")
    }

    // MARK: Run timeout (spec 12 point 2)

    @Test func runTimeoutKillsThenReportsFailedWithTheReason() throws {
        var r = try Self.runner()
        _ = r.commit(Self.commit(), checks: Self.allOK)
        #expect(r.runTimedOut(jobId: Self.job, seconds: 30).isEmpty, "not running yet")
        _ = r.run(jobId: Self.job)
        #expect(r.runTimedOut(jobId: Self.other, seconds: 30).isEmpty)
        #expect(r.runTimedOut(jobId: Self.job, seconds: 30) == [.kill(jobId: Self.job)])
        #expect(r.runTimedOut(jobId: Self.job, seconds: 30).isEmpty, "only once")
        #expect(r.state == .running(jobId: Self.job), "still running until the process is gone")
        #expect(r.exited(jobId: Self.job, status: 0) == [.send(.failed, jobId: Self.job, reason: "run timeout (30 s) reached")])
        #expect(r.state == .idle)
        // The next job is judged by its own exit status.
        _ = r.commit(Self.commit(Self.other), checks: Self.allOK)
        _ = r.run(jobId: Self.other)
        #expect(r.exited(jobId: Self.other, status: 0) == [.send(.succeeded, jobId: Self.other, reason: nil)])
    }
}
