import PostgresNIO
import PushyStore

/// A query whose connection the database closed and which was never answered (see
/// `PostgresStore.unlessSilent`): a lost connection, so a read is tried once more on another.
struct SilentConnection: Error, CustomStringConvertible {
    var description: String { "the connection closed and its query was never answered" }
}

extension PostgresStore {
    /// How often a running call looks whether its connection has closed under it.
    static let silencePoll = Duration.milliseconds(500)
    /// How long a call may still wait once its connection has closed, for the client's own
    /// error (the usual case) before it is given up as `SilentConnection`.
    static let silenceGrace = Duration.seconds(2)

    /// Runs `body` on `connection` and returns what it returns, unless the connection closes and
    /// `body` is still waiting `silenceGrace` later: then `SilentConnection` is thrown.
    ///
    /// postgres-nio 1.33.2 can leave a query on a connection the database closed unanswered for
    /// ever: with the database stopped and started again under load, every connection the pool
    /// had lent out hung its query for good (no socket left, `close()` answered, the query still
    /// waiting). A store call stuck like that held the cluster's loops, and so the server's
    /// stop, for ever. `body` runs in a task of its own so the wait can end without it; a body
    /// given up stays behind until it ends by itself (at the latest with the process). The
    /// caller's cancellation is passed on to it.
    static func unlessSilent<T: Sendable>(_ connection: PostgresConnection,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let first = FirstResult<Result<T, any Error>>()
        let work = Task {
            do { first.offer(.success(try await body())) } catch { first.offer(.failure(error)) }
        }
        let watch = Task {
            while true {
                do { try await Task.sleep(for: silencePoll) } catch { return }  // the body ended
                guard connection.isClosed else { continue }
                do { try await Task.sleep(for: silenceGrace) } catch { return }
                first.offer(.failure(SilentConnection()))
                return
            }
        }
        let result = await withTaskCancellationHandler {
            await first.wait()
        } onCancel: {
            work.cancel()
        }
        watch.cancel()
        return try result.get()
    }
}
