import FoundationEssentials

/// A schedule as `POST .../pushy/schedules` takes it and the store keeps it (issue 14):
///
///     {"name": "nightly-restart", "cron": "0 3 * * *", "time_zone": "Europe/Berlin",
///      "template": "restart-app", "parameters": {"service": "nginx"},
///      "missed_runs": "skip", "overlap": "skip"}
///
/// Exactly one of `cron` (with an optional `time_zone`, UTC by default) and `at` (a one-shot,
/// `YYYY-MM-DDTHH:MM:SSZ`); exactly one of `template` (+ `parameters`, `nodes` to narrow its
/// target) and `job` (a full `POST /jobs` body). The cron text and the zone are checked by the
/// server (the expression parser lives in PushyCore).
public struct ScheduleSpec: Sendable, Equatable {
    public enum When: Sendable, Equatable {
        case cron(String, timeZone: String)
        case at(Date)
    }

    public enum Run: Sendable, Equatable {
        case template(name: String, parameters: [(String, JSONValue)], nodes: [String]?)
        case job(JobRequest)

        public static func == (a: Run, b: Run) -> Bool {
            switch (a, b) {
            case let (.template(n1, p1, s1), .template(n2, p2, s2)): n1 == n2 && JSONValue.object(p1) == JSONValue.object(p2) && s1 == s2
            case let (.job(j1), .job(j2)): j1.json == j2.json
            default: false
            }
        }
    }

    public var name: String
    public var description: String?
    public var when: When
    public var run: Run
    /// `skip` (default) or `run_once`.
    public var missedRuns: String
    /// `skip` (default) or `queue`.
    public var overlap: String

    public init(name: String, description: String? = nil, when: When, run: Run, missedRuns: String = "skip",
                overlap: String = "skip") {
        self.name = name
        self.description = description
        self.when = when
        self.run = run
        self.missedRuns = missedRuns
        self.overlap = overlap
    }

    static let allowedKeys: Set<String> = [
        "name", "description", "cron", "time_zone", "at", "template", "parameters", "nodes", "job", "missed_runs", "overlap",
    ]

    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("name", .string(name))]
        if let description { o.append(("description", .string(description))) }
        switch when {
        case .cron(let e, let z): o += [("cron", .string(e)), ("time_zone", .string(z))]
        case .at(let d): o.append(("at", .string(WireTime.iso8601(d))))
        }
        switch run {
        case .template(let t, let p, let nodes):
            o += [("template", .string(t)), ("parameters", .object(p))]
            if let nodes { o.append(("nodes", .array(nodes.map(JSONValue.string)))) }
        case .job(let j): o.append(("job", j.json))
        }
        o += [("missed_runs", .string(missedRuns)), ("overlap", .string(overlap))]
        return .object(o)
    }

    public static func parse(_ body: [UInt8], name urlName: String? = nil) throws(JobValidationError) -> ScheduleSpec {
        let v: JSONValue
        do { v = try JSONValue.parse(body) } catch {
            throw JobValidationError("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
        return try parse(v)
    }

    public static func parse(_ v: JSONValue) throws(JobValidationError) -> ScheduleSpec {
        guard let pairs = v.objectValue else { throw JobValidationError("a schedule must be a JSON object") }
        for (k, _) in pairs where !allowedKeys.contains(k) {
            throw JobValidationError("invalid key supplied: '\(k)' (allowed: \(allowedKeys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws(JobValidationError) -> String? {
            guard let x = v[key] else { return nil }
            guard let s = x.stringValue else { throw JobValidationError("invalid \(key) supplied (expected a string)") }
            return s
        }
        guard let name = try string("name") else { throw JobValidationError("invalid name supplied (missing 'name')") }
        guard JobTemplate.isValidName(name) else {
            throw JobValidationError("invalid name supplied: '\(name)' (letters, digits, '.', '_' and '-', at most 100)")
        }
        let when: When
        switch (try string("cron"), try string("at")) {
        case (let c?, nil):
            guard !c.trimmingWhitespace().isEmpty else { throw JobValidationError("invalid cron supplied (empty)") }
            when = .cron(c, timeZone: try string("time_zone") ?? "UTC")
        case (nil, let a?):
            guard v["time_zone"] == nil else {
                throw JobValidationError("time_zone goes with cron; 'at' is an instant in UTC (YYYY-MM-DDTHH:MM:SSZ)")
            }
            guard let d = WireTime.parseISO8601(a) else {
                throw JobValidationError("invalid at supplied: '\(a)' (expected UTC as YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-12-24T18:00:00Z)")
            }
            when = .at(d)
        case (nil, nil):
            throw JobValidationError("a schedule needs 'cron' (e.g. \"0 3 * * *\" or \"@daily\") or 'at' (a one-shot, e.g. \"2026-12-24T18:00:00Z\")")
        case (_?, _?):
            throw JobValidationError("give either 'cron' or 'at', not both")
        }
        let run: Run
        switch (try string("template"), v["job"]) {
        case (let t?, nil):
            var parameters: [(String, JSONValue)] = []
            if let p = v["parameters"] {
                guard let o = p.objectValue else { throw JobValidationError("invalid parameters supplied (expected an object of name → value)") }
                parameters = o
            }
            var nodes: [String]?
            if let n = v["nodes"] {
                guard let list = n.arrayValue?.compactMap(\.stringValue), list.count == n.arrayValue?.count, !list.isEmpty else {
                    throw JobValidationError("invalid nodes supplied (expected a non-empty array of node names that narrows the template's target)")
                }
                nodes = list
            }
            run = .template(name: t, parameters: parameters, nodes: nodes)
        case (nil, let j?):
            guard v["parameters"] == nil, v["nodes"] == nil else {
                throw JobValidationError("'parameters' and 'nodes' go with 'template'; a 'job' carries its own nodes")
            }
            do { run = .job(try JobRequest.parse(j.bytes)) } catch {
                throw JobValidationError("invalid job: \(error.message)")
            }
        case (nil, nil):
            throw JobValidationError("a schedule needs 'template' (a template name, with 'parameters') or 'job' (a job spec like POST /jobs takes)")
        case (_?, _?):
            throw JobValidationError("give either 'template' or 'job', not both")
        }
        let missed = try string("missed_runs") ?? "skip"
        guard ["skip", "run_once"].contains(missed) else {
            throw JobValidationError("invalid missed_runs supplied: '\(missed)' (skip or run_once)")
        }
        let overlap = try string("overlap") ?? "skip"
        guard ["skip", "queue"].contains(overlap) else {
            throw JobValidationError("invalid overlap supplied: '\(overlap)' (skip or queue)")
        }
        return ScheduleSpec(name: name, description: try string("description"), when: when, run: run, missedRuns: missed,
                            overlap: overlap)
    }
}
