import ArgumentParser
import Foundation
import PushyProtocol

/// `--format`: tables for people, JSON for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The `--format` option shared by every read command.
struct FormatOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: 'text' (tables for people) or 'json' (for scripts).")
    var format: OutputFormat = .text

    var isJSON: Bool { format == .json }
}

/// Printing helpers: stdout for results, stderr for progress and errors.
enum Output {
    static func stderr(_ text: String) {
        stderrBytes(Array((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Writes bytes to stdout as they are (captured output need not be text), after anything
    /// `print` has buffered. A reader that went away (`pushy job feed | head`) ends the CLI
    /// quietly with 141, the shell's code for SIGPIPE, instead of crashing.
    static func stdoutBytes(_ bytes: some Collection<UInt8>) {
        fflush(nil)  // every C stream; `stdout` itself is not concurrency-safe to name
        if !write(STDOUT_FILENO, Array(bytes)), errno == EPIPE { exit(141) }
    }

    static func stderrBytes(_ bytes: some Collection<UInt8>) {
        _ = write(STDERR_FILENO, Array(bytes))
    }

    /// Writes everything (retrying short writes and EINTR); false on an error, with errno set.
    private static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    static func json(_ value: JSONValue) {
        print(pretty(value))
    }

    /// Indented JSON (object key order kept as the server sent it).
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let pairs) where !pairs.isEmpty:
            return "{\n" + pairs.map { inner + JSONValue.string($0.0).serialized() + ": " + pretty($0.1, indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.serialized()
        }
    }

    /// Left-aligned columns separated by two spaces; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }

    static func printTable(_ header: [String], _ rows: [[String]]) {
        print(table(header, rows))
    }
}

/// One status line on stderr, rewritten in place on a terminal and printed once per change
/// otherwise (so logs of CI runs stay readable).
struct ProgressLine {
    private var last: String?
    private let isTerminal = isatty(STDERR_FILENO) == 1

    mutating func show(_ text: String) {
        guard text != last, !Terminal.isPrompting else { return }
        last = text
        if isTerminal {
            Output.stderrBytes(Array("\r\u{1B}[K\(text)".utf8))
        } else {
            Output.stderr(text)
        }
    }

    /// Ends the in-place line so later output starts on a fresh line.
    mutating func finish() {
        if isTerminal, last != nil { Output.stderrBytes(Array("\n".utf8)) }
        last = nil
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
