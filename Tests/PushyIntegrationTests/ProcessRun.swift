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
/// awaited through the process's termination handler.
final class ProcessRun: @unchecked Sendable {
    let process: Process
    let name: String
    let stdout: Collector
    let stderr: Collector
    private let exited = Latch()

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

    /// Starts `process` (not yet running) with its stdout and stderr piped to collectors and
    /// stdin from /dev/null.
    init(_ process: Process, name: String? = nil) throws {
        self.process = process
        self.name = name ?? ([process.executableURL?.lastPathComponent ?? "process"] + (process.arguments ?? []))
            .joined(separator: " ")
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [exited] _ in exited.open() }
        try process.run()  // closes the parent's copies of the write ends
        stdout = Collector(out)
        stderr = Collector(err)
    }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { !exited.isOpen }
    func interrupt() { process.interrupt() }

    /// Waits for the process to exit by itself within `timeout`, and for its output to end; at
    /// the deadline (or on cancellation) kills it and records an issue with what it printed.
    func wait(within timeout: Duration = .seconds(120), sourceLocation: SourceLocation = #_sourceLocation) async -> Output {
        var killed = false
        if await !exited.wait(timeout: timeout) {
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
        return Output(status: exited.isOpen ? process.terminationStatus : -1, stdout: stdout.current,
                      stderr: stderr.current, killed: killed)
    }

    /// Asks the process to stop (SIGTERM) and waits up to `timeout` before SIGKILL; records an
    /// issue if even that does not end it.
    func stop(within timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async {
        guard isRunning else { return }
        process.terminate()
        if await exited.wait(timeout: timeout) { return }
        await kill()
        if isRunning { Issue.record("`\(name)` survived SIGKILL", sourceLocation: sourceLocation) }
    }

    /// SIGTERM, two seconds' grace, then SIGKILL; waits (boundedly) for the exit either way.
    private func kill() async {
        let pid = process.processIdentifier
        guard isRunning, pid > 0 else { return }
        Glibc.kill(pid, SIGTERM)
        if await exited.waitIgnoringCancellation(timeout: .seconds(2)) { return }
        Glibc.kill(pid, SIGKILL)
        _ = await exited.waitIgnoringCancellation(timeout: .seconds(5))
    }
}

/// Reads a pipe to its end on a thread of its own, so a test can look at the output so far.
final class Collector: Sendable {
    private let data = Mutex(Data())
    /// Opens at end of file.
    let finished = Latch()

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
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

