import Synchronization

/// Runs `work` and waits for it at most `limit`; true when it finished in time. The work runs in
/// a task of its own, so a step that ignores cancellation (a database client closing its
/// connections, a query queued behind a reconnect) cannot hold up a stop: past the limit the
/// caller goes on and the work's task is cancelled; work deaf to that stays behind until it
/// ends by itself (for a stop, at the latest when the process exits). The work does not inherit
/// the caller's cancellation, and the wait does not end early when the caller is cancelled (a
/// stop is often run from a cancelled task).
public func awaitAtMost(_ limit: Duration, _ work: @escaping @Sendable () async -> Void) async -> Bool {
    let first = FirstResult<Bool>()
    let worker = Task {
        await work()
        first.offer(true)
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        first.offer(false)
    }
    let finished = await first.wait()
    timer.cancel()
    if !finished { worker.cancel() }
    return finished
}

/// The first of the results offered, handed to the waiter whether it came before or after it.
/// One waiter: `wait()` is called once.
public final class FirstResult<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, Never>)
        case offered(Value)
        case done
    }
    private let state = Mutex(State.empty)

    public init() {}

    /// Until the first result (at once when it is already there).
    public func wait() async -> Value {
        await withCheckedContinuation { waiter in
            let ready: Value? = state.withLock { s in
                switch s {
                case .offered(let result):
                    s = .done
                    return result
                case .empty:
                    s = .waiting(waiter)
                    return nil
                case .waiting, .done:
                    preconditionFailure("FirstResult has one waiter")
                }
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }

    /// Offers a result; ignored when one came first.
    public func offer(_ result: Value) {
        let waiter: CheckedContinuation<Value, Never>? = state.withLock { s in
            switch s {
            case .empty:
                s = .offered(result)
                return nil
            case .waiting(let w):
                s = .done
                return w
            case .offered, .done:
                return nil
            }
        }
        waiter?.resume(returning: result)
    }
}
