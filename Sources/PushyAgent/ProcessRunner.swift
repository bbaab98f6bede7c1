import CPushySys
import FoundationEssentials
import PushyCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs a job's command line with `/bin/sh -c` in its own process group (so abort and timeouts
/// can kill everything it started), optionally as another user, stdout/stderr going to files,
/// and reports the exit on a dedicated thread (blocking `waitpid` must not sit on the
/// cooperative pool).
final class ProcessRunner: ProcessLauncher {
    /// A started job process and the files that belong to it.
    struct Handle: Sendable {
        let jobId: String
        /// Also the process group id.
        let pid: pid_t
        /// The output files, nil when output is not captured (it goes to /dev/null).
        let stdoutPath: String?
        let stderrPath: String?
        /// The job's `file` payload (CHEF_PUSH_JOB_FILE), if any.
        let jobFile: String?

        /// Removes the output files and the job file.
        func removeFiles() {
            for path in [stdoutPath, stderrPath, jobFile].compactMap({ $0 }) { unlink(path) }
        }
    }

    /// A user to run the job as, resolved in the agent (the child only makes system calls).
    struct RunAs: Sendable {
        let name: String
        let uid: uid_t
        let gid: gid_t
        let groups: [gid_t]
        let home: String

        /// Looks the user up (passwd and group databases); nil when unknown.
        static func lookup(_ name: String) -> RunAs? {
            var pw = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: 16_384)
            guard getpwnam_r(name, &pw, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
            let uid = pw.pw_uid, gid = pw.pw_gid
            let home = pw.pw_dir.map { String(cString: $0) } ?? "/"
            var count: Int32 = 64
            var groups = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(name, gid, &groups, &count) < 0 {
                groups = [gid_t](repeating: 0, count: Int(count))
                if getgrouplist(name, gid, &groups, &count) < 0 { count = 0 }
            }
            return RunAs(name: name, uid: uid, gid: gid, groups: Array(groups.prefix(Int(max(count, 0)))), home: home)
        }
    }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    let workDir: String

    init(workDir: String) {
        self.workDir = workDir
        try? FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    /// A fresh name in the work directory, e.g. `pushy_out_<job>_<random>`.
    func newPath(_ prefix: String) -> String {
        "\(workDir)/\(prefix)\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }

    /// Writes the job's `file` payload to a new `pushy_file*` (0600, owned by `owner` when given).
    func writeJobFile(_ bytes: [UInt8], owner: RunAs?) throws(SpawnError) -> String {
        try? FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        for _ in 0..<8 {
            let path = newPath("pushy_file")
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw SpawnError(description: "cannot create the job file \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    unlink(path)
                    throw SpawnError(description: "cannot write the job file \(path): \(String(cString: strerror(errno)))")
                }
                written += n
            }
            if let owner { _ = fchown(fd, owner.uid, owner.gid) }
            return path
        }
        throw SpawnError(description: "cannot create a job file in \(workDir)")
    }

    /// Starts `commandLine`; `done` is called once with the exit status (128+signal when killed).
    /// With `capture` the output goes to files named in the handle, else to /dev/null.
    func spawn(jobId: String, commandLine: String, environment: [String: String], dir: String?, runAs: RunAs?,
               capture: Bool, jobFile: String?,
               done: @escaping @Sendable (Int32) async -> Void) throws(SpawnError) -> Handle {
        try? FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let outPath = capture ? newPath("pushy_out_\(jobId)_") : nil
        let errPath = capture ? newPath("pushy_err_\(jobId)_") : nil
        let argv = ["/bin/sh", "-c", commandLine]
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var failedStep: UnsafePointer<CChar>?
        var pid: pid_t = 0
        let groups = runAs?.groups ?? []
        // C copies that outlive the spawn call (implicit String→pointer bridging would not).
        let sh = strdup("/bin/sh"), out = strdup(outPath ?? "/dev/null"), err = strdup(errPath ?? "/dev/null")
        let cDir = dir.map { strdup($0) } ?? nil
        defer { free(sh); free(out); free(err); free(cDir) }
        let rc = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnv in
                groups.withUnsafeBufferPointer { groupBuffer in
                    cArgv.withUnsafeBufferPointer { a in
                        cEnv.withUnsafeBufferPointer { e in
                            var spec = pushy_job_spawn(
                                path: sh, argv: a.baseAddress, envp: e.baseAddress, stdout_path: out, stderr_path: err,
                                dir: cDir, change_user: runAs == nil ? 0 : 1, uid: runAs?.uid ?? 0,
                                gid: runAs?.gid ?? 0, groups: groupBuffer.baseAddress, ngroups: Int32(groupBuffer.count))
                            return pushy_spawn_job(&spec, &pid, &failedStep)
                        }
                    }
                }
            }
        }
        guard rc == 0 else {
            for path in [outPath, errPath].compactMap({ $0 }) { unlink(path) }
            let step = failedStep.map { String(cString: $0) } ?? "spawn"
            var what = "cannot start the job: \(step) failed: \(String(cString: strerror(rc)))"
            if step == "chdir", let dir { what += " (\(dir)\(runAs.map { " as \($0.name)" } ?? ""))" }
            throw SpawnError(description: what)
        }
        let child = pid
        DetachedThread.start {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            Task { await done(code) }
        }
        return Handle(jobId: jobId, pid: child, stdoutPath: outPath, stderrPath: errPath, jobFile: jobFile)
    }

    func terminate(_ handle: Handle, grace: Double) {
        Self.killGroup(handle.pid, grace: grace)
    }

    /// SIGTERM to the whole process group, then SIGKILL after `grace` seconds if any is left.
    static func killGroup(_ pgid: pid_t, grace: Double) {
        guard pgid > 1 else { return }
        kill(-pgid, SIGTERM)
        DetachedThread.start {
            let deadline = Date().addingTimeInterval(grace)
            while Date() < deadline {
                if kill(-pgid, 0) != 0 && errno == ESRCH { return }
                usleep(50_000)
            }
            kill(-pgid, SIGKILL)
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return body(ptrs)
}
