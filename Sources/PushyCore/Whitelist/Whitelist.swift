import PushyProtocol

/// The agent's map from job command names to real command lines (spec section 7.2, point 12.5).
///
/// Lookup follows the reference client: an exact entry for the whole command wins; otherwise regex entries
/// are tried in order and the first that matches anywhere rewrites the command Ruby-`gsub`-style with its
/// command line as the replacement. No match means the job is nacked.
public struct Whitelist: Sendable {
    /// The entries in the order they were given.
    public let entries: [WhitelistEntry]
    private let exact: [String: WhitelistEntry]
    private let regexes: [CompiledEntry]

    /// A regex entry whose pattern is known to compile. `Regex` is not `Sendable`, so each
    /// lookup compiles it again (microseconds, once per job).
    private struct CompiledEntry: Sendable {
        let pattern: String
        let entry: WhitelistEntry

        var regex: Regex<AnyRegexOutput>? { Whitelist.regex(pattern) }
    }

    /// Compiles every regex now, so a bad one is reported when the configuration is loaded, not when a job
    /// arrives. Of two exact entries with the same name the first wins.
    public init(entries: [WhitelistEntry]) throws(WhitelistError) {
        var exact: [String: WhitelistEntry] = [:]
        var regexes: [CompiledEntry] = []
        for entry in entries {
            switch entry.pattern {
            case .exact(let name):
                if exact[name] == nil { exact[name] = entry }
            case .regex(let pattern):
                try Self.check(pattern)
                regexes.append(CompiledEntry(pattern: pattern, entry: entry))
            }
        }
        self.entries = entries
        self.exact = exact
        self.regexes = regexes
    }

    /// The reference client's default: only `chef-client` may run.
    public static let chefDefault: Whitelist = {
        do {
            return try Whitelist(entries: [WhitelistEntry(pattern: .exact("chef-client"), commandLine: "chef-client")])
        } catch {
            preconditionFailure("the default whitelist has no regex")
        }
    }()

    /// The command line and lock for a job's `command`, or nil when it is not whitelisted.
    public func resolve(_ command: String) -> WhitelistMatch? {
        if let entry = exact[command] {
            return WhitelistMatch(commandLine: entry.commandLine, lock: entry.lock)
        }
        for compiled in regexes {
            guard let regex = compiled.regex else { continue }
            let matches = command.matches(of: regex)
            guard !matches.isEmpty else { continue }
            let line = Self.substitute(matches, in: command, template: compiled.entry.commandLine)
            return WhitelistMatch(commandLine: line, lock: compiled.entry.lock)
        }
        return nil
    }

    /// ICU regex syntax with Ruby's default of `^`/`$` matching at line boundaries (UserRegex).
    static func regex(_ pattern: String) -> Regex<AnyRegexOutput>? {
        UserRegex.compile(pattern, anchorsMatchLines: true)
    }

    private static func check(_ pattern: String) throws(WhitelistError) {
        guard !pattern.isEmpty else { throw WhitelistError("whitelist regex '//' is empty") }
        guard regex(pattern) != nil else {
            throw WhitelistError("whitelist regex /\(pattern)/ is not a valid regular expression")
        }
    }

    /// Ruby `gsub(regex, template)`: every match is replaced by the template with `\0`–`\9`, `\&` (whole match),
    /// `` \` `` (text before), `\'` (text after) and `\\` (a backslash) expanded; any other backslash stays
    /// as written. A group that did not take part expands to nothing.
    private static func substitute(_ matches: [Regex<AnyRegexOutput>.Match], in command: String, template: String) -> String {
        let source = command.unicodeScalars
        var output = ""
        var cursor = source.startIndex
        for match in matches {
            output += String(source[cursor..<match.range.lowerBound])
            output += expand(template, match: match, source: source)
            cursor = match.range.upperBound
        }
        output += String(source[cursor...])
        return output
    }

    /// Matches are on scalar boundaries (UserRegex), so the text is cut as scalars.
    private static func expand(_ template: String, match: Regex<AnyRegexOutput>.Match, source: String.UnicodeScalarView) -> String {
        func group(_ index: Int) -> String {
            guard index < match.output.count, let range = match.output[index].range else { return "" }
            return String(source[range])
        }
        var result = ""
        var iterator = template.makeIterator()
        while let char = iterator.next() {
            guard char == "\\" else { result.append(char); continue }
            guard let next = iterator.next() else { result.append("\\"); break }
            switch next {
            case "0"..."9": result += group(next.wholeNumberValue ?? 0)
            case "&": result += group(0)
            case "`": result += String(source[..<match.range.lowerBound])
            case "'": result += String(source[match.range.upperBound...])
            case "\\": result.append("\\")
            default: result.append("\\"); result.append(next)
            }
        }
        return result
    }
}
