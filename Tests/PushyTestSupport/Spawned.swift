import CPushySys
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A program to start: its path, arguments, environment (nil: the test's own) and directory.
public struct Command: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]?
    public var directory: String?

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
                directory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
    }

    /// The program's name and arguments, for messages.
    public var displayName: String {
        ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
    }
}

/// A child process started with posix_spawn (not Foundation's `Process`, whose `run()` in Swift
/// 6.3.1 was seen crashing the test process while it listed /proc/self/fd). Its exit is reaped by
/// a thread of its own that blocks in `waitpid`, so nothing blocks the cooperative pool.
///
/// Children stay in the test process's group, so a Ctrl-C at the terminal also ends them, and they
/// get every signal's default action and an empty signal mask.
public final class Spawned: Sendable {
    public enum Exit: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// `waitpid` failed (an errno): how the process ended is not known.
        case unknown(Int32)
        public var description: String {
            switch self {
            case .exited(let c): "exit code \(c)"
            case .signaled(let s): "killed by signal \(s)"
            case .unknown(let e): "ended, how is not known (waitpid: \(String(cString: strerror(e))))"
            }
        }
        /// The exit code, or 128 + the signal (as a shell reports it); -1 when not known.
        public var status: Int32 {
            switch self {
            case .exited(let c): c
            case .signaled(let s): 128 + s
            case .unknown: -1
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let pid: pid_t
    /// Opens when the process has exited and was reaped.
    public let exited = Latch()
    /// How it ended; nil while its pid is still ours to signal (running, or a zombie not yet reaped).
    private let exitState = Mutex<Exit?>(nil)

    /// Starts `command` with `stdin`, `stdout` and `stderr` as its descriptors 0, 1 and 2 (each
    /// above 2, as descriptors the test opened are); every other descriptor of the test process
    /// is closed in the child.
    public init(_ command: Command, stdin: Int32, stdout: Int32, stderr: Int32) throws {
        let argv = [command.executable] + command.arguments
        let envp = command.environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var child: pid_t = 0
        let rc = withCStringArray(argv) { cArgv in
            withOptionalCStringArray(envp) { cEnv in
                if let dir = command.directory {
                    return pushy_spawn_child(command.executable, cArgv, cEnv, dir, stdin, stdout, stderr, &child)
                }
                return pushy_spawn_child(command.executable, cArgv, cEnv, nil, stdin, stdout, stderr, &child)
            }
        }
        guard rc == 0 else {
            throw Failure(description: "cannot start \(command.executable): \(String(cString: strerror(rc)))")
        }
        let pid = child
        self.pid = pid
        Thread.detachNewThread { [self] in
            // Wait without reaping, then reap and record under the lock `signal` takes: a
            // signal is never sent to a pid that was reaped (and may belong to someone else).
            let waited = pushy_wait_exited(pid)
            exitState.withLock { exit in
                var status: Int32 = 0
                var rc: pid_t = -1
                repeat { rc = waitpid(pid, &status, 0) } while rc < 0 && errno == EINTR
                if waited != 0 || rc < 0 {
                    exit = .unknown(waited != 0 ? waited : errno)
                } else {
                    exit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
                }
            }
            exited.open()
        }
    }

    /// How it ended, or nil while it runs.
    public var exit: Exit? { exitState.withLock { $0 } }
    public var isRunning: Bool { !exited.isOpen }

    /// Sends `signal` unless the process has been reaped.
    public func signal(_ signal: Int32) {
        exitState.withLock { exit in
            if exit == nil { kill(pid, signal) }
        }
    }
}

/// A pipe whose both ends are closed on exec (the child gets its end through dup2).
public func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    guard pushy_pipe_cloexec(&fds) == 0 else {
        throw Spawned.Failure(description: "pipe2 failed: \(String(cString: strerror(errno)))")
    }
    return (fds[0], fds[1])
}

/// Opens `path` for the child (read-only, or written and truncated), closed on exec.
public func openForChild(_ path: String, writing: Bool) throws -> Int32 {
    let fd = writing ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw Spawned.Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    return fd
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStringArray<R>(_ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R) -> R {
    guard let strings else { return body(nil) }
    return withCStringArray(strings) { body($0) }
}
