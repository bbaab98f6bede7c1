import Foundation

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

    private struct CompiledEntry: Sendable {
        let regex: NSRegularExpression
        let entry: WhitelistEntry
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
                regexes.append(CompiledEntry(regex: try Self.compile(pattern), entry: entry))
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
        let whole = NSRange(command.startIndex..., in: command)
        for compiled in regexes {
            let matches = compiled.regex.matches(in: command, options: [], range: whole)
            guard !matches.isEmpty else { continue }
            let line = Self.substitute(matches, in: command, template: compiled.entry.commandLine)
            return WhitelistMatch(commandLine: line, lock: compiled.entry.lock)
        }
        return nil
    }

    /// ICU regex with Ruby's default of `^`/`$` matching at line boundaries.
    private static func compile(_ pattern: String) throws(WhitelistError) -> NSRegularExpression {
        guard !pattern.isEmpty else { throw WhitelistError("whitelist regex '//' is empty") }
        do {
            return try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        } catch {
            throw WhitelistError("whitelist regex /\(pattern)/ is not a valid regular expression")
        }
    }

    /// Ruby `gsub(regex, template)`: every match is replaced by the template with `\0`–`\9`, `\&` (whole match),
    /// `` \` `` (text before), `\'` (text after) and `\\` (a backslash) expanded; any other backslash stays
    /// as written. A group that did not take part expands to nothing.
    private static func substitute(_ matches: [NSTextCheckingResult], in command: String, template: String) -> String {
        let source = command as NSString
        var output = ""
        var cursor = 0
        for match in matches {
            output += source.substring(with: NSRange(location: cursor, length: match.range.location - cursor))
            output += expand(template, match: match, source: source)
            cursor = match.range.location + match.range.length
        }
        output += source.substring(from: cursor)
        return output
    }

    private static func expand(_ template: String, match: NSTextCheckingResult, source: NSString) -> String {
        func group(_ index: Int) -> String {
            guard index < match.numberOfRanges else { return "" }
            let range = match.range(at: index)
            return range.location == NSNotFound ? "" : source.substring(with: range)
        }
        var result = ""
        var iterator = template.makeIterator()
        while let char = iterator.next() {
            guard char == "\\" else { result.append(char); continue }
            guard let next = iterator.next() else { result.append("\\"); break }
            switch next {
            case "0"..."9": result += group(next.wholeNumberValue ?? 0)
            case "&": result += group(0)
            case "`": result += source.substring(to: match.range.location)
            case "'": result += source.substring(from: match.range.location + match.range.length)
            case "\\": result.append("\\")
            default: result.append("\\"); result.append(next)
            }
        }
        return result
    }
}
