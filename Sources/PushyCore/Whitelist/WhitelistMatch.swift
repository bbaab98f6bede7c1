/// How a whitelisted job runs on the node: through a lock file, and which one.
public enum WhitelistLock: Sendable, Equatable {
    /// `lock: true` — the agent's default lock file (Chef's `chef-client-running.pid`).
    case defaultLock
    /// `lock: "/some/path"` — that file.
    case path(String)
}

/// The outcome of looking up a job's `command`: the real command line to run, which the server never sees.
public struct WhitelistMatch: Sendable, Equatable {
    public let commandLine: String
    public let lock: WhitelistLock?

    public init(commandLine: String, lock: WhitelistLock?) {
        self.commandLine = commandLine
        self.lock = lock
    }
}
