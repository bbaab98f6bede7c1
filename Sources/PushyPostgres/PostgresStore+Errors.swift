import Foundation
import PostgresNIO
import PushyStore
import _ConnectionPoolModule

/// PostgreSQL's failures as `StoreError`s: constraint violations become `.duplicate` and
/// `.notFound` (a racing writer on another connection or server), everything else `.io` with a
/// message that says in words what is wrong and where, never the SQL or the password.
extension PostgresStore {
    static func storeError(_ error: any Error, url: PostgresURL) -> StoreError {
        if let e = error as? StoreError { return e }
        let place = url.location
        if error is LeaseTimeout {
            return .io("no connection to the PostgreSQL database \(place) within \(format(url.connectTimeout)) s: "
                       + "it is down or unreachable (the server retries by itself)")
        }
        if error is CancellationError { return .io("the PostgreSQL call was cancelled") }
        if error is SilentConnection {
            return .io("the connection to the PostgreSQL database \(place) was lost: \(error) (the server reconnects by itself)")
        }
        if let e = error as? PostgresDecodingError {
            return .io("a row of the PostgreSQL database \(place) does not decode (column \(e.columnName), \(e.code))")
        }
        if let e = error as? ConnectionPoolError {
            if e == .connectionCreationCircuitBreakerTripped {
                return .io("the PostgreSQL database \(place) has been unreachable for over a minute (the server retries by itself)")
            }
            return .io("the PostgreSQL connection pool for \(place) is closed (\(e))")
        }
        guard let e = error as? PSQLError else { return .io("PostgreSQL (\(place)): \(error)") }
        if e.code == .server, let info = e.serverInfo {
            let state = info[.sqlState] ?? ""
            let message = info[.message] ?? "error"
            let constraint = info[.constraintName].map { " (\($0))" } ?? ""
            switch state {
            case "23505": return .duplicate("record\(constraint)")
            case "23503": return .notFound("referenced record\(constraint)")
            case "53100": return .io("the PostgreSQL database \(place) cannot be written: its disk is full (\(message))")
            case "25006": return .io("the PostgreSQL database \(place) is read-only (\(message))")
            case "28000", "28P01":
                return .io("PostgreSQL refused the login of \(url.user) to \(place): \(message) (check the user and password of postgres_url)")
            case "3D000": return .io("the PostgreSQL database \(place) does not exist: \(message) (create it, e.g. createdb)")
            default: break
            }
            if state.hasPrefix("08") || state.hasPrefix("57P") {
                return .io("the connection to the PostgreSQL database \(place) was lost: \(message) (the server reconnects by itself)")
            }
            return .io("PostgreSQL error \(state) on \(place): \(message)")
        }
        if isLostConnection(e) {
            let why = e.underlying.map { ": \($0)" } ?? ""
            return .io("the connection to the PostgreSQL database \(place) was lost or refused\(why) (the server reconnects by itself)")
        }
        if e.code == .poolClosed { return .io("the PostgreSQL store for \(place) is shut down") }
        if e.code == .queryCancelled { return .io("the PostgreSQL call to \(place) was cancelled") }
        return .io("PostgreSQL (\(place)): \(e.code)\(e.underlying.map { ": \($0)" } ?? "")")
    }

    /// A failure of the connection itself, not of the statement: worth one more try on another connection.
    static func isLostConnection(_ error: any Error) -> Bool {
        if error is SilentConnection { return true }
        guard let e = error as? PSQLError else { return false }
        switch e.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown: return true
        case .server:
            let state = e.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default: return false
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

extension StoreError {
    /// The message without the `storage error: ` prefix `.io` adds (to wrap it in another).
    var detail: String {
        let prefix = "storage error: "
        return message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message
    }
}
