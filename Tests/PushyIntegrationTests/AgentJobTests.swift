import Foundation
import Logging
import PushyAPIClient
import PushyAgent
import PushyCore
import PushyProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a job carries reaches the process, and what the process does comes back (issue 4):
/// env/dir/file/user, exact captured bytes, tail truncation, live output, abort and timeouts
/// that kill the whole process group, lock whitelist entries. Real server, in-process agents.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AgentJobTests {
    // MARK: Helpers

    /// Starts an in-process agent whose configuration the test adjusts (the cluster's own
    /// `startAgent` only takes flag-style whitelists).
    static func startAgent(_ c: TestCluster, _ name: String, entries: [WhitelistEntry] = [],
                           flags: [String] = [], configure: (inout AgentConfiguration) -> Void = { _ in }) async throws {
        if c.keys[name] == nil { try await c.createNode(name) }
        let all = try entries + flags.map { try WhitelistEntry.parse(flag: $0) }
        var config = AgentConfiguration(serverURL: c.orgURL, nodeName: name, key: c.keys[name]!.0,
                                        whitelist: try Whitelist(entries: all))
        config.tls = c.tls
        config.fileDir = c.dataDir + "/agent-\(name)"
        config.killGracePeriod = 0.5
        configure(&config)
        var logger = Logger(label: "test-agent-\(name)")
        logger.logLevel = .warning
        let runtime = try PushyAgentRuntime(config: config, logger: logger)
        c.agents[name] = Task { await runtime.run() }
        try await c.waitAvailable([name])
    }

    /// Runs a job on one node to its end and returns it.
    static func run(_ c: TestCluster, _ command: String, on node: String, capture: Bool = true, env: [(String, String)]? = nil,
                    dir: String? = nil, user: String? = nil, file: String? = nil, runTimeout: Int? = nil) async throws -> (String, JobView) {
        let id = try await c.admin.startJob(JobRequest(
            command: command, nodes: [node], runTimeout: runTimeout, user: user, dir: dir, env: env, file: file,
            captureOutput: capture))
        return (id, try await c.waitFinished(id))
    }

    /// The captured bytes of a stream and whether the agent truncated them.
    static func output(_ c: TestCluster, _ id: String, _ node: String, _ stream: String = "stdout") async throws -> ([UInt8], Bool) {
        let reply = try await c.admin.send("GET", "pushy/jobs/\(id)/output/\(node)/\(stream)", accept: "application/octet-stream")
        #expect(reply.status == 200)
        let truncated = reply.headers.first { $0.0.lowercased() == "x-pushy-output-truncated" }?.1.lowercased() == "true"
        return (reply.body, truncated)
    }

    static func nodes(_ job: JobView, _ status: NodeJobStatus) -> [String] {
        job.nodes?.first { $0.0 == status }?.1 ?? []
    }

    static func reason(_ job: JobView, _ node: String) -> String? {
        job.nodeReasons?.first { $0.0 == node }?.1
    }

    /// Whether any process of the group is still alive. A member that has exited but was not yet
    /// reaped (a zombie) is not: in containers whose PID 1 never reaps orphans, zombies of
    /// re-parented grandchildren stay forever and keep `kill(-pgid, 0)` succeeding.
    static func groupAlive(_ pgid: pid_t) -> Bool {
        if kill(-pgid, 0) != 0 && errno == ESRCH { return false }
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in procs where entry.allSatisfy(\.isNumber) {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm) ": state, ppid, pgrp.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[2]) == pgid else { continue }
            if fields[0] != "Z" && fields[0] != "X" { return true }
        }
        return false
    }

    /// Reads the pid the job's shell wrote (`echo $$ > FILE`): the job's process group id.
    static func waitForPid(_ c: TestCluster, _ path: String) async throws -> pid_t {
        var pid: pid_t = 0
        try await c.eventually("the job to write its pid") {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            return pid > 0
        }
        return pid
    }

    // MARK: Job parameters

    @Test func envDirAndFileReachTheProcess() async throws {
        let c = try await TestCluster()
        let show = #"show=printf '%s|%s|%s|%s|%s|' "$GREETING" "$CHEF_PUSH_NODE_NAME" "$CHEF_PUSH_JOB_ID" "$(pwd)" "$(stat -c %a "$CHEF_PUSH_JOB_FILE")"; echo "$CHEF_PUSH_JOB_FILE" > "$GREETING_FILE"; cat "$CHEF_PUSH_JOB_FILE""#
        try await c.startAgent("env1", whitelist: [show])
        try await c.waitAvailable(["env1"])
        let dir = c.dataDir + "/work dir"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let marker = c.dataDir + "/jobfile-path"
        let payload: [UInt8] = [0x00, 0xFF, 0x41, 0x0A]
        let (id, job) = try await Self.run(
            c, "show", on: "env1",
            env: [("GREETING", "hi there"), ("GREETING_FILE", marker), ("CHEF_PUSH_NODE_NAME", "spoofed")], dir: dir,
            file: "base64:" + Data(payload).base64EncodedString())
        #expect(job.status == .complete)
        let (out, truncated) = try await Self.output(c, id, "env1")
        let prefix = Array("hi there|env1|\(id)|\(dir)|600|".utf8)
        #expect(Array(out.prefix(prefix.count)) == prefix, "got \(String(decoding: out, as: UTF8.self))")
        #expect(Array(out.dropFirst(prefix.count)) == payload, "the file holds the exact decoded bytes")
        #expect(!truncated)
        let jobFile = try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(jobFile.hasPrefix(c.dataDir + "/agent-env1/pushy_file"))
        try await c.eventually("the job file to be removed") { !FileManager.default.fileExists(atPath: jobFile) }
        await c.shutdown()
    }

    @Test func rawFileAndRenamedEnvironmentKeys() async throws {
        let c = try await TestCluster()
        try await Self.startAgent(c, "strict-env", flags: [#"show=printf '%s|%s|%s|' "$LANG_X" "$CHEF_PUSH_ENV_PATH" "$PATH"; cat "$CHEF_PUSH_JOB_FILE""#]) {
            $0.allowedOverwritableEnvVars = ["LANG_X"]
        }
        let (id, job) = try await Self.run(c, "show", on: "strict-env", env: [("LANG_X", "C"), ("PATH", "/nowhere")],
                                           file: "raw:plain text")
        #expect(job.status == .complete)
        let (out, _) = try await Self.output(c, id, "strict-env")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        #expect(String(decoding: out, as: UTF8.self) == "C|/nowhere|\(path)|plain text",
                "PATH is not in the allowed list: it arrives as CHEF_PUSH_ENV_PATH and the agent's PATH stays")
        await c.shutdown()
    }

    @Test func missingUserOrDirectoryIsNacked() async throws {
        let c = try await TestCluster()
        try await c.startAgent("nack1")
        try await c.waitAvailable(["nack1"])
        let (_, noUser) = try await Self.run(c, "echo", on: "nack1", user: "no-such-user-pushy")
        #expect(noUser.status == .quorumFailed)
        #expect(Self.nodes(noUser, .nacked) == ["nack1"])
        #expect(Self.reason(noUser, "nack1")?.contains("no such user") == true)
        let (_, noDir) = try await Self.run(c, "echo", on: "nack1", dir: "/no/such/dir/pushy")
        #expect(noDir.status == .quorumFailed)
        #expect(Self.reason(noDir, "nack1")?.contains("no such directory") == true)
        await c.shutdown()
    }

    @Test(.enabled(if: getuid() == 0, "running a job as another user needs the agent (this test process) to be root"))
    func jobRunsAsTheRequestedUser() async throws {
        let c = try await TestCluster()
        try await c.startAgent("user1", whitelist: [#"who=id -un; printf '%s' "$HOME""#])
        try await c.waitAvailable(["user1"])
        let (id, job) = try await Self.run(c, "who", on: "user1", user: "nobody")
        #expect(job.status == .complete)
        let (out, _) = try await Self.output(c, id, "user1")
        let home = ProcessRunnerProbe.home(of: "nobody")
        #expect(String(decoding: out, as: UTF8.self) == "nobody\n\(home)")
        let (rootId, _) = try await Self.run(c, "who", on: "user1")
        #expect(String(decoding: try await Self.output(c, rootId, "user1").0, as: UTF8.self).hasPrefix("root\n"))
        await c.shutdown()
    }

    @Test(.enabled(if: getuid() == 0, "running a job as another user needs the agent (this test process) to be root"))
    func jobFileAndDirWorkForTheRequestedUser() async throws {
        let c = try await TestCluster()
        // The test cluster's data directory is private to root; a real file_dir (/tmp/chef-push) is not.
        let fileDir = NSTemporaryDirectory() + "pushy-agent-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: fileDir) }
        try await Self.startAgent(c, "user2", flags: [#"show=id -un; pwd; stat -c %U:%a "$CHEF_PUSH_JOB_FILE"; cat "$CHEF_PUSH_JOB_FILE""#]) {
            $0.fileDir = fileDir
        }
        let (id, job) = try await Self.run(c, "show", on: "user2", dir: "/", user: "nobody", file: "raw:for nobody only")
        #expect(job.status == .complete)
        let text = String(decoding: try await Self.output(c, id, "user2").0, as: UTF8.self)
        #expect(text == "nobody\n/\nnobody:600\nfor nobody only", "got \(text)")
        await c.shutdown()
    }

    // MARK: Captured output

    @Test func captureReturnsExactBytesIncludingEmpty() async throws {
        let c = try await TestCluster()
        try await c.startAgent("bytes1", whitelist: [#"bin=printf '\377\376\000x'"#, "quiet=true"])
        try await c.waitAvailable(["bytes1"])
        let (id, job) = try await Self.run(c, "bin", on: "bytes1")
        #expect(job.status == .complete)
        #expect(try await Self.output(c, id, "bytes1").0 == [0xFF, 0xFE, 0x00, 0x78])
        #expect(try await Self.output(c, id, "bytes1", "stderr").0 == [])
        let (quietId, _) = try await Self.run(c, "quiet", on: "bytes1")
        #expect(try await Self.output(c, quietId, "bytes1").0 == [])
        // Without capture there is nothing to fetch.
        let (noCapture, _) = try await Self.run(c, "bin", on: "bytes1", capture: false)
        let reply = try await c.admin.send("GET", "pushy/jobs/\(noCapture)/output/bytes1/stdout",
                                           accept: "application/octet-stream", allowStatus: [404])
        #expect(reply.status == 404)
        await c.shutdown()
    }

    @Test func hugeOutputKeepsItsTailAndIsFlagged() async throws {
        let c = try await TestCluster()
        try await c.startAgent("big1", whitelist: [
            "big=head -c 5000000 /dev/zero | tr '\\0' a; printf END; printf 'err tail' >&2; exit 4",
        ])
        try await c.waitAvailable(["big1"])
        let (id, job) = try await Self.run(c, "big", on: "big1")
        #expect(job.status == .complete)
        #expect(Self.nodes(job, .failed) == ["big1"], "the exit status survives truncation")
        let (out, truncated) = try await Self.output(c, id, "big1")
        #expect(truncated)
        #expect(out.count > 40_000 && out.count <= 63_000 * 3 / 4, "\(out.count) bytes kept")
        #expect(String(decoding: out.suffix(3), as: UTF8.self) == "END")
        #expect(out.dropLast(3).allSatisfy { $0 == UInt8(ascii: "a") })
        let (err, errTruncated) = try await Self.output(c, id, "big1", "stderr")
        #expect(String(decoding: err, as: UTF8.self) == "err tail", "a short stderr is kept whole")
        #expect(!errTruncated)
        #expect(FileManager.default.fileExists(atPath: c.dataDir + "/agent-big1"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.dataDir + "/agent-big1").isEmpty,
                "the output files are removed")
        await c.shutdown()
    }

    @Test func liveOutputArrivesWhileTheProcessRuns() async throws {
        let c = try await TestCluster()
        try await c.startAgent("live1", whitelist: ["slow=printf 'first '; printf 'oops' >&2; sleep 30; printf never"])
        try await c.waitAvailable(["live1"])
        let id = try await c.admin.startJob(JobRequest(command: "slow", nodes: ["live1"], captureOutput: true))
        // The SSE feed carries it as an output event...
        var event: FeedEvent?
        for try await e in c.admin.jobFeed(id: id, idleTimeout: .seconds(20)) where e.name == "output" {
            event = e
            break
        }
        let data = try #require(event?.data)
        #expect(data["node"]?.stringValue == "live1")
        #expect(data["offset"]?.intValue == 0)
        let stream = data["stream"]?.stringValue
        let text = data["data"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
        #expect((stream == "stdout" && text == "first ") || (stream == "stderr" && text == "oops"))
        // ...and the output endpoint has it while the job is still running.
        try await c.eventually("live stdout") {
            (try? await Self.output(c, id, "live1").0) == Array("first ".utf8)
        }
        #expect(try await Self.output(c, id, "live1", "stderr").0 == Array("oops".utf8))
        #expect(try await c.admin.job(id).status == .running, "the process has not ended")
        _ = try await c.admin.abortJob(id)
        await c.shutdown()
    }

    // MARK: Abort and timeouts kill the process group

    @Test func abortKillsTheWholeProcessGroup() async throws {
        let c = try await TestCluster()
        let pidFile = c.dataDir + "/abort.pid"
        // The shell and its child ignore SIGTERM, so only the SIGKILL after the grace period ends them.
        try await c.startAgent("abort1", whitelist: ["stubborn=trap '' TERM; echo $$ > \(pidFile); sleep 60 & sleep 61; wait"])
        try await c.waitAvailable(["abort1"])
        let id = try await c.admin.startJob(JobRequest(command: "stubborn", nodes: ["abort1"], captureOutput: true))
        let pgid = try await Self.waitForPid(c, pidFile)
        #expect(Self.groupAlive(pgid))
        let view = try await c.admin.abortJob(id)
        #expect(view.status == .aborted)
        try await c.eventually("no process of group \(pgid) alive", timeout: 10) { !Self.groupAlive(pgid) }
        try await c.eventually("the aborted job's files are removed") {
            (try? FileManager.default.contentsOfDirectory(atPath: c.dataDir + "/agent-abort1"))?.isEmpty ?? true
        }
        // The node is free for the next job.
        try await c.waitAvailable(["abort1"])
        await c.shutdown()
    }

    @Test func runTimeoutKillsTheWholeProcessGroup() async throws {
        let c = try await TestCluster()
        let pidFile = c.dataDir + "/timeout.pid"
        try await c.startAgent("slow1", whitelist: ["slow=echo $$ > \(pidFile); sleep 60 & sleep 61"])
        try await c.waitAvailable(["slow1"])
        let (_, job) = try await Self.run(c, "slow", on: "slow1", file: "raw:x", runTimeout: 1)
        #expect(job.status == .timedOut)
        let pgid = try await Self.waitForPid(c, pidFile)
        try await c.eventually("no process of group \(pgid) alive", timeout: 10) { !Self.groupAlive(pgid) }
        try await c.eventually("the job's files are removed") {
            (try? FileManager.default.contentsOfDirectory(atPath: c.dataDir + "/agent-slow1"))?.isEmpty ?? true
        }
        await c.shutdown()
    }

    @Test func agentsOwnRunTimeoutKillsAndReportsFailed() async throws {
        let c = try await TestCluster()
        let pidFile = c.dataDir + "/own-timeout.pid"
        // A negative margin makes the agent's deadline come before the server's (1 s), so the
        // agent-side timeout is what ends the job here.
        try await Self.startAgent(c, "own1", flags: ["slow=trap '' TERM; echo $$ > \(pidFile); sleep 60 & sleep 61"]) {
            $0.runTimeoutMargin = -0.7
        }
        let (_, job) = try await Self.run(c, "slow", on: "own1", runTimeout: 1)
        #expect(job.status == .complete)
        #expect(Self.nodes(job, .failed) == ["own1"])
        let pgid = try await Self.waitForPid(c, pidFile)
        try await c.eventually("no process of group \(pgid) alive", timeout: 10) { !Self.groupAlive(pgid) }
        await c.shutdown()
    }

    // MARK: Lock entries (spec 7.2, 12 point 5)

    @Test func lockEntryNacksWhileHeldAndRunsWhenFree() async throws {
        let c = try await TestCluster(votingTimeout: 5)
        let lockPath = c.dataDir + "/chef-client-running.pid"
        FileManager.default.createFile(atPath: lockPath, contents: Data("4242\n".utf8))
        try await Self.startAgent(c, "lock1", entries: [
            WhitelistEntry(pattern: .exact("locked"), commandLine: "cat \(lockPath)", lock: .path(lockPath)),
            WhitelistEntry(pattern: .exact("default-lock"), commandLine: "true", lock: .defaultLock),
        ]) { $0.lockFile = c.dataDir + "/default.lock" }

        // Another process (here: this one, on its own descriptor) holds the lock.
        let fd = open(lockPath, O_RDWR)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        let (_, held) = try await Self.run(c, "locked", on: "lock1")
        #expect(held.status == .quorumFailed)
        #expect(Self.nodes(held, .nacked) == ["lock1"])
        #expect(Self.reason(held, "lock1")?.contains("lock held: \(lockPath)") == true)
        flock(fd, LOCK_UN)
        close(fd)

        // Free: ack_commit (not the reference client's silence), the job runs, the file is untouched.
        let (id, free) = try await Self.run(c, "locked", on: "lock1")
        #expect(free.status == .complete)
        #expect(String(decoding: try await Self.output(c, id, "lock1").0, as: UTF8.self) == "4242\n")
        // Released once the job started: it can be taken again right away.
        let again = open(lockPath, O_RDWR)
        #expect(flock(again, LOCK_EX | LOCK_NB) == 0)
        close(again)
        let (_, viaDefault) = try await Self.run(c, "default-lock", on: "lock1")
        #expect(viaDefault.status == .complete)
        #expect(FileManager.default.fileExists(atPath: c.dataDir + "/default.lock"))
        await c.shutdown()
    }
}

/// Passwd lookups for expectations.
enum ProcessRunnerProbe {
    static func home(of user: String) -> String {
        guard let pw = getpwnam(user), let dir = pw.pointee.pw_dir else { return "" }
        return String(cString: dir)
    }
}
