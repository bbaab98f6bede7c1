import Foundation
@testable import PushyAgent
import PushyProtocol
import PushyTestSupport
import Testing

/// The agent's side of a job (spec 7.3) through the real runtime, with the server and the
/// job's process played by the test: what arrives on the command channel, what goes back,
/// which process starts and when it is killed.
@Suite(.timeLimit(.minutes(1))) struct AgentRuntimeTests {
    @Test func aCommittedAndRunJobReportsItsExitAndOutput() async throws {
        let rig = try await AgentRig()
        let process = try await rig.start("job-1", "ok", capture: true, env: ["RELEASE": "42"])
        #expect(process.commandLine == "/bin/true")
        #expect(process.environment["CHEF_PUSH_JOB_ID"] == "job-1")
        #expect(process.environment["CHEF_PUSH_NODE_NAME"] == "web1")
        #expect(process.environment["RELEASE"] == "42")
        #expect(await rig.runtime.jobState == .running)

        try await rig.launcher.exit("job-1", status: 0, stdout: "hello\n")
        let result = try await rig.sent(.succeeded, job: "job-1")
        #expect(result.exitStatus == 0)
        #expect(result.stdout == "hello\n")
        #expect(rig.jobMessages == ["ack_commit", "ack_run", "succeeded"])
        #expect(await rig.runtime.jobState == .idle)
        #expect(await rig.runtime.stats.jobsRun == 1)
        // The output files are gone with the job.
        #expect(!FileManager.default.fileExists(atPath: process.handle.stdoutPath ?? ""))
        await rig.stop()
    }

    @Test func aNonZeroExitIsFailedWithItsStatus() async throws {
        let rig = try await AgentRig()
        try await rig.start("job-1", "fail")
        try await rig.launcher.exit("job-1", status: 3)
        let result = try await rig.sent(.failed, job: "job-1")
        #expect(result.exitStatus == 3)
        #expect(result.stdout == nil)
        await rig.stop()
    }

    @Test func aCommandOutsideTheWhitelistIsNacked() async throws {
        let rig = try await AgentRig()
        rig.server(.commit, job: "job-1", command: "rm -rf /")
        let nack = try await rig.sent(.nackCommit, job: "job-1")
        #expect(nack.reason?.contains("not whitelisted") == true)
        #expect(rig.launcher.spawned.items.isEmpty)
        #expect(await rig.runtime.jobState == .idle)
        await rig.stop()
    }

    @Test func aCommitWhileBusyIsNackedAndTheRunningJobGoesOn() async throws {
        let rig = try await AgentRig()
        try await rig.start("job-1", "long")
        rig.server(.commit, job: "job-2", command: "ok")
        let nack = try await rig.sent(.nackCommit, job: "job-2")
        #expect(nack.reason?.contains("busy") == true)
        #expect(await rig.runtime.jobState == .running)
        try await rig.launcher.exit("job-1", status: 0)
        try await rig.sent(.succeeded, job: "job-1")
        await rig.stop()
    }

    @Test func abortKillsTheRunningJobAndItsExitIsNotReported() async throws {
        let rig = try await AgentRig()
        try await rig.start("job-1", "long")
        rig.server(.abort, job: "job-1")
        try await rig.sent(.aborted, job: "job-1")
        _ = try await rig.launcher.terminated.first("SIGTERM to job-1") { $0 == "job-1" }
        #expect(await rig.runtime.jobState == .idle)
        // The killed process exits (143 = SIGTERM); the server already has `aborted`.
        try await rig.launcher.exit("job-1", status: 143)
        #expect(rig.jobMessages == ["ack_commit", "ack_run", "aborted"])
        // Idle again: the next job runs.
        try await rig.start("job-2", "ok")
        try await rig.launcher.exit("job-2", status: 0)
        try await rig.sent(.succeeded, job: "job-2")
        #expect(!rig.jobMessages.contains("failed"))
        await rig.stop()
    }

    @Test func abortOfACommittedJobAnswersAbortedWithoutStartingIt() async throws {
        let rig = try await AgentRig()
        rig.server(.commit, job: "job-1", command: "ok")
        try await rig.sent(.ackCommit, job: "job-1")
        rig.server(.abort, job: "job-1")
        try await rig.sent(.aborted, job: "job-1")
        rig.server(.run, job: "job-1")
        let nack = try await rig.sent(.nackRun, job: "job-1")
        #expect(nack.reason?.contains("not committed") == true)
        #expect(rig.launcher.spawned.items.isEmpty)
        #expect(rig.launcher.terminated.items.isEmpty)
        await rig.stop()
    }

    @Test func aRepeatedRunIsAckedAgainAndStartsNothing() async throws {
        let rig = try await AgentRig()
        try await rig.start("job-1", "long")
        rig.server(.run, job: "job-1")
        let twice = await rig.transport.sent.wait { sent in
            sent.filter { $0.messageType == .ackRun && $0.jobId == "job-1" }.count == 2
        }
        #expect(twice, "sent: \(rig.jobMessages)")
        #expect(rig.launcher.spawned.items.count == 1)
        #expect(await rig.runtime.jobState == .running)
        await rig.stop()
    }

    @Test func aRunForAnotherJobIsNacked() async throws {
        let rig = try await AgentRig()
        rig.server(.run, job: "job-9")
        let nack = try await rig.sent(.nackRun, job: "job-9")
        #expect(nack.reason == "not committed to this job")
        await rig.stop()
    }

    @Test func theAgentsOwnRunTimeoutKillsTheJobAndReportsFailed() async throws {
        // A margin of -1 s makes a 1-second run_timeout expire at once.
        let rig = try await AgentRig { $0.runTimeoutMargin = -1 }
        try await rig.start("job-1", "long", runTimeout: 1)
        _ = try await rig.launcher.terminated.first("SIGTERM to job-1 at its run timeout") { $0 == "job-1" }
        try await rig.launcher.exit("job-1", status: 143)
        let result = try await rig.sent(.failed, job: "job-1")
        #expect(result.reason == "run timeout (1 s) reached")
        #expect(result.exitStatus == 143)
        await rig.stop()
    }

    @Test func aProcessThatCannotStartIsFailedWithTheReason() async throws {
        let rig = try await AgentRig(refuse: ["/bin/true"])
        rig.server(.commit, job: "job-1", command: "ok")
        try await rig.sent(.ackCommit, job: "job-1")
        rig.server(.run, job: "job-1")
        let result = try await rig.sent(.failed, job: "job-1")
        #expect(result.reason?.contains("spawn failed") == true)
        #expect(await rig.runtime.jobState == .idle)
        await rig.stop()
    }

    @Test func theJobFileReachesTheProcessAndGoesWithIt() async throws {
        let rig = try await AgentRig()
        let process = try await rig.start("job-1", "ok", file: "raw:payload")
        let path = try #require(process.environment["CHEF_PUSH_JOB_FILE"])
        #expect(FileManager.default.contents(atPath: path) == Data("payload".utf8))
        try await rig.launcher.exit("job-1", status: 0)
        try await rig.sent(.succeeded, job: "job-1")
        #expect(!FileManager.default.fileExists(atPath: path))
        await rig.stop()
    }

    @Test func aReplayedOrBadlySignedCommandIsDropped() async throws {
        let rig = try await AgentRig()
        rig.server(.commit, job: "job-1", command: "ok", sequence: 5)
        try await rig.sent(.ackCommit, job: "job-1")
        rig.server(.abort, job: "job-1", sequence: 6)
        try await rig.sent(.aborted, job: "job-1")
        // Same sequence again: a replay. Signed with another key: not from the server.
        rig.server(.commit, job: "job-2", command: "ok", sequence: 6)
        rig.server(.commit, job: "job-3", command: "ok", sequence: 7, key: Array(repeating: 1, count: 32))
        // A good one after them shows they were handled (in order) and dropped.
        rig.server(.commit, job: "job-4", command: "ok", sequence: 8)
        try await rig.sent(.ackCommit, job: "job-4")
        #expect(rig.jobMessages == ["ack_commit", "aborted", "ack_commit"])
        let stats = await rig.runtime.stats
        #expect(stats.replaysDropped == 1)
        #expect(stats.badMessages == 2)
        await rig.stop()
    }

    @Test func theNodeReportCarriesItsRolesAndAttributes() async throws {
        let rig = try await AgentRig {
            $0.roles = ["web"]
            $0.tags = ["blue"]
            $0.environment = "prod"
            $0.attributes = [("rack", "r1")]
        }
        let report = try await rig.link.reports.first("the node report")
        #expect(report.name == "web1")
        #expect(report.roles == ["web"])
        #expect(report.tags == ["blue"])
        #expect(report.environment == "prod")
        #expect(report.normal["rack"]?.stringValue == "r1")
        #expect(rig.link.configFetches.items == ["web1"])
        await rig.stop()
    }

    /// A result the old connection never handed over is sent again, re-signed, on the next one.
    @Test func aResultTheConnectionNeverTookIsSentOnTheNextSession() async throws {
        let rig = try await AgentRig()
        try await rig.start("job-1", "long")
        rig.transport.stopTaking()
        try await rig.launcher.exit("job-1", status: 0)
        let first = try await rig.sent(.succeeded, job: "job-1")
        rig.transport.drop()
        // The agent fetches its config again and opens a new session…
        let next = try await rig.link.transports.first("a second session") { $0 !== rig.transport }
        _ = try await rig.transport.closed.first("the old session closed")
        // …where the result goes again, with the new session's numbering.
        let again = try await next.sent.first("succeeded on the new session") {
            $0.messageType == .succeeded && $0.jobId == "job-1"
        }
        #expect(again.exitStatus == 0)
        #expect(first.sequence == 4 && again.sequence == 1, "a new session numbers from 1")
        #expect(next.sent.items.first?.messageType == .succeeded, "carried-over messages go before the first heartbeat")
        #expect(rig.link.configFetches.items.count == 2)
        #expect(await rig.runtime.stats.messagesCarriedOver == 1)
        await rig.stop()
    }

    /// Spec 4.5's check, with issue 17's back-off: no command message 4 s after connecting →
    /// a new config; while sessions stay silent each waits twice as long; a message resets it.
    /// The ticks are given their time, so nothing here waits for seconds to pass.
    @Test func aSilentCommandChannelIsRefetchedLessAndLessOften() async throws {
        let rig = try await AgentRig()
        var transport = rig.transport
        for (session, limit) in [4.0, 8, 16].enumerated() {
            let generation = await rig.runtime.generation
            let at = try #require(await rig.runtime.session?.configuredAt)
            #expect(await rig.runtime.tick(generation: generation, now: at + limit - 1), "session \(session): silent for less than \(limit) s")
            #expect(await !rig.runtime.tick(generation: generation, now: at + limit + 0.1), "session \(session): silent for \(limit) s")
            let next = session + 1
            try #require(await rig.link.transports.wait { $0.count > next }, "session \(next) opened")
            transport = rig.link.transports.items[next]
            _ = try await transport.sent.first("session \(next)'s first heartbeat") { $0.messageType == .heartbeat }
        }
        #expect(rig.link.configFetches.items.count == 4)
        #expect(await rig.runtime.silence.limit == 32)

        // A command message (the server resets the node) brings back the 4 s.
        let m = ServerMessage(type: .abort, sequence: 1, timestamp: Date(), jobId: nil, server: "pushy.test")
        transport.deliver(command: MessageSigner.hmacFrames(body: m.bodyBytes, key: rig.link.sessionKey.bytes))
        _ = try await transport.sent.first("the answer to the abort") { $0.messageType == .aborted }
        #expect(await rig.runtime.silence.limit == 4)
        await rig.stop()
    }

    @Test func stoppingTheAgentKillsItsJobAndClosesTheSession() async throws {
        let rig = try await AgentRig()
        try await rig.start("job-1", "long")
        await rig.stop()
        #expect(rig.launcher.terminated.items == ["job-1"])
        #expect(rig.transport.closed.items.count == 1)
    }
}
