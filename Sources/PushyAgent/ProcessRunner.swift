import CPushySys
import Foundation
import PushyCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs a job's command line with `/bin/sh -c` in its own process group (so abort can kill
/// everything it started), stdout/stderr going to files, and reports the exit on a dedicated
/// thread (blocking `waitpid` must not sit on the cooperative pool).
final class ProcessRunner: Sendable {
    struct Result: Sendable {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    let workDir: String

    init(workDir: String) {
        self.workDir = workDir
        try? FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    /// Starts the plan's command; `done` is called once with its exit status and output.
    func spawn(_ plan: AgentRunner.Plan, environment: [String: String],
               done: @escaping @Sendable (Result) -> Void) throws(SpawnError) -> pid_t {
        let outPath = "\(workDir)/pushy_out_\(plan.jobId)_\(getpid())"
        let errPath = "\(workDir)/pushy_err_\(plan.jobId)_\(getpid())"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // The job must not inherit the agent's sockets, eventfds or pipes.
        pushy_spawn_addclosefrom(&actions, 3)
        if let dir = plan.dir { pushy_spawn_addchdir(&actions, dir) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)

        let argv = ["/bin/sh", "-c", plan.commandLine]
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnv in posix_spawn(&pid, "/bin/sh", &actions, &attr, cArgv, cEnv) }
        }
        guard rc == 0 else { throw SpawnError(description: "cannot start /bin/sh: \(String(cString: strerror(rc)))") }
        let child = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let out = (try? Data(contentsOf: URL(fileURLWithPath: outPath))).map { [UInt8]($0) } ?? []
            let err = (try? Data(contentsOf: URL(fileURLWithPath: errPath))).map { [UInt8]($0) } ?? []
            unlink(outPath)
            unlink(errPath)
            done(Result(status: code, stdout: out, stderr: err))
        }
        return child
    }

    /// SIGTERM to the whole process group, then SIGKILL after `grace` seconds if any is left.
    static func killGroup(_ pid: pid_t, grace: Double) {
        guard pid > 0 else { return }
        kill(-pid, SIGTERM)
        Thread.detachNewThread {
            let deadline = Date().addingTimeInterval(grace)
            while Date() < deadline {
                if kill(-pid, 0) != 0 { return }
                usleep(50_000)
            }
            kill(-pid, SIGKILL)
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
