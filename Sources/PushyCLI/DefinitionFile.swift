import Foundation
import PushyProtocol
import Yams

/// A definition the CLI sends as JSON (a template, a plan), read from a file written as JSON or
/// as YAML. YAML is turned into the same JSON value here, so the server sees one format: keys in
/// the file's order, YAML's plain scalars typed as YAML 1.1 core types (`true`, `42`, `1.5`,
/// `null`; quote a value to keep it a string, e.g. `version: "1.10"`).
enum DefinitionFile {
    /// Reads `path` (`-` for standard input): JSON when its first non-blank character is `{` or
    /// `[`, YAML otherwise. `what` names the definition in errors.
    static func read(_ path: String, what: String) throws -> JSONValue {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: path) else {
                throw CLIFailure.usage("cannot read the \(what) file \(path): "
                    + (FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))
            }
            data = d
        }
        return try parse(Array(data), name: path == "-" ? "standard input" : path)
    }

    /// Parses `bytes` as JSON or YAML (see `read`).
    static func parse(_ bytes: [UInt8], name: String) throws -> JSONValue {
        let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            do { return try JSONValue.parse(bytes) } catch {
                throw CLIFailure.usage("\(name) is not valid JSON: \(error.message) at byte \(error.offset)")
            }
        }
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw CLIFailure.usage("\(name) is neither JSON nor YAML: it is not UTF-8 text")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw CLIFailure.usage("\(name) is not valid YAML (nor JSON): \(error)")
        }
        guard let node else { throw CLIFailure.usage("\(name) is empty: write the definition as a JSON object or YAML mapping") }
        return try json(node, at: "", in: name)
    }

    /// A YAML node as a JSON value; `at` is the path to it, for errors.
    static func json(_ node: Node, at path: String, in name: String) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch node.tag.description {  // the resolved tag's name
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: if let b = node.bool { return .bool(b) }
            case Tag.Name.int.rawValue: if let i = node.int { return .number(Double(i)) }
            case Tag.Name.float.rawValue:
                if let f = node.float, f.isFinite { return .number(f) }
                throw CLIFailure.usage("\(name): \(path.isEmpty ? "the value" : path) is \(scalar.string), which JSON cannot hold; quote it to make it a string")
            default: break
            }
            return .string(scalar.string)
        case .sequence(let items):
            return .array(try items.enumerated().map { try json($0.element, at: "\(path)[\($0.offset)]", in: name) })
        case .mapping(let pairs):
            var members: [(String, JSONValue)] = []
            for (key, value) in pairs {
                guard case .scalar(let k) = key else {
                    throw CLIFailure.usage("\(name): a key under \(path.isEmpty ? "the top level" : path) is not a plain string")
                }
                let child = path.isEmpty ? k.string : "\(path).\(k.string)"
                members.append((k.string, try json(value, at: child, in: name)))
            }
            return .object(members)
        }
    }
}
