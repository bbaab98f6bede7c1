import FoundationEssentials
import PushyCore
import PushyProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A job whose process the agent started and has not yet seen exit (or has dropped on abort).
struct RunningJob {
    var handle: ProcessRunner.Handle
    var plan: AgentRunner.Plan
    /// Send `output` messages while the process runs (capture on and the server offers it).
    var live: Bool
    /// Bytes of stdout/stderr already sent live.
    var sent = [0, 0]
    var poller: Task<Void, Never>?
    var timer: Task<Void, Never>?
}

extension PushyAgentRuntime {
    /// Live output is read every this often…
    static let pollInterval = Duration.milliseconds(200)
    /// …in chunks of at most this many bytes (a base64 chunk stays far below the 65,536-byte body limit)…
    static let chunkSize = 16 * 1024
    /// …and at most this many chunks per stream and poll, so a flood of output is paced.
    static let chunksPerPoll = 4
    /// Live output is not read while more than this many messages wait for the socket.
    static let liveBacklogLimit = 8

    /// The commit checks answered for this machine.
    var checks: AgentRunner.Checks {
        let locks = self.locks
        return AgentRunner.Checks(
            userExists: { ProcessRunner.RunAs.lookup($0) != nil },
            directoryExists: { path in
                var isDir = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir
            },
            canRunAs: { user in getuid() == 0 || ProcessRunner.RunAs.lookup(user)?.uid == getuid() },
            tryLock: { locks.tryLock($0) })
    }

    func perform(_ outputs: [AgentRunner.Output], final: CapturedOutput.Final? = nil, exitStatus: Int32? = nil) {
        for o in outputs {
            switch o {
            case .send(let type, let jobId, let reason):
                let isResult = type == .succeeded || type == .failed
                send(type, jobId: jobId, reason: reason) { m in
                    guard isResult else { return }
                    m.exitStatus = exitStatus.map(Int.init)
                    guard let final else { return }
                    m.stdout = final.stdout
                    m.stderr = final.stderr
                    m.outputEncoding = final.encoding
                    if final.stdoutTruncated { m.stdoutTruncated = true }
                    if final.stderrTruncated { m.stderrTruncated = true }
                }
            case .spawn(let plan):
                start(plan)
            case .kill(let jobId):
                killJob(jobId)
            case .releaseLock(let path):
                locks.release(path)
            }
        }
    }

    /// Starts the plan's process: job file, user, environment, output files, timers.
    func start(_ plan: AgentRunner.Plan) {
        stats.jobsRun += 1
        var runAs: ProcessRunner.RunAs?
        var base = ProcessInfo.processInfo.environment
        if let user = plan.user, let who = ProcessRunner.RunAs.lookup(user), who.uid != getuid() {
            runAs = who
            base["HOME"] = who.home
            base["USER"] = who.name
            base["LOGNAME"] = who.name
        }
        var jobFile: String?
        do {
            if let file = plan.file, let bytes = AgentRunner.decodeFile(file) {
                jobFile = try processes.writeJobFile(bytes, owner: runAs)
            }
            let env = AgentRunner.environment(base: base, plan: plan, nodeName: config.nodeName,
                                              allowedOverwritable: config.allowedOverwritableEnvVars, jobFile: jobFile)
            let handle = try processes.spawn(
                jobId: plan.jobId, commandLine: plan.commandLine, environment: env, dir: plan.dir, runAs: runAs,
                capture: plan.capture, jobFile: jobFile
            ) { [weak self] status in
                await self?.processExited(jobId: plan.jobId, status: status)
            }
            var job = RunningJob(handle: handle, plan: plan,
                                 live: plan.capture && serverOffers(NodeConfig.outputStreamFeature))
            if job.live {
                job.poller = Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.pollInterval)
                        await self?.streamOutput(jobId: plan.jobId, final: false)
                    }
                }
            }
            if let seconds = plan.runTimeout, seconds > 0 {
                let delay = max(0, Double(seconds) + config.runTimeoutMargin)
                job.timer = Task { [weak self] in
                    try? await Task.sleep(for: .seconds(delay))
                    guard !Task.isCancelled else { return }
                    await self?.runTimeoutExpired(jobId: plan.jobId, seconds: seconds)
                }
            }
            current = job
            logger.info("job started", metadata: ["pushy.job": "\(plan.jobId)", "pushy.pid": "\(handle.pid)"])
        } catch {
            if let jobFile { unlink(jobFile) }
            perform(runner.spawnFailed(jobId: plan.jobId, reason: "\(error)"))
        }
    }

    func runTimeoutExpired(jobId: String, seconds: Int) {
        logger.warning("run timeout reached; killing the job", metadata: ["pushy.job": "\(jobId)"])
        perform(runner.runTimedOut(jobId: jobId, seconds: seconds))
    }

    /// Kills the job's process group. After an abort the runner is idle: the job is dropped
    /// (its files go when the process is gone); after a timeout its exit is still reported.
    func killJob(_ jobId: String) {
        guard var job = current, job.handle.jobId == jobId else { return }
        processes.terminate(job.handle, grace: config.killGracePeriod)
        job.timer?.cancel()
        job.timer = nil
        if runner.jobId != jobId {
            job.poller?.cancel()
            current = nil
            dropped[jobId] = job.handle
        } else {
            current = job
        }
    }

    /// Kills whatever runs and removes its files (agent shutdown: the exit may never be seen).
    func stopCurrentJob() {
        guard let job = current else { return }
        job.poller?.cancel()
        job.timer?.cancel()
        processes.terminate(job.handle, grace: config.killGracePeriod)
        job.handle.removeFiles()
        current = nil
    }

    /// Sends the output written since the last call as `output` messages (spec 12 point 8), up
    /// to `liveOutputLimit` bytes per stream; `final` drains what is left within that limit.
    func streamOutput(jobId: String, final: Bool) {
        guard var job = current, job.handle.jobId == jobId, job.live else { return }
        // Live chunks wait while the socket is behind or the agent is reconnecting (they are
        // never dropped once sent, so they must not pile up); the final pass sends the rest.
        if !final, (session?.transport.backlog ?? Int.max) > Self.liveBacklogLimit { return }
        let base64 = serverOffers(NodeConfig.binaryOutputFeature)
        let limit = config.liveOutputLimit
        for (index, (name, path)) in [("stdout", job.handle.stdoutPath), ("stderr", job.handle.stderrPath)].enumerated() {
            let available = min(CapturedOutput.size(path), limit)
            var chunks = 0
            while job.sent[index] < available, final || chunks < Self.chunksPerPoll {
                let offset = job.sent[index]
                let bytes = CapturedOutput.read(path, offset: offset, count: min(Self.chunkSize, available - offset))
                guard !bytes.isEmpty else { break }
                send(.output, jobId: jobId, reason: nil) { m in
                    m.stream = name
                    m.offset = offset
                    m.data = CapturedOutput.encodeChunk(bytes, base64: base64)
                    if base64 { m.outputEncoding = "base64" }
                }
                job.sent[index] += bytes.count
                chunks += 1
            }
        }
        current = job
    }

    /// The process ended: report it (with its output) unless it was aborted, then remove its files.
    func processExited(jobId: String, status: Int32) {
        logger.info("job finished", metadata: ["pushy.job": "\(jobId)", "pushy.status": "\(status)"])
        if let handle = dropped.removeValue(forKey: jobId) { handle.removeFiles() }
        guard let job = current, job.handle.jobId == jobId else { return }
        job.poller?.cancel()
        job.timer?.cancel()
        streamOutput(jobId: jobId, final: true)
        current = nil
        var final: CapturedOutput.Final?
        if job.plan.capture {
            final = CapturedOutput.final(stdoutPath: job.handle.stdoutPath, stderrPath: job.handle.stderrPath,
                                    budget: config.maxBodySize, base64: serverOffers(NodeConfig.binaryOutputFeature))
        }
        job.handle.removeFiles()
        perform(runner.exited(jobId: jobId, status: status), final: final, exitStatus: status)
    }
}
