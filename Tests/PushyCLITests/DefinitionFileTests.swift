import Foundation
import PushyProtocol
import Testing
@testable import PushyCLI

/// Template (and plan) files: JSON as is, YAML turned into the same JSON value, clear errors.
@Suite(.timeLimit(.minutes(1))) struct DefinitionFileTests {
    func parse(_ text: String) throws -> JSONValue { try DefinitionFile.parse(Array(text.utf8), name: "t.yaml") }

    func failure(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func yamlAndJSONGiveTheSameValue() throws {
        let yaml = #"""
            name: restart-app
            command: deploy {{version}}
            parameters:
              version: {type: string, pattern: '[0-9]+\.[0-9]+', required: true}
              wait: {type: integer, min: 0, max: 600, default: 30}
              drain: {type: boolean, default: false}
            search: role:webapp
            batch_size: 10%
            batch_wait: 1.5
            user: null
            nodes: [web1, "web2"]
            """#
        let json = #"""
            {"name": "restart-app", "command": "deploy {{version}}",
             "parameters": {"version": {"type": "string", "pattern": "[0-9]+\\.[0-9]+", "required": true},
                            "wait": {"type": "integer", "min": 0, "max": 600, "default": 30},
                            "drain": {"type": "boolean", "default": false}},
             "search": "role:webapp", "batch_size": "10%", "batch_wait": 1.5, "user": null, "nodes": ["web1", "web2"]}
            """#
        #expect(try parse(yaml) == (try JSONValue.parse(Array(json.utf8))))
        // Keys keep the file's order (the server's messages name them in that order).
        #expect(try parse(yaml).objectValue?.map(\.0) == ["name", "command", "parameters", "search", "batch_size", "batch_wait", "user", "nodes"])
        // A JSON file goes through the JSON parser, leading blanks and all.
        #expect(try parse("  \n" + json) == (try JSONValue.parse(Array(json.utf8))))
    }

    @Test(arguments: [
        ("version: \"1.10\"", JSONValue.string("1.10")),
        ("version: 1.10", JSONValue.number(1.1)),
        ("flag: 'true'", JSONValue.string("true")),
        ("flag: true", JSONValue.bool(true)),
        ("n: \"42\"", JSONValue.string("42")),
        ("n: 42", JSONValue.number(42)),
        ("x: ~", JSONValue.null),
        ("x: hello world", JSONValue.string("hello world")),
    ])
    func plainScalarsAreTypedQuotedOnesAreStrings(_ text: String, _ value: JSONValue) throws {
        #expect(try parse(text).objectValue?.first?.1 == value)
    }

    @Test(arguments: [
        ("name: [unclosed", "not valid YAML"),
        ("", "is empty"),
        ("{\"name\": }", "not valid JSON"),
        ("x: .inf", "quote it"),
        ("? [a, b]\n: c", "not a plain string"),
    ])
    func badFilesSayWhatIsWrong(_ text: String, _ expected: String) {
        let message = failure(text)
        #expect(message.contains(expected), "\(message)")
    }

    @Test func aMissingFileIsNamed() {
        do {
            _ = try DefinitionFile.read("/nonexistent/t.yaml", what: "template")
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("cannot read the template file /nonexistent/t.yaml: no such file"), "\(error)")
        }
    }
}
