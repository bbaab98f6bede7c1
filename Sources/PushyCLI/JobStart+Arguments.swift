import ArgumentParser
import Foundation
import PushyProtocol

/// One `KEY=VALUE` of the command's environment (`job start --env`, or a member of `--with-env`).
struct EnvVariable: Equatable, Sendable {
    var name: String
    var value: String

    static let objectExample = #"expected a JSON object of strings like '{"FOO":"bar"}'"#

    /// `--env KEY=VALUE`: the name is everything before the first `=` and must not be empty.
    static func parse(_ item: String) throws(ValidationError) -> EnvVariable {
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
            throw ValidationError("expected KEY=VALUE, e.g. --env RELEASE=42")
        }
        return EnvVariable(name: String(item[..<eq]), value: String(item[item.index(after: eq)...]))
    }

    /// `--with-env '{"KEY":"VALUE",...}'`: a JSON object of strings, in its key order.
    static func parseObject(_ text: String) throws(ValidationError) -> [EnvVariable] {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch {
            throw ValidationError("not JSON (\(error.message) at byte \(error.offset)); \(objectExample)")
        }
        guard let object = value.objectValue else { throw ValidationError(objectExample) }
        var names = Set<String>()
        var result: [EnvVariable] = []
        for (k, v) in object {
            guard names.insert(k).inserted else { throw ValidationError("key '\(k)' appears twice") }
            guard let s = v.stringValue else {
                throw ValidationError("the value of '\(k)' is not a string (write \"\(k)\":\"...\")")
            }
            guard !k.isEmpty, !k.contains("=") else { throw ValidationError("bad variable name '\(k)'") }
            result.append(EnvVariable(name: k, value: s))
        }
        return result
    }
}

extension JobStart {
    /// `--quorum`: a count (3) or a percentage of the nodes from 0% to 100% (90%).
    static func parseQuorum(_ text: String) throws(ValidationError) -> Quorum {
        guard let quorum = Quorum.parse(text) else {
            throw ValidationError("a quorum is a count like 3 or a percentage from 0% to 100% like 90%")
        }
        return quorum
    }

    /// --with-env merged with --env (later wins), in first-seen key order; `nil` when neither
    /// is given.
    static func environment(withEnv: [EnvVariable]?, env: [EnvVariable]) -> [(String, String)]? {
        guard withEnv != nil || !env.isEmpty else { return nil }
        var pairs: [(String, String)] = []
        for v in (withEnv ?? []) + env {
            if let i = pairs.firstIndex(where: { $0.0 == v.name }) { pairs[i].1 = v.value } else { pairs.append((v.name, v.value)) }
        }
        return pairs
    }

    /// Reads --file: `raw:` text as knife sends it, `base64:` when the bytes are not UTF-8.
    static func fileBody(_ file: String) throws(CLIFailure) -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw .usage("cannot read --file \(file)") }
        guard data.count <= JobRequest.maxFileBytes else {
            throw .usage("--file \(file) is \(data.count) bytes; the limit is \(JobRequest.maxFileBytes)")
        }
        if let text = String(validating: data, as: UTF8.self) { return "raw:" + text }
        return "base64:" + data.base64EncodedString()
    }
}
