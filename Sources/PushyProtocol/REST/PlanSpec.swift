import FoundationEssentials

/// An orchestration plan (issue 14): ordered steps, each a job (a template with parameters, or
/// a command with job settings) on a target, with its own quorum and rate control,
/// `on_failure: stop | continue` and an optional wait before it. Plan parameters fill
/// `{{name}}` slots in the steps' commands, searches, node names and template parameter values.
///
///     name: tomcat-rollout
///     parameters:
///       tomcat_version: {default: '9.0'}
///     steps:
///       - name: provision
///         command: provision
///         search: 'role:new'
///       - name: install-tomcat
///         command: 'install-tomcat {{tomcat_version}}'
///         from_step: provision        # the nodes that succeeded in that step
///       - name: haproxy
///         command: rebuild-haproxy
///         nodes: [lb1]
///         wait: 5
public struct PlanSpec: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var defaultValue: String?
        public var required: Bool
        public var description: String?
    }

    public enum Target: Sendable, Equatable {
        /// The template's own target (template steps only).
        case template
        case nodes([String])
        case search(String)
        /// The nodes that succeeded in the earlier step of that name.
        case fromStep(String)
    }

    public enum Run: Sendable, Equatable {
        case template(name: String, parameters: [(String, String)])
        /// A job whose nodes the target gives (the request's `nodes` are a placeholder).
        case job(JobRequest)

        public static func == (a: Run, b: Run) -> Bool {
            switch (a, b) {
            case let (.template(n1, p1), .template(n2, p2)): n1 == n2 && p1.map { "\($0.0)=\($0.1)" } == p2.map { "\($0.0)=\($0.1)" }
            case let (.job(j1), .job(j2)): j1.json == j2.json
            default: false
            }
        }
    }

    public struct Step: Sendable, Equatable {
        public var name: String
        public var run: Run
        public var target: Target
        /// `stop` (default): a failed step fails the plan; `continue`: the next step runs.
        public var continueOnFailure: Bool
        /// Seconds to wait before the step starts.
        public var wait: Double?
        /// The step as written (kept for display and storage).
        public var json: JSONValue
    }

    public var name: String
    public var description: String?
    public var parameters: [Parameter]
    public var steps: [Step]
    /// The plan as written.
    public var json: JSONValue

    static let planKeys: Set<String> = ["name", "description", "parameters", "steps"]
    static let stepKeys: Set<String> = ["name", "template", "parameters", "command", "nodes", "search", "from_step", "on_failure", "wait"]
    /// Job settings a command step may carry (as `POST /jobs` takes them).
    static let jobKeys = Set<String>(["quorum", "run_timeout", "user", "dir", "env", "file", "capture_output"])
        .union(RateControl.keys)

    public static func parse(_ body: [UInt8]) throws(JobValidationError) -> PlanSpec {
        let v: JSONValue
        do { v = try JSONValue.parse(body) } catch {
            throw JobValidationError("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
        return try parse(v)
    }

    public static func parse(_ v: JSONValue) throws(JobValidationError) -> PlanSpec {
        guard let pairs = v.objectValue else { throw JobValidationError("a plan must be a JSON object") }
        for (k, _) in pairs where !planKeys.contains(k) {
            throw JobValidationError("invalid key supplied: '\(k)' (allowed: \(planKeys.sorted().joined(separator: ", ")))")
        }
        guard let name = v["name"]?.stringValue else { throw JobValidationError("invalid name supplied (missing 'name', a string)") }
        guard JobTemplate.isValidName(name) else {
            throw JobValidationError("invalid name supplied: '\(name)' (letters, digits, '.', '_' and '-', at most 100)")
        }
        var parameters: [Parameter] = []
        if let p = v["parameters"] {
            guard let entries = p.objectValue else { throw JobValidationError("invalid parameters: expected an object of name → {default, required, description}") }
            for (pname, spec) in entries {
                guard TemplateParameter.isValidName(pname) else { throw JobValidationError("invalid parameter name '\(pname)'") }
                let o = spec.objectValue ?? []
                for (k, _) in o where !["default", "required", "description"].contains(k) {
                    throw JobValidationError("invalid key '\(k)' in parameter '\(pname)' (allowed: default, required, description)")
                }
                let d = spec["default"].map { $0.stringValue ?? $0.serialized() }
                parameters.append(Parameter(name: pname, defaultValue: d, required: spec["required"]?.boolValue ?? false,
                                            description: spec["description"]?.stringValue))
            }
        }
        guard let stepValues = v["steps"]?.arrayValue, !stepValues.isEmpty else {
            throw JobValidationError("a plan needs 'steps': a non-empty list of steps")
        }
        var steps: [Step] = []
        for (i, s) in stepValues.enumerated() {
            let step = try parseStep(s, index: i + 1, earlier: steps)
            steps.append(step)
        }
        let known = Set(parameters.map(\.name))
        for step in steps {
            for slot in slots(step.json.serialized()) where !known.contains(slot) {
                throw JobValidationError("step '\(step.name)' uses {{\(slot)}}, which is not a plan parameter (declare it under 'parameters')")
            }
        }
        return PlanSpec(name: name, description: v["description"]?.stringValue, parameters: parameters, steps: steps, json: v)
    }

    static func parseStep(_ s: JSONValue, index: Int, earlier: [Step]) throws(JobValidationError) -> Step {
        guard let pairs = s.objectValue else { throw JobValidationError("step \(index) must be an object") }
        let name = s["name"]?.stringValue ?? "step-\(index)"
        let label = "step \(index) ('\(name)')"
        guard JobTemplate.isValidName(name) else { throw JobValidationError("\(label): invalid name (letters, digits, '.', '_' and '-')") }
        guard !earlier.contains(where: { $0.name == name }) else { throw JobValidationError("\(label): two steps are named '\(name)'") }
        for (k, _) in pairs where !stepKeys.contains(k) && !jobKeys.contains(k) {
            throw JobValidationError("\(label): invalid key '\(k)' (allowed: \(stepKeys.union(jobKeys).sorted().joined(separator: ", ")))")
        }
        let template = s["template"]?.stringValue, command = s["command"]?.stringValue
        guard (template == nil) != (command == nil) else { throw JobValidationError("\(label): give either 'template' or 'command'") }
        // Target.
        let targets = ["nodes", "search", "from_step"].filter { s[$0] != nil }
        guard targets.count <= 1 else { throw JobValidationError("\(label): give at most one of nodes, search and from_step") }
        var target = Target.template
        if let n = s["nodes"] {
            guard let list = n.arrayValue?.compactMap(\.stringValue), list.count == n.arrayValue?.count, !list.isEmpty else {
                throw JobValidationError("\(label): 'nodes' must be a non-empty list of node names")
            }
            target = .nodes(list)
        } else if let q = s["search"] {
            guard let text = q.stringValue, !text.isEmpty else { throw JobValidationError("\(label): 'search' must be a query string") }
            target = .search(text)
        } else if let f = s["from_step"] {
            let ref: String
            if let n = f.intValue, n >= 1, n < index { ref = earlier[n - 1].name } else if let t = f.stringValue { ref = t } else {
                throw JobValidationError("\(label): 'from_step' must name an earlier step (or give its number)")
            }
            guard earlier.contains(where: { $0.name == ref }) else {
                throw JobValidationError("\(label): from_step '\(ref)' is not an earlier step")
            }
            target = .fromStep(ref)
        }
        let run: Run
        if let template {
            var values: [(String, String)] = []
            if let p = s["parameters"] {
                guard let o = p.objectValue else { throw JobValidationError("\(label): 'parameters' must be an object of name → value") }
                values = o.map { ($0.0, $0.1.stringValue ?? $0.1.serialized()) }
            }
            for k in jobKeys where s[k] != nil && !RateControl.keys.contains(k) && k != "quorum" {
                throw JobValidationError("\(label): '\(k)' comes from the template; a template step may set only quorum and rate control")
            }
            // The step's own quorum and rate control, checked now as POST /jobs checks them (not
            // first when the step runs).
            let own = pairs.filter { $0.0 == "quorum" || RateControl.keys.contains($0.0) }
            if !own.isEmpty {
                let probe: [(String, JSONValue)] = [("command", "x"), ("nodes", ["x"])] + own
                do { _ = try JobRequest.parse(JSONValue.object(probe).bytes) } catch {
                    throw JobValidationError("\(label): \(error.message)")
                }
            }
            run = .template(name: template, parameters: values)
        } else {
            guard s["parameters"] == nil else { throw JobValidationError("\(label): 'parameters' goes with 'template' (a command step uses {{slots}})") }
            guard target != .template else { throw JobValidationError("\(label): a command step needs a target: nodes, search or from_step") }
            // The job settings, checked as POST /jobs checks them (nodes come from the target).
            var o: [(String, JSONValue)] = [("command", .string(command!)), ("nodes", ["placeholder"])]
            o += pairs.filter { jobKeys.contains($0.0) }
            do { run = .job(try JobRequest.parse(JSONValue.object(o).bytes)) } catch {
                throw JobValidationError("\(label): \(error.message)")
            }
        }
        var onFailureContinue = false
        if let f = s["on_failure"] {
            switch f.stringValue {
            case "stop": onFailureContinue = false
            case "continue": onFailureContinue = true
            default: throw JobValidationError("\(label): on_failure must be stop or continue")
            }
        }
        var wait: Double?
        if let w = s["wait"] {
            guard let d = w.doubleValue, d >= 0, d <= 86400 else { throw JobValidationError("\(label): wait must be a number of seconds from 0 to 86400") }
            wait = d
        }
        return Step(name: name, run: run, target: target, continueOnFailure: onFailureContinue, wait: wait, json: s)
    }

    /// `{{name}}` slots in a text.
    static func slots(_ text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            out.append(String(rest[open.upperBound..<close.lowerBound]).trimmingWhitespace())
            rest = rest[close.upperBound...]
        }
        return out
    }

    /// The plan's parameter values: given ones checked against the declared, defaults filled.
    public func values(_ given: [(String, String)]) throws(JobValidationError) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in given {
            guard parameters.contains(where: { $0.name == k }) else {
                let names = parameters.map(\.name)
                throw JobValidationError("unknown parameter '\(k)' for plan '\(name)' (its parameters: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            }
            out[k] = v
        }
        for p in parameters where out[p.name] == nil {
            if let d = p.defaultValue { out[p.name] = d } else if p.required {
                throw JobValidationError("missing parameter '\(p.name)' for plan '\(name)'\(p.description.map { " (\($0))" } ?? "")")
            }
        }
        return out
    }

    /// `text` with every `{{name}}` replaced by its value (a slot without a value becomes empty).
    public static func fill(_ text: String, _ values: [String: String]) -> String {
        var out = text
        for slot in Set(slots(text)) {
            out = out.replacing("{{\(slot)}}", with: values[slot] ?? "")
            out = out.replacing("{{ \(slot) }}", with: values[slot] ?? "")
        }
        return out
    }
}
