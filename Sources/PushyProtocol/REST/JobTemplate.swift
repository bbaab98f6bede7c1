import FoundationEssentials

/// Who may do something with a template: users by name and groups (nested, as everywhere).
public struct PrincipalSet: Sendable, Equatable {
    public var users: [String]
    public var groups: [String]

    public init(users: [String] = [], groups: [String] = []) {
        self.users = users
        self.groups = groups
    }

    public var isEmpty: Bool { users.isEmpty && groups.isEmpty }

    public var json: JSONValue {
        .object([("users", .array(users.map(JSONValue.string))), ("groups", .array(groups.map(JSONValue.string)))])
    }
}

/// A template's own access rules (issue 13), on top of the org's groups: `run` may start jobs
/// from it (even without being a job writer), `edit` may change or delete it, `read` may read
/// it and the jobs made from it.
public struct TemplateAccess: Sendable, Equatable {
    public var run = PrincipalSet()
    public var edit = PrincipalSet()
    public var read = PrincipalSet()

    public init(run: PrincipalSet = PrincipalSet(), edit: PrincipalSet = PrincipalSet(), read: PrincipalSet = PrincipalSet()) {
        self.run = run
        self.edit = edit
        self.read = read
    }

    public var json: JSONValue { .object([("run", run.json), ("edit", edit.json), ("read", read.json)]) }

    static func parse(_ v: JSONValue) throws(JobValidationError) -> TemplateAccess {
        guard let pairs = v.objectValue else { throw JobValidationError("invalid access: expected an object with run, edit and read") }
        var a = TemplateAccess()
        for (k, value) in pairs {
            guard ["run", "edit", "read"].contains(k) else {
                throw JobValidationError("invalid access: unknown rule '\(k)' (allowed: edit, read, run)")
            }
            guard let rule = value.objectValue else {
                throw JobValidationError("invalid access.\(k): expected {\"users\": [...], \"groups\": [...]}")
            }
            var set = PrincipalSet()
            for (field, list) in rule {
                guard field == "users" || field == "groups" else {
                    throw JobValidationError("invalid access.\(k): unknown key '\(field)' (allowed: groups, users)")
                }
                guard let items = list.arrayValue else { throw JobValidationError("invalid access.\(k).\(field): expected an array of names") }
                var names: [String] = []
                for item in items {
                    guard let s = item.stringValue, !s.isEmpty else {
                        throw JobValidationError("invalid access.\(k).\(field): names must be non-empty strings")
                    }
                    if !names.contains(s) { names.append(s) }
                }
                if field == "users" { set.users = names } else { set.groups = names }
            }
            switch k {
            case "run": a.run = set
            case "edit": a.edit = set
            default: a.read = set
            }
        }
        return a
    }
}

/// A named, stored job definition of an org (issue 13): a whitelist command (which may have
/// `{{param}}` slots), typed parameters, a target (node list or search query, which may have
/// slots too) and the job's other fields. Running it with values gives a `JobRequest`.
public struct JobTemplate: Sendable, Equatable {
    /// Where a job from the template runs.
    public enum Target: Sendable, Equatable {
        case nodes([String])
        case search(String)
    }

    public var name: String
    public var description: String?
    public var command: String
    public var parameters: [TemplateParameter]
    public var target: Target
    public var quorum: Quorum?
    public var runTimeout: Int?
    public var env: [(String, String)]?
    public var dir: String?
    public var user: String?
    public var file: String?
    public var captureOutput: Bool
    public var rateControl: RateControl?
    public var access: TemplateAccess

    public static func == (a: JobTemplate, b: JobTemplate) -> Bool { a.json == b.json }

    public init(name: String, command: String, parameters: [TemplateParameter] = [], target: Target,
                description: String? = nil, quorum: Quorum? = nil, runTimeout: Int? = nil, env: [(String, String)]? = nil,
                dir: String? = nil, user: String? = nil, file: String? = nil, captureOutput: Bool = false,
                rateControl: RateControl? = nil, access: TemplateAccess = TemplateAccess()) {
        self.name = name
        self.description = description
        self.command = command
        self.parameters = parameters
        self.target = target
        self.quorum = quorum
        self.runTimeout = runTimeout
        self.env = env
        self.dir = dir
        self.user = user
        self.file = file
        self.captureOutput = captureOutput
        self.rateControl = rateControl
        self.access = access
    }

    public static let allowedKeys: Set<String> = Set([
        "name", "description", "command", "parameters", "nodes", "search", "quorum", "run_timeout", "env", "dir", "user",
        "file", "capture_output", "access",
    ]).union(RateControl.keys)

    /// Template names: letters, digits, `.`, `_` and `-` (they appear in URLs).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 100
            && name.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || "._-".unicodeScalars.contains($0) }
    }

    public func parameter(_ name: String) -> TemplateParameter? { parameters.first { $0.name == name } }

    // MARK: Slots

    /// The text of `s` split into literal pieces and `{{name}}` slots.
    enum Piece: Equatable {
        case text(String)
        case slot(String)
    }

    static func pieces(_ s: String, field: String) throws(JobValidationError) -> [Piece] {
        var out: [Piece] = []
        var rest = Substring(s)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { out.append(.text(String(rest[..<open.lowerBound]))) }
            let after = rest[open.upperBound...]
            guard let close = after.firstRange(of: "}}") else {
                throw JobValidationError("invalid \(field): '{{' without a closing '}}' in '\(s)'")
            }
            let name = after[..<close.lowerBound].trimmingWhitespace()
            guard TemplateParameter.isValidName(name) else {
                throw JobValidationError("invalid \(field): '{{\(after[..<close.lowerBound])}}' is not a parameter slot (write {{name}})")
            }
            out.append(.slot(name))
            rest = after[close.upperBound...]
        }
        if !rest.isEmpty { out.append(.text(String(rest))) }
        return out
    }

    static func slots(_ s: String, field: String) throws(JobValidationError) -> [String] {
        try pieces(s, field: field).compactMap { if case .slot(let n) = $0 { n } else { nil } }
    }

    static func fill(_ s: String, _ values: [String: String]) -> String {
        // Slots were checked at parse time, so this cannot fail.
        let parts = (try? pieces(s, field: "")) ?? [.text(s)]
        return parts.map { piece in
            switch piece {
            case .text(let t): t
            case .slot(let n): values[n] ?? ""
            }
        }.joined()
    }

    // MARK: Parsing

    /// Parses a template body. `name` is the name from the URL (PUT); the body's `name`, when
    /// given, must agree with it.
    public static func parse(_ body: [UInt8], name urlName: String? = nil) throws(JobValidationError) -> JobTemplate {
        let v: JSONValue
        do { v = try JSONValue.parse(body) } catch {
            throw JobValidationError("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
        return try parse(v, name: urlName)
    }

    public static func parse(_ v: JSONValue, name urlName: String? = nil) throws(JobValidationError) -> JobTemplate {
        guard let pairs = v.objectValue else { throw JobValidationError("a template must be a JSON object") }
        for (k, _) in pairs where !allowedKeys.contains(k) {
            throw JobValidationError("invalid key supplied: '\(k)' (allowed: \(allowedKeys.sorted().joined(separator: ", ")))")
        }
        let bodyName = v["name"]
        if let bodyName, bodyName.stringValue == nil { throw JobValidationError("invalid name supplied (expected a string)") }
        guard let name = urlName ?? bodyName?.stringValue else { throw JobValidationError("invalid name supplied (missing 'name')") }
        if let urlName, let b = bodyName?.stringValue, b != urlName {
            throw JobValidationError("the body names template '\(b)' but the URL names '\(urlName)'")
        }
        guard isValidName(name) else {
            throw JobValidationError("invalid name supplied: '\(name)' (letters, digits, '.', '_' and '-', at most 100)")
        }
        var description: String?
        if let d = v["description"] {
            guard let s = d.stringValue else { throw JobValidationError("invalid type supplied for description (expected a string)") }
            description = s
        }

        // Parameters.
        var parameters: [TemplateParameter] = []
        if let p = v["parameters"] {
            guard let entries = p.objectValue else {
                throw JobValidationError("invalid parameters: expected an object of name → {\"type\": ...}")
            }
            var envNames = Set<String>()
            for (pname, spec) in entries {
                let param = try TemplateParameter.parse(name: pname, spec)
                guard envNames.insert(param.environmentName).inserted else {
                    throw JobValidationError("invalid parameters: '\(pname)' clashes with another parameter (both are \(param.environmentName))")
                }
                parameters.append(param)
            }
        }
        let known = Set(parameters.map(\.name))

        // Command (with slots), checked by the job parser's rules via a stand-in request.
        guard let commandValue = v["command"] else { throw JobValidationError("invalid command supplied (missing 'command')") }
        guard let command = commandValue.stringValue else { throw JobValidationError("invalid command supplied (expected a string)") }
        guard !command.isEmpty else { throw JobValidationError("invalid command supplied (empty command)") }
        for slot in try slots(command, field: "command") where !known.contains(slot) {
            throw JobValidationError("invalid command: slot {{\(slot)}} names no parameter (declare it under 'parameters')")
        }

        // Target: exactly one of nodes and search; slots only for parameters safe in a target.
        func checkTargetSlots(_ s: String, _ field: String) throws(JobValidationError) {
            for slot in try slots(s, field: field) {
                guard let p = parameters.first(where: { $0.name == slot }) else {
                    throw JobValidationError("invalid \(field): slot {{\(slot)}} names no parameter (declare it under 'parameters')")
                }
                guard p.isSafeInTarget else {
                    throw JobValidationError("invalid \(field): parameter '\(slot)' is a string without a pattern; a parameter used in the target needs a 'pattern' (or type enum, integer or boolean) so a value cannot change the search or the node list")
                }
            }
        }
        let target: Target
        switch (v["nodes"], v["search"]) {
        case (nil, nil): throw JobValidationError("a template needs a target: 'nodes' (a list of node names) or 'search' (a query such as \"role:webapp\")")
        case (.some, .some): throw JobValidationError("give either 'nodes' or 'search' as the target, not both")
        case (.some(let n), nil):
            guard let arr = n.arrayValue, !arr.isEmpty else {
                throw JobValidationError("invalid nodes supplied ('nodes' must be a non-empty array of node names)")
            }
            var names: [String] = []
            for x in arr {
                guard let s = x.stringValue, !s.isEmpty else { throw JobValidationError("invalid node name supplied (node names must be non-empty strings)") }
                try checkTargetSlots(s, "nodes")
                if !names.contains(s) { names.append(s) }
            }
            target = .nodes(names)
        case (nil, .some(let s)):
            guard let q = s.stringValue, !q.trimmingWhitespace().isEmpty else {
                throw JobValidationError("invalid search supplied (expected a non-empty query string such as \"role:webapp\")")
            }
            try checkTargetSlots(q, "search")
            target = .search(q)
        }

        // The remaining job fields go through the job parser, so they mean exactly what they
        // mean in POST /jobs.
        var jobFields: [(String, JSONValue)] = [("command", .string("x")), ("nodes", ["x"])]
        for (k, value) in pairs where JobRequest.allowedKeys.contains(k) && k != "command" && k != "nodes" {
            jobFields.append((k, value))
        }
        let job = try JobRequest.parse(JSONValue.object(jobFields).bytes)
        for (k, _) in job.env ?? [] where k.uppercased().hasPrefix("CHEF_PUSH_PARAM_") {
            throw JobValidationError("invalid env: '\(k)' is reserved for parameter values (CHEF_PUSH_PARAM_<NAME>)")
        }
        var access = TemplateAccess()
        if let a = v["access"] { access = try TemplateAccess.parse(a) }
        return JobTemplate(
            name: name, command: command, parameters: parameters, target: target, description: description,
            quorum: job.quorum, runTimeout: job.runTimeout, env: job.env, dir: job.dir, user: job.user, file: job.file,
            captureOutput: job.captureOutput, rateControl: job.rateControl, access: access)
    }

    /// The template as stored and shown (the same keys `parse` reads).
    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("name", .string(name))]
        if let description { o.append(("description", .string(description))) }
        o.append(("command", .string(command)))
        o.append(("parameters", .object(parameters.map { ($0.name, $0.json) })))
        switch target {
        case .nodes(let n): o.append(("nodes", .array(n.map(JSONValue.string))))
        case .search(let q): o.append(("search", .string(q)))
        }
        // The job fields, exactly as a job request writes them.
        let job = JobRequest(command: command, nodes: [], quorum: quorum, runTimeout: runTimeout, user: user, dir: dir,
                             env: env, file: file, captureOutput: captureOutput, rateControl: rateControl)
        for (k, value) in job.json.objectValue ?? [] where k != "command" && k != "nodes" { o.append((k, value)) }
        o.append(("access", access.json))
        return .object(o)
    }

    // MARK: Running

    /// A template with its parameter values checked and its slots filled; the target is still
    /// to be resolved (a search runs on the server) before it becomes a `JobRequest`.
    public struct Instance: Sendable, Equatable {
        public var command: String
        public var target: Target
        /// Every parameter's value (given or default), in the template's order; parameters
        /// without a value are left out.
        public var values: [(String, String)]
        public var template: JobTemplate

        public static func == (a: Instance, b: Instance) -> Bool {
            a.command == b.command && a.target == b.target && a.template == b.template
                && a.values.map { "\($0.0)=\($0.1)" } == b.values.map { "\($0.0)=\($0.1)" }
        }

        /// The job on `nodes`: the template's fields, the filled command, and the template's env
        /// plus `CHEF_PUSH_PARAM_<NAME>` for each value.
        public func jobRequest(nodes: [String]) -> JobRequest {
            var env = template.env ?? []
            for (name, value) in values {
                if let p = template.parameter(name) { env.append((p.environmentName, value)) }
            }
            return JobRequest(
                command: command, nodes: nodes, quorum: template.quorum, runTimeout: template.runTimeout,
                user: template.user, dir: template.dir, env: env.isEmpty ? nil : env, file: template.file,
                captureOutput: template.captureOutput, rateControl: template.rateControl)
        }
    }

    /// Checks `given` (parameter name → value) and fills the slots. A 400-worthy error names
    /// the parameter and what was wrong: unknown, missing, wrong type, no match.
    public func instantiate(_ given: [(String, JSONValue)]) throws(JobValidationError) -> Instance {
        var seen = Set<String>()
        for (k, _) in given {
            guard parameter(k) != nil else {
                let names = parameters.map(\.name)
                throw JobValidationError("unknown parameter '\(k)' for template '\(name)' (its parameters: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            }
            guard seen.insert(k).inserted else { throw JobValidationError("parameter '\(k)' is given twice") }
        }
        var values: [(String, String)] = []
        var table: [String: String] = [:]
        for p in parameters {
            let text: String
            if let v = given.first(where: { $0.0 == p.name })?.1 {
                text = try p.validate(v)
            } else if let d = p.defaultValue {
                text = d
            } else if p.required {
                throw JobValidationError("missing parameter '\(p.name)' (required\(p.description.map { ": \($0)" } ?? ""))")
            } else {
                continue
            }
            values.append((p.name, text))
            table[p.name] = text
        }
        // A slot of a parameter with no value (optional, no default) is filled with nothing
        // in the command, but a target must not change shape: refuse instead.
        func targetSlotsFilled(_ s: String) throws(JobValidationError) {
            for slot in try Self.slots(s, field: "target") where table[slot] == nil {
                throw JobValidationError("missing parameter '\(slot)' (the target uses it)")
            }
        }
        let target: Target
        switch self.target {
        case .nodes(let names):
            for n in names { try targetSlotsFilled(n) }
            var filled: [String] = []
            for n in names.map({ Self.fill($0, table) }) where !filled.contains(n) { filled.append(n) }
            target = .nodes(filled)
        case .search(let q):
            try targetSlotsFilled(q)
            target = .search(Self.fill(q, table))
        }
        return Instance(command: Self.fill(command, table), target: target, values: values, template: self)
    }
}

/// The body of `POST .../templates/{name}/run`: parameter values and, optionally, a subset of
/// the template's target to run on.
public struct TemplateRunRequest: Sendable, Equatable {
    public var parameters: [(String, JSONValue)]
    /// Run on these nodes only; each must be in the template's target.
    public var nodes: [String]?

    public static func == (a: TemplateRunRequest, b: TemplateRunRequest) -> Bool {
        a.nodes == b.nodes && JSONValue.object(a.parameters) == JSONValue.object(b.parameters)
    }

    public init(parameters: [(String, JSONValue)] = [], nodes: [String]? = nil) {
        self.parameters = parameters
        self.nodes = nodes
    }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("parameters", .object(parameters))]
        if let nodes { o.append(("nodes", .array(nodes.map(JSONValue.string)))) }
        return .object(o)
    }

    public static func parse(_ body: [UInt8]) throws(JobValidationError) -> TemplateRunRequest {
        if body.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) { return TemplateRunRequest() }
        let v: JSONValue
        do { v = try JSONValue.parse(body) } catch {
            throw JobValidationError("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
        guard let pairs = v.objectValue else { throw JobValidationError("request body must be a JSON object") }
        for (k, _) in pairs where k != "parameters" && k != "nodes" {
            throw JobValidationError("invalid key supplied: '\(k)' (allowed: nodes, parameters)")
        }
        var r = TemplateRunRequest()
        if let p = v["parameters"] {
            guard let params = p.objectValue else { throw JobValidationError("invalid parameters: expected an object of name → value") }
            r.parameters = params
        }
        if let n = v["nodes"] {
            guard let arr = n.arrayValue, !arr.isEmpty else {
                throw JobValidationError("invalid nodes supplied ('nodes' must be a non-empty array of node names)")
            }
            var names: [String] = []
            for x in arr {
                guard let s = x.stringValue, !s.isEmpty else { throw JobValidationError("invalid node name supplied (node names must be non-empty strings)") }
                if !names.contains(s) { names.append(s) }
            }
            r.nodes = names
        }
        return r
    }
}
