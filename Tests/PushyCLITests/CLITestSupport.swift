import ArgumentParser
import Foundation
import Testing
@testable import PushyCLI

/// Parses a `pushy` command line (without the program name) as the executable does and
/// returns the command, which must be a `T`.
func parse<T: ParsableCommand>(_ arguments: [String], as type: T.Type = T.self,
                               sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    let command = try Pushy.parseCommand(arguments)
    return try #require(command as? T, "parsed as \(Swift.type(of: command))", sourceLocation: sourceLocation)
}

/// The message a command line that must not parse fails with (`nil`, and an issue, if it parsed).
func parseError(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    do {
        let command = try Pushy.parseCommand(arguments)
        Issue.record("\(arguments) parsed as \(type(of: command))", sourceLocation: sourceLocation)
        return nil
    } catch {
        return Pushy.message(for: error)
    }
}

/// A folder of its own under the system's temporary directory, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/pushy-cli-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` in the folder and returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
