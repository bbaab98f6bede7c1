import FoundationEssentials

/// One typed parameter of a job template (issue 13): what a value may be, whether it must be
/// given, and what it defaults to. Values are checked here, on the server, before anything is
/// sent to a node; they never pass through a shell on the server.
public struct TemplateParameter: Sendable, Equatable {
    /// The parameter's type and its constraints.
    public enum Kind: Sendable, Equatable {
        /// Any string, or one matching `pattern` as a whole (ICU regex syntax, implicitly anchored; UserRegex).
        case string(pattern: String?)
        /// A whole number, optionally within `min...max`.
        case integer(min: Int?, max: Int?)
        /// One of `values`.
        case enumeration([String])
        /// `true` or `false`.
        case boolean

        public var typeName: String {
            switch self {
            case .string: "string"
            case .integer: "integer"
            case .enumeration: "enum"
            case .boolean: "boolean"
            }
        }
    }

    public var name: String
    public var kind: Kind
    /// Must be given when running the template (a parameter with a default never is).
    public var required: Bool
    /// Canonical text of the default value (already validated), nil when none.
    public var defaultValue: String?
    public var description: String?

    public init(name: String, kind: Kind, required: Bool = false, defaultValue: String? = nil, description: String? = nil) {
        self.name = name
        self.kind = kind
        self.required = required
        self.defaultValue = defaultValue
        self.description = description
    }

    /// The environment variable the value reaches the node in.
    public var environmentName: String { "CHEF_PUSH_PARAM_" + name.uppercased() }

    /// Whether a value is constrained enough to be put into a job's target (node names or a
    /// search query): a string needs a pattern, the other types are closed sets of safe text.
    public var isSafeInTarget: Bool {
        if case .string(let pattern) = kind { return pattern != nil }
        return true
    }

    /// Parameter names: letters, digits and `_`, not starting with a digit (they become env names).
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.isEmpty, name.utf8.count <= 64 else { return false }
        guard first == "_" || first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.isASCIIAlphanumeric }
    }

    /// Checks `value` and returns its canonical text (what fills slots and env).
    /// Integers and booleans may be given as JSON numbers/booleans or as their text (the CLI's `k=v`).
    public func validate(_ value: JSONValue) throws(JobValidationError) -> String {
        func bad(_ what: String) -> JobValidationError {
            JobValidationError("invalid value for parameter '\(name)': \(what)")
        }
        switch kind {
        case .string(let pattern):
            guard let s = value.stringValue else { throw bad("expected a string, got \(Self.describe(value))") }
            if let pattern {
                guard let re = Self.compile(pattern), Self.matchesWhole(re, s) else {
                    throw bad("'\(s)' does not match the pattern /\(pattern)/")
                }
            }
            return s
        case .integer(let lo, let hi):
            var n: Int?
            if let d = value.doubleValue, d.rounded() == d, abs(d) < 1e15 { n = Int(d) }
            if let s = value.stringValue { n = Int(s.trimmingWhitespace()) }
            guard let n else { throw bad("expected a whole number, got \(Self.describe(value))") }
            if let lo, n < lo { throw bad("\(n) is below the minimum \(lo)") }
            if let hi, n > hi { throw bad("\(n) is above the maximum \(hi)") }
            return String(n)
        case .enumeration(let values):
            guard let s = value.stringValue else { throw bad("expected one of \(values.joined(separator: ", ")), got \(Self.describe(value))") }
            guard values.contains(s) else { throw bad("'\(s)' is not one of \(values.joined(separator: ", "))") }
            return s
        case .boolean:
            if let b = value.boolValue { return String(b) }
            if let s = value.stringValue, s == "true" || s == "false" { return s }
            throw bad("expected true or false, got \(Self.describe(value))")
        }
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): "the string '\(s)'"
        case .number: "the number \(v.serialized())"
        case .bool(let b): "the boolean \(b)"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The pattern anchored at both ends, as users' patterns always were.
    static func compile(_ pattern: String) -> Regex<AnyRegexOutput>? {
        UserRegex.compile("^(?:" + pattern + ")$")
    }

    static func matchesWhole(_ re: Regex<AnyRegexOutput>, _ s: String) -> Bool {
        // A value with a line break never matches: `^…$` must span the whole string. Scalars, as
        // a "\r\n" is one Character and would hide both.
        guard !s.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) else { return false }
        return (try? re.wholeMatch(in: s)) != nil
    }

    // MARK: JSON

    static let allowedKeys: Set<String> = ["type", "pattern", "min", "max", "values", "required", "default", "description"]

    /// Parses one entry of a template's `parameters` object.
    public static func parse(name: String, _ v: JSONValue) throws(JobValidationError) -> TemplateParameter {
        func bad(_ what: String) -> JobValidationError { JobValidationError("invalid parameter '\(name)': \(what)") }
        guard isValidName(name) else {
            throw JobValidationError("invalid parameter name '\(name)' (letters, digits and _, not starting with a digit; it becomes CHEF_PUSH_PARAM_\(name.uppercased()))")
        }
        guard let pairs = v.objectValue else { throw bad("expected an object such as {\"type\": \"string\"}") }
        for (k, _) in pairs where !allowedKeys.contains(k) {
            throw bad("unknown key '\(k)' (allowed: \(allowedKeys.sorted().joined(separator: ", ")))")
        }
        guard let type = v["type"]?.stringValue else { throw bad("missing 'type' (string, integer, enum or boolean)") }
        func onlyFor(_ keys: [String], _ t: String) throws(JobValidationError) {
            for k in keys where v[k] != nil { throw bad("'\(k)' does not apply to type \(t)") }
        }
        let kind: Kind
        switch type {
        case "string":
            try onlyFor(["min", "max", "values"], type)
            var pattern: String?
            if let p = v["pattern"] {
                guard let s = p.stringValue, !s.isEmpty else { throw bad("'pattern' must be a non-empty string (a regular expression)") }
                guard compile(s) != nil else { throw bad("'pattern' /\(s)/ is not a valid regular expression") }
                pattern = s
            }
            kind = .string(pattern: pattern)
        case "integer":
            try onlyFor(["pattern", "values"], type)
            func bound(_ k: String) throws(JobValidationError) -> Int? {
                guard let x = v[k] else { return nil }
                guard let d = x.doubleValue, d.rounded() == d, abs(d) < 1e15 else { throw bad("'\(k)' must be a whole number") }
                return Int(d)
            }
            let lo = try bound("min"), hi = try bound("max")
            if let lo, let hi, lo > hi { throw bad("'min' \(lo) is above 'max' \(hi)") }
            kind = .integer(min: lo, max: hi)
        case "enum":
            try onlyFor(["pattern", "min", "max"], type)
            guard let arr = v["values"]?.arrayValue, !arr.isEmpty else { throw bad("type enum needs 'values', a non-empty array of strings") }
            var values: [String] = []
            for x in arr {
                guard let s = x.stringValue, !s.isEmpty else { throw bad("'values' must be non-empty strings") }
                guard !values.contains(s) else { throw bad("'values' lists '\(s)' twice") }
                values.append(s)
            }
            kind = .enumeration(values)
        case "boolean":
            try onlyFor(["pattern", "min", "max", "values"], type)
            kind = .boolean
        default:
            throw bad("unknown type '\(type)' (string, integer, enum or boolean)")
        }
        var p = TemplateParameter(name: name, kind: kind)
        if let r = v["required"] {
            guard let b = r.boolValue else { throw bad("'required' must be true or false") }
            p.required = b
        }
        if let d = v["description"] {
            guard let s = d.stringValue else { throw bad("'description' must be a string") }
            p.description = s
        }
        if let d = v["default"] {
            if p.required { throw bad("a required parameter cannot have a default") }
            do { p.defaultValue = try p.validate(d) } catch { throw bad("its default is not valid: \(error.message)") }
        }
        return p
    }

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("type", .string(kind.typeName))]
        switch kind {
        case .string(let pattern): if let pattern { o.append(("pattern", .string(pattern))) }
        case .integer(let lo, let hi):
            if let lo { o.append(("min", .number(Double(lo)))) }
            if let hi { o.append(("max", .number(Double(hi)))) }
        case .enumeration(let values): o.append(("values", .array(values.map(JSONValue.string))))
        case .boolean: break
        }
        if required { o.append(("required", .bool(true))) }
        if let defaultValue {
            switch kind {
            case .integer: o.append(("default", .number(Double(Int(defaultValue) ?? 0))))
            case .boolean: o.append(("default", .bool(defaultValue == "true")))
            default: o.append(("default", .string(defaultValue)))
            }
        }
        if let description { o.append(("description", .string(description))) }
        return .object(o)
    }
}
