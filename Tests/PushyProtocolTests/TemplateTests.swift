import PushyProtocol
import Testing

/// Job templates (issue 13): parsing a definition (every 400 message), checking parameter
/// values (every type, every error), and filling a template into a job request.
@Suite(.timeLimit(.minutes(1)))
struct TemplateTests {
    static let restartApp = #"""
        {"name": "restart-app", "description": "Deploy and restart the app",
         "command": "deploy {{version}}",
         "parameters": {
           "version": {"type": "string", "pattern": "[0-9]+\\.[0-9]+\\.[0-9]+", "required": true, "description": "release"},
           "role": {"type": "enum", "values": ["webapp", "worker"], "default": "webapp"},
           "drain": {"type": "boolean", "default": false},
           "wait": {"type": "integer", "min": 0, "max": 600, "default": 30},
           "note": {"type": "string"}
         },
         "search": "role:{{role}}", "quorum": "50%", "run_timeout": 300, "env": {"APP": "shop"},
         "max_errors": 2, "batch_size": "10%",
         "access": {"run": {"users": ["rob"], "groups": ["deployers"]}, "read": {"users": ["aud"]}}}
        """#

    static func template(_ text: String = restartApp) throws -> JobTemplate { try JobTemplate.parse(Array(text.utf8)) }

    @Test func parsesAndRoundTrips() throws {
        let t = try Self.template()
        #expect(t.name == "restart-app")
        #expect(t.command == "deploy {{version}}")
        #expect(t.parameters.map(\.name) == ["version", "role", "drain", "wait", "note"])
        #expect(t.parameter("version")?.kind == .string(pattern: #"[0-9]+\.[0-9]+\.[0-9]+"#))
        #expect(t.parameter("version")?.required == true)
        #expect(t.parameter("wait")?.kind == .integer(min: 0, max: 600))
        #expect(t.parameter("wait")?.defaultValue == "30")
        #expect(t.parameter("drain")?.defaultValue == "false")
        #expect(t.target == .search("role:{{role}}"))
        #expect(t.quorum == .percent(50))
        #expect(t.runTimeout == 300)
        #expect(t.rateControl == RateControl(maxErrors: .count(2), batchSize: .percent(10)))
        #expect(t.access.run == PrincipalSet(users: ["rob"], groups: ["deployers"]))
        #expect(t.access.read.users == ["aud"])
        #expect(t.access.edit.isEmpty)
        // What is stored is what is read back.
        #expect(try JobTemplate.parse(t.json) == t)
        #expect(try JobTemplate.parse(t.json.bytes, name: "restart-app") == t)
    }

    @Test func instantiateFillsSlotsAndEnv() throws {
        let t = try Self.template()
        let i = try t.instantiate([("version", "1.2.3")])
        #expect(i.command == "deploy 1.2.3")
        #expect(i.target == .search("role:webapp"))
        #expect(i.values.map { "\($0.0)=\($0.1)" } == ["version=1.2.3", "role=webapp", "drain=false", "wait=30"])
        let job = i.jobRequest(nodes: ["web1", "web2"])
        #expect(job.command == "deploy 1.2.3")
        #expect(job.nodes == ["web1", "web2"])
        #expect(job.quorum == .percent(50))
        #expect(job.runTimeout == 300)
        #expect(job.rateControl == RateControl(maxErrors: .count(2), batchSize: .percent(10)))
        #expect((job.env ?? []).map { "\($0.0)=\($0.1)" } == [
            "APP=shop", "CHEF_PUSH_PARAM_VERSION=1.2.3", "CHEF_PUSH_PARAM_ROLE=webapp", "CHEF_PUSH_PARAM_DRAIN=false",
            "CHEF_PUSH_PARAM_WAIT=30",
        ])
        // Values given as text (the CLI's k=v) are read by type.
        let j = try t.instantiate([("version", "2.0.0"), ("role", "worker"), ("drain", "true"), ("wait", "0"), ("note", "x y; rm -rf /")])
        #expect(j.target == .search("role:worker"))
        #expect(j.values.map(\.1) == ["2.0.0", "worker", "true", "0", "x y; rm -rf /"])
        #expect(try t.instantiate([("version", "1.0.0"), ("drain", true), ("wait", 600)]).values.map(\.1) == ["1.0.0", "webapp", "true", "600"])
    }

    @Test func nodeListTargetsFillAndMerge() throws {
        let t = try Self.template(#"{"name":"one","command":"ok","parameters":{"n":{"type":"integer","min":1,"max":9,"required":true}},"nodes":["web{{n}}","web1"]}"#)
        #expect(try t.instantiate([("n", 2)]).target == .nodes(["web2", "web1"]))
        #expect(try t.instantiate([("n", 1)]).target == .nodes(["web1"]))
        #expect(try t.instantiate([("n", 1)]).jobRequest(nodes: ["web1"]).env?.first?.0 == "CHEF_PUSH_PARAM_N")
    }

    /// Every way a value can be wrong: the message names the parameter and says what was wrong.
    @Test(arguments: [
        ([("version", JSONValue.string("1.2"))], "invalid value for parameter 'version': '1.2' does not match the pattern"),
        ([("version", "1.2.3\nrole:x")], "invalid value for parameter 'version'"),
        ([("version", 123)], "invalid value for parameter 'version': expected a string, got the number 123"),
        ([], "missing parameter 'version' (required: release)"),
        ([("version", "1.2.3"), ("role", "db")], "invalid value for parameter 'role': 'db' is not one of webapp, worker"),
        ([("version", "1.2.3"), ("role", true)], "invalid value for parameter 'role': expected one of webapp, worker"),
        ([("version", "1.2.3"), ("drain", "yes")], "invalid value for parameter 'drain': expected true or false, got the string 'yes'"),
        ([("version", "1.2.3"), ("drain", 1)], "invalid value for parameter 'drain': expected true or false"),
        ([("version", "1.2.3"), ("wait", 601)], "invalid value for parameter 'wait': 601 is above the maximum 600"),
        ([("version", "1.2.3"), ("wait", -1)], "invalid value for parameter 'wait': -1 is below the minimum 0"),
        ([("version", "1.2.3"), ("wait", 1.5)], "invalid value for parameter 'wait': expected a whole number, got the number 1.5"),
        ([("version", "1.2.3"), ("wait", "ten")], "invalid value for parameter 'wait': expected a whole number, got the string 'ten'"),
        ([("version", "1.2.3"), ("note", 5)], "invalid value for parameter 'note': expected a string"),
        ([("version", "1.2.3"), ("colour", "red")], "unknown parameter 'colour' for template 'restart-app' (its parameters: version, role, drain, wait, note)"),
        ([("version", "1.2.3"), ("version", "1.2.4")], "parameter 'version' is given twice"),
    ] as [([(String, JSONValue)], String)])
    func badValuesAreNamed(values: [(String, JSONValue)], message: String) throws {
        let t = try Self.template()
        do {
            _ = try t.instantiate(values)
            Issue.record("accepted \(values)")
        } catch {
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
    }

    /// Every way a definition can be wrong.
    @Test(arguments: [
        (#"[]"#, "a template must be a JSON object"),
        (#"{"name":"x","command":"ok","nodes":["a"],"colour":1}"#, "invalid key supplied: 'colour'"),
        (#"{"command":"ok","nodes":["a"]}"#, "invalid name supplied (missing 'name')"),
        (#"{"name":"a b","command":"ok","nodes":["a"]}"#, "invalid name supplied: 'a b'"),
        (#"{"name":5,"command":"ok","nodes":["a"]}"#, "invalid name supplied (expected a string)"),
        (#"{"name":"x","nodes":["a"]}"#, "invalid command supplied (missing 'command')"),
        (#"{"name":"x","command":"","nodes":["a"]}"#, "invalid command supplied (empty command)"),
        (#"{"name":"x","command":"ok"}"#, "a template needs a target"),
        (#"{"name":"x","command":"ok","nodes":["a"],"search":"role:x"}"#, "give either 'nodes' or 'search'"),
        (#"{"name":"x","command":"ok","nodes":[]}"#, "invalid nodes supplied"),
        (#"{"name":"x","command":"ok","search":""}"#, "invalid search supplied"),
        (#"{"name":"x","command":"deploy {{v}}","nodes":["a"]}"#, "invalid command: slot {{v}} names no parameter"),
        (#"{"name":"x","command":"deploy {{v","nodes":["a"]}"#, "invalid command: '{{' without a closing '}}'"),
        (#"{"name":"x","command":"deploy {{a b}}","nodes":["a"]}"#, "invalid command: '{{a b}}' is not a parameter slot"),
        (#"{"name":"x","command":"ok","search":"role:{{r}}"}"#, "invalid search: slot {{r}} names no parameter"),
        (#"{"name":"x","command":"ok","search":"role:{{r}}","parameters":{"r":{"type":"string"}}}"#,
         "invalid search: parameter 'r' is a string without a pattern"),
        (#"{"name":"x","command":"ok","nodes":["{{r}}"],"parameters":{"r":{"type":"string"}}}"#,
         "invalid nodes: parameter 'r' is a string without a pattern"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":[]}"#, "invalid parameters: expected an object"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"1x":{"type":"string"}}}"#, "invalid parameter name '1x'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"float"}}}"#, "invalid parameter 'v': unknown type 'float'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{}}}"#, "invalid parameter 'v': missing 'type'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":"string"}}"#, "invalid parameter 'v': expected an object"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"string","pattern":"(["}}}"#,
         "invalid parameter 'v': 'pattern' /([/ is not a valid regular expression"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"string","max":3}}}"#,
         "invalid parameter 'v': 'max' does not apply to type string"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"integer","min":5,"max":1}}}"#,
         "invalid parameter 'v': 'min' 5 is above 'max' 1"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"integer","min":0.5}}}"#,
         "invalid parameter 'v': 'min' must be a whole number"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"enum"}}}"#, "invalid parameter 'v': type enum needs 'values'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"enum","values":["a","a"]}}}"#,
         "invalid parameter 'v': 'values' lists 'a' twice"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"boolean","required":"yes"}}}"#,
         "invalid parameter 'v': 'required' must be true or false"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"boolean","required":true,"default":true}}}"#,
         "invalid parameter 'v': a required parameter cannot have a default"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"integer","max":3,"default":4}}}"#,
         "invalid parameter 'v': its default is not valid: invalid value for parameter 'v': 4 is above the maximum 3"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"string","colour":1}}}"#,
         "invalid parameter 'v': unknown key 'colour'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"parameters":{"v":{"type":"string"},"V":{"type":"string"}}}"#,
         "invalid parameters: 'V' clashes with another parameter (both are CHEF_PUSH_PARAM_V)"),
        (#"{"name":"x","command":"ok","nodes":["a"],"env":{"CHEF_PUSH_PARAM_X":"1"}}"#, "invalid env: 'CHEF_PUSH_PARAM_X' is reserved"),
        (#"{"name":"x","command":"ok","nodes":["a"],"quorum":"150%"}"#, "invalid quorum supplied"),
        (#"{"name":"x","command":"ok","nodes":["a"],"max_errors":0}"#, "invalid max_errors supplied"),
        (#"{"name":"x","command":"ok","nodes":["a"],"access":{"exec":{}}}"#, "invalid access: unknown rule 'exec'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"access":{"run":["rob"]}}"#, "invalid access.run: expected"),
        (#"{"name":"x","command":"ok","nodes":["a"],"access":{"run":{"people":[]}}}"#, "invalid access.run: unknown key 'people'"),
        (#"{"name":"x","command":"ok","nodes":["a"],"access":{"run":{"users":"rob"}}}"#, "invalid access.run.users: expected an array"),
    ])
    func badDefinitionsAreRefused(body: String, message: String) {
        do {
            _ = try JobTemplate.parse(Array(body.utf8))
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
    }

    @Test func urlAndBodyNamesMustAgree() throws {
        #expect(try JobTemplate.parse(Array(#"{"command":"ok","nodes":["a"]}"#.utf8), name: "t").name == "t")
        #expect(throws: JobValidationError("the body names template 'u' but the URL names 't'")) {
            try JobTemplate.parse(Array(#"{"name":"u","command":"ok","nodes":["a"]}"#.utf8), name: "t")
        }
    }

    @Test func targetSlotNeedsAValue() throws {
        let t = try Self.template(#"{"name":"x","command":"ok","search":"role:{{r}}","parameters":{"r":{"type":"enum","values":["a"]}}}"#)
        #expect(throws: JobValidationError("missing parameter 'r' (the target uses it)")) { try t.instantiate([]) }
    }

    @Test func runRequests() throws {
        #expect(try TemplateRunRequest.parse([]) == TemplateRunRequest())
        let r = try TemplateRunRequest.parse(Array(#"{"parameters":{"version":"1.2.3"},"nodes":["a","a","b"]}"#.utf8))
        #expect(r.nodes == ["a", "b"])
        #expect(r.parameters.map(\.0) == ["version"])
        #expect(try TemplateRunRequest.parse(r.json.bytes) == r)
        for (body, message) in [
            (#"{"params":{}}"#, "invalid key supplied: 'params'"), (#"{"parameters":[]}"#, "invalid parameters"),
            (#"{"nodes":[]}"#, "invalid nodes supplied"), (#"{"nodes":[1]}"#, "invalid node name supplied"), ("[", "invalid JSON"),
        ] {
            #expect(throws: (any Error).self) { try TemplateRunRequest.parse(Array(body.utf8)) }
            do { _ = try TemplateRunRequest.parse(Array(body.utf8)) } catch { #expect(error.message.hasPrefix(message), "\(error.message)") }
        }
    }

    @Test func jobViewCarriesTheTemplate() throws {
        let date = WireTime.parseRFC1123("Wed, 02 Dec 2026 19:00:00 GMT")!
        let v = JobView(id: "j", command: "deploy 1.2.3", status: .complete, runTimeout: 60, createdAt: date, updatedAt: date,
                        template: "restart-app", templateVersion: 3)
        #expect(v.json["template"] == "restart-app")
        #expect(v.json["template_version"] == 3)
        #expect(JobView.parse(v.json) == v)
    }
}
