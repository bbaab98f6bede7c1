import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
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

/// A one-time event any number of tasks can await, each with its own deadline; a waiting task
/// that is cancelled stops waiting at once.
final class Latch: Sendable {
    private struct State {
        var open = false
        var next = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var expired: Set<Int> = []
    }

    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(returning: true) }
    }

    var isOpen: Bool { state.withLock { $0.open } }

    /// True once open; false at the deadline or when the task is cancelled.
    func wait(timeout: Duration) async -> Bool {
        let token = state.withLock { s in
            s.next += 1
            return s.next
        }
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            expire(token)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { s in
                    if s.open { return true }
                    if s.expired.remove(token) != nil { return false }
                    s.waiters[token] = c
                    return nil
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            expire(token)
        }
    }

    /// As `wait`, for clean-up that must go on in a cancelled task.
    func waitIgnoringCancellation(timeout: Duration) async -> Bool {
        await Task.detached { await self.wait(timeout: timeout) }.value
    }

    private func expire(_ token: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if let w = s.waiters.removeValue(forKey: token) { return w }
            if !s.open { s.expired.insert(token) }
            return nil
        }
        waiter?.resume(returning: false)
    }
}

/// Waits for `task` to end, at most `timeout`; records an issue naming `what` when it does not
/// (the task is then left behind, cancelled, rather than hanging the run).
@discardableResult
func waitForTask<T: Sendable, E: Error>(_ task: Task<T, E>, _ what: String, timeout: Duration = .seconds(30),
                                        sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
    let done = Latch()
    Task {
        _ = await task.result
        done.open()
    }
    if await done.waitIgnoringCancellation(timeout: timeout) { return true }
    task.cancel()
    Issue.record("\(what) did not end within \(timeout)", sourceLocation: sourceLocation)
    return false
}

/// `task.value`, but at most `timeout`: past it the task is cancelled, an issue is recorded and
/// this throws `ClusterError.timeout` (an unstructured task does not see the test's cancellation).
func value<T: Sendable>(of task: Task<T, any Error>, _ what: String, within timeout: Duration = .seconds(30),
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> T {
    guard await waitForTask(task, what, timeout: timeout, sourceLocation: sourceLocation) else {
        throw ClusterError.timeout(what)
    }
    return try await task.value
}
