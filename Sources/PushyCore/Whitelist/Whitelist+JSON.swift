import PushyProtocol

extension Whitelist {
    /// Builds a whitelist from a JSON object, keeping key order (it decides which regex is tried first):
    /// `{"name": "cmd", "/re/": "cmd \\1", "name2": {"command_line": "cmd", "lock": true | "/path"}}`.
    ///
    /// A key is a regex when it is at least `/x/`: starts and ends with `/`. `lock` may be `true` (the default
    /// lock file), `false`/`null` (no lock) or a non-empty path; any other key in an entry object is an error.
    public static func fromJSON(_ value: JSONValue) throws(WhitelistError) -> Whitelist {
        guard let pairs = value.objectValue else {
            throw WhitelistError("whitelist must be a JSON object mapping command names to command lines")
        }
        var entries: [WhitelistEntry] = []
        for (key, spec) in pairs {
            guard !key.isEmpty else { throw WhitelistError("whitelist has an empty command name") }
            let pattern: WhitelistEntry.Pattern =
                key.count >= 3 && key.hasPrefix("/") && key.hasSuffix("/")
                ? .regex(String(key.dropFirst().dropLast())) : .exact(key)
            let (commandLine, lock) = try entryBody(spec, key: key)
            entries.append(WhitelistEntry(pattern: pattern, commandLine: commandLine, lock: lock))
        }
        return try Whitelist(entries: entries)
    }

    private static func entryBody(_ spec: JSONValue, key: String) throws(WhitelistError) -> (String, WhitelistLock?) {
        switch spec {
        case .string(let line):
            guard !line.isEmpty else { throw WhitelistError("whitelist entry '\(key)' has an empty command line") }
            return (line, nil)
        case .object(let fields):
            for (name, _) in fields where name != "command_line" && name != "lock" {
                throw WhitelistError("whitelist entry '\(key)': unknown key '\(name)' (expected command_line, lock)")
            }
            guard let line = spec["command_line"]?.stringValue, !line.isEmpty else {
                throw WhitelistError("whitelist entry '\(key)' needs a non-empty string 'command_line'")
            }
            switch spec["lock"] {
            case nil, .null?, .bool(false)?: return (line, nil)
            case .bool(true)?: return (line, .defaultLock)
            case .string(let path)? where !path.isEmpty: return (line, .path(path))
            default:
                throw WhitelistError("whitelist entry '\(key)': 'lock' must be true, false or a lock file path")
            }
        default:
            throw WhitelistError(
                "whitelist entry '\(key)' must be a command line string or an object with 'command_line'")
        }
    }
}
