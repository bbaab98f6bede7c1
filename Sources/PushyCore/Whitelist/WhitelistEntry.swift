/// One whitelist entry: a job command name (or a regex over it) mapped to the command line to run.
public struct WhitelistEntry: Sendable, Equatable {
    /// What the job's `command` is compared with.
    public enum Pattern: Sendable, Equatable {
        /// The whole command must equal this string.
        case exact(String)
        /// An ICU regex (written `/…/` in flags and JSON) matched anywhere in the command; the command line
        /// may use `\1`…`\9`, `\0`/`\&` back-references as in Ruby's `gsub`.
        case regex(String)
    }

    public let pattern: Pattern
    /// The command line (or, for regexes, the `gsub` replacement template).
    public let commandLine: String
    public let lock: WhitelistLock?

    public init(pattern: Pattern, commandLine: String, lock: WhitelistLock? = nil) {
        self.pattern = pattern
        self.commandLine = commandLine
        self.lock = lock
    }

    /// Parses a command-line flag: `NAME=COMMAND LINE` (split at the first `=`) or `/REGEX/=COMMAND LINE`.
    ///
    /// A flag is a regex entry when it starts with `/` and contains an unescaped `/` directly followed by `=`;
    /// the first such `/=` ends the regex, so the regex may itself contain `=` and escaped `\/`, and the command
    /// line may contain anything. Otherwise it is an exact entry, even if the name starts with `/`.
    /// The regex is only checked when the `Whitelist` is built.
    public static func parse(flag: String) throws(WhitelistError) -> WhitelistEntry {
        let chars = Array(flag)
        if chars.first == "/", let close = regexEnd(chars) {
            let regex = String(chars[1..<close])
            let command = String(chars[(close + 2)...])
            guard !regex.isEmpty else {
                throw WhitelistError("whitelist entry '\(flag)': the regex between the slashes is empty")
            }
            guard !command.isEmpty else {
                throw WhitelistError("whitelist entry '\(flag)': expected a command line after '/\(regex)/='")
            }
            return WhitelistEntry(pattern: .regex(regex), commandLine: command)
        }
        guard let equals = chars.firstIndex(of: "=") else {
            throw WhitelistError("whitelist entry '\(flag)': expected NAME=COMMAND LINE or /REGEX/=COMMAND LINE")
        }
        let name = String(chars[..<equals])
        let command = String(chars[(equals + 1)...])
        guard !name.isEmpty else {
            throw WhitelistError("whitelist entry '\(flag)': the command name before '=' is empty")
        }
        guard !command.isEmpty else {
            throw WhitelistError("whitelist entry '\(flag)': expected a command line after '\(name)='")
        }
        return WhitelistEntry(pattern: .exact(name), commandLine: command)
    }

    /// Index of the first unescaped `/` (after the opening one) that is directly followed by `=`.
    private static func regexEnd(_ chars: [Character]) -> Int? {
        var i = 1
        while i < chars.count {
            if chars[i] == "\\" { i += 2; continue }
            if chars[i] == "/", i + 1 < chars.count, chars[i + 1] == "=" { return i }
            i += 1
        }
        return nil
    }
}
