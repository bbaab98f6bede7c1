import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import PushyTestSupport
import Testing

/// A child process the tests started, with a deadline on every wait: its stdout and stderr are
/// collected as they come (so a test can look at the output so far), and a wait that passes its
/// deadline — or whose task is cancelled, e.g. by a suite's `.timeLimit` — sends SIGTERM, then
/// SIGKILL two seconds later, and records an issue with the output captured so far. Nothing
/// blocks the cooperative pool: the pipes are read on threads of their own and the exit is
/// awaited through `Spawned`'s latch (opened by its reaper thread).
final class ProcessRun: @unchecked Sendable {
    let process: Spawned
    let name: String
    let stdout: Collector
    let stderr: Collector

    /// What a finished run left behind.
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: Data
        /// The deadline passed (or the task was cancelled) and the process was killed.
        var killed: Bool
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Starts `command` with its stdout and stderr piped to collectors and stdin from /dev/null.
    init(_ command: Command, name: String? = nil) throws {
        self.name = name ?? command.displayName
        // Every descriptor is closed on every path; the read ends go to the collectors.
        let out = try makePipe()
        var readEnds = [out.read]
        defer { close(out.write) }
        do {
            let err = try makePipe()
            readEnds.append(err.read)
            defer { close(err.write) }
            let null = try openForChild("/dev/null", writing: false)
            defer { close(null) }
            process = try Spawned(command, stdin: null, stdout: out.write, stderr: err.write)
        } catch {
            for fd in readEnds { close(fd) }
            throw error
        }
        stdout = Collector(fd: readEnds[0])
        stderr = Collector(fd: readEnds[1])
    }

    var processIdentifier: Int32 { process.pid }
    var isRunning: Bool { process.isRunning }
    func interrupt() { process.signal(SIGINT) }

    /// Waits for the process to exit by itself within `timeout`, and for its output to end; at
    /// the deadline (or on cancellation) kills it and records an issue with what it printed.
    func wait(within timeout: Duration = .seconds(120), sourceLocation: SourceLocation = #_sourceLocation) async -> Output {
        var killed = false
        if await !process.exited.wait(timeout: timeout) {
            killed = true
            let why = Task.isCancelled ? "the test was cancelled (time limit?)" : "it did not exit within \(timeout)"
            await kill()
            Issue.record("""
                killed `\(name)`: \(why)
                --- stdout so far ---
                \(stdout.text)
                --- stderr so far ---
                \(stderr.text)
                """, sourceLocation: sourceLocation)
        }
        // A grandchild may hold the pipes open; the process's own output is in by now.
        _ = await stdout.finished.wait(timeout: .seconds(5))
        _ = await stderr.finished.wait(timeout: .seconds(5))
        return Output(status: process.exit?.status ?? -1, stdout: stdout.current,
                      stderr: stderr.current, killed: killed)
    }

    /// Asks the process to stop (SIGTERM) and waits up to `timeout` before SIGKILL; records an
    /// issue if even that does not end it.
    func stop(within timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async {
        guard isRunning else { return }
        process.signal(SIGTERM)
        if await process.exited.wait(timeout: timeout) { return }
        await kill()
        if isRunning { Issue.record("`\(name)` survived SIGKILL", sourceLocation: sourceLocation) }
    }

    /// SIGTERM, two seconds' grace, then SIGKILL; waits (boundedly) for the exit either way.
    private func kill() async {
        guard isRunning else { return }
        process.signal(SIGTERM)
        if await process.exited.waitIgnoringCancellation(timeout: .seconds(2)) { return }
        process.signal(SIGKILL)
        _ = await process.exited.waitIgnoringCancellation(timeout: .seconds(5))
    }
}

/// Reads a pipe to its end on a thread of its own, so a test can look at the output so far.
final class Collector: Sendable {
    private let data = Mutex(Data())
    /// Opens at end of file.
    let finished = Latch()

    /// Takes ownership of `fd` (closed at end of file).
    init(fd: Int32) {
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data.withLock { $0.append(chunk) }
            }
            finished.open()
        }
    }

    var current: Data { data.withLock { $0 } }
    var text: String { String(decoding: current, as: UTF8.self) }
}

