import Logging
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
    /// `body` is still waiting `silenceGrace` later (noticed within `silencePoll`): then
    /// `SilentConnection` is thrown, and said once in the log.
    ///
    /// postgres-nio 1.33.2 can leave a query on a connection the database closed unanswered for
    /// ever: with the database stopped and started again under load, every connection the pool
    /// had lent out hung its query for good (no socket left, `close()` answered, the query still
    /// waiting). A store call stuck like that held the cluster's loops, and so the server's
    /// stop, for ever. `body` runs in a task of its own so the wait can end without it; a body
    /// given up stays behind, with what it holds, until it ends by itself (at the latest with the
    /// process: at most one per pooled connection per database restart). The caller's
    /// cancellation is passed on to the body, but the caller still waits for it (postgres-nio's
    /// queries do not end when cancelled) or for its connection's silence; a half-open
    /// connection that never reports closed is not covered.
    static func unlessSilent<T: Sendable>(_ connection: PostgresConnection, logger: Logger,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let first = FirstResult<Result<T, any Error>>()
        let work = Task {
            do { first.offer(.success(try await body())) } catch { first.offer(.failure(error)) }
        }
        let watch = Task {
            while !connection.isClosed {
                do { try await Task.sleep(for: silencePoll) } catch { return }  // the body ended
            }
            do { try await Task.sleep(for: silenceGrace) } catch { return }
            first.offer(.failure(SilentConnection()))
        }
        let result = await withTaskCancellationHandler {
            await first.wait()
        } onCancel: {
            work.cancel()
        }
        watch.cancel()
        if case .failure(let error) = result, error is SilentConnection {
            logger.warning("a PostgreSQL call was given up: its connection closed and the query was never answered (the call fails as a lost connection)")
        }
        return try result.get()
    }
}
