import Synchronization
import Testing

// Deadlines for tests that wait on something outside their own task (an unstructured task, a
// callback): Swift Testing's time limit cancels the test, but a wait that ignores cancellation
// would still hang the run. Shared by the test targets.

/// A wait that passed its deadline.
public struct DeadlineError: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration
    public init(what: String, timeout: Duration) {
        self.what = what
        self.timeout = timeout
    }
    public var description: String { "\(what) did not end within \(timeout)" }
}

/// A one-time event any number of tasks can await, each with its own deadline; a waiting task
/// that is cancelled stops waiting at once.
public final class Latch: Sendable {
    private struct State {
        var open = false
        var next = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var expired: Set<Int> = []
    }

    private let state = Mutex(State())

    public init() {}

    public func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(returning: true) }
    }

    public var isOpen: Bool { state.withLock { $0.open } }

    /// True once open; false at the deadline or when the task is cancelled.
    public func wait(timeout: Duration) async -> Bool {
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
    public func waitIgnoringCancellation(timeout: Duration) async -> Bool {
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
public func waitForTask<T: Sendable, E: Error>(_ task: Task<T, E>, _ what: String, timeout: Duration = .seconds(30),
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
/// this throws `DeadlineError` (an unstructured task does not see the test's cancellation).
public func value<T: Sendable>(of task: Task<T, any Error>, _ what: String, within timeout: Duration = .seconds(30),
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> T {
    guard await waitForTask(task, what, timeout: timeout, sourceLocation: sourceLocation) else {
        throw DeadlineError(what: what, timeout: timeout)
    }
    return try await task.value
}

/// `body`'s result, at most `timeout`: past it `body` is cancelled, an issue naming `what` is
/// recorded and this throws `DeadlineError`. `body` runs as a child task, so it is cancelled
/// with the test too; it must end when cancelled (requests, stream reads and sleeps do).
public func withDeadline<T: Sendable>(_ what: String, _ timeout: Duration = .seconds(30),
                                      sourceLocation: SourceLocation = #_sourceLocation,
                                      _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = try await withThrowingTaskGroup(of: DeadlineOutcome<T>.self) { group in
        group.addTask { .done(try await body()) }
        group.addTask {
            try await Task.sleep(for: timeout)
            return .timedOut
        }
        defer { group.cancelAll() }
        return try await group.next() ?? .timedOut
    }
    guard case .done(let value) = outcome else {
        Issue.record("\(what) did not end within \(timeout)", sourceLocation: sourceLocation)
        throw DeadlineError(what: what, timeout: timeout)
    }
    return value
}

private enum DeadlineOutcome<T: Sendable>: Sendable {
    case done(T)
    case timedOut
}

/// Waits until `condition` holds, looking again every few milliseconds: for a state that no
/// event announces. At the deadline records an issue and throws `DeadlineError`.
public func eventually(_ what: String, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
                       _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            throw DeadlineError(what: what, timeout: timeout)
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
