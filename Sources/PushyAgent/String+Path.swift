import FoundationEssentials

/// The two path helpers the agent took from Foundation's `NSString` (FoundationEssentials has
/// neither).
extension String {
    /// `NSString.deletingLastPathComponent` for POSIX paths: "/a/b/" → "/a", "/a" → "/",
    /// "a" → "" (where Foundation on Linux traps), doubled slashes collapsed.
    var deletingLastPathComponent: String {
        let absolute = hasPrefix("/")
        var parts = split(separator: "/")
        guard !parts.isEmpty else { return absolute ? "/" : "" }
        parts.removeLast()
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : joined
    }

    /// `NSTemporaryDirectory()`: `$TMPDIR` with a trailing slash, else "/tmp/".
    static var temporaryDirectory: String {
        guard let dir = ProcessInfo.processInfo.environment["TMPDIR"] else { return "/tmp/" }
        return dir.hasSuffix("/") ? dir : dir + "/"
    }
}
