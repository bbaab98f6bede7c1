import Synchronization

/// Collects a stream's elements on a background task so a test can await "the next one"
/// with a deadline, any number of times, without cancelling the stream.
final class Inbox<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var finished = false
        var waiter: (token: Int, continuation: CheckedContinuation<Element?, Never>)?
        var nextToken = 0
    }

    private let state = Mutex(State())

    init(_ stream: AsyncStream<Element>) {
        Task { [self] in
            for await element in stream { push(element) }
            finish()
        }
    }

    /// For a server transport's batched inbound: each batch's messages in order.
    init(flattening stream: AsyncStream<[Element]>) {
        Task { [self] in
            for await batch in stream { for element in batch { push(element) } }
            finish()
        }
    }

    private func push(_ element: Element) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.buffer.append(element)
            return nil
        }
        waiter?.resume(returning: element)
    }

    private func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume(returning: nil)
    }

    /// True once the stream has finished.
    var isFinished: Bool { state.withLock { $0.finished && $0.buffer.isEmpty } }

    /// The next element, or nil if none arrives within `timeout` or the stream finished.
    func next(within timeout: Duration = .seconds(30)) async -> Element? {
        await withCheckedContinuation { continuation in
            let token: Int? = state.withLock { state in
                if !state.buffer.isEmpty {
                    continuation.resume(returning: state.buffer.removeFirst())
                    return nil
                }
                if state.finished {
                    continuation.resume(returning: nil)
                    return nil
                }
                precondition(state.waiter == nil, "one waiter at a time")
                state.nextToken += 1
                state.waiter = (state.nextToken, continuation)
                return state.nextToken
            }
            guard let token else { return }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                let expired = state.withLock { state -> CheckedContinuation<Element?, Never>? in
                    guard let waiter = state.waiter, waiter.token == token else { return nil }
                    state.waiter = nil
                    return waiter.continuation
                }
                expired?.resume(returning: nil)
            }
        }
    }

    /// The next element matching `predicate`, skipping others, within an overall deadline.
    func next(within timeout: Duration = .seconds(30), where predicate: (Element) -> Bool) async -> Element? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero, let element = await next(within: remaining) else { return nil }
            if predicate(element) { return element }
        }
    }
}
