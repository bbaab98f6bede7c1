import FoundationEssentials
import Logging
import PushyCore

/// Everything wrong with an agent's settings, one line each, so an operator fixes them all at once.
public struct AgentSettingsError: Error, CustomStringConvertible {
    public let problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String { "invalid settings:\n" + problems.map { "  - " + $0 }.joined(separator: "\n") }
}

extension AgentSettings {
    /// Checks the values the agent cannot work with and throws every problem found, those of
    /// reading the sources (`readProblems`) first. Touches no files.
    public func validate() throws(AgentSettingsError) {
        let problems = readProblems + valueProblems()
        guard problems.isEmpty else { throw AgentSettingsError(problems: problems) }
    }

    func valueProblems() -> [String] {
        var problems: [String] = []
        func value(_ name: String, _ shown: Any) -> String {
            "\(name) = \(shown)" + (sources[name].map { " (\($0))" } ?? "")
        }
        if let url = serverURL, !url.isEmpty {
            let orgs = Set(AgentConfiguration.urls(in: url).map(AgentConfiguration.orgName(in:)))
            if orgName == nil || orgs.contains(nil) {
                problems.append("\(value("server_url", "'\(url)'")): must contain /organizations/ORG (each URL of a comma-separated list)")
            } else if orgs.count > 1 {
                problems.append("\(value("server_url", "'\(url)'")): the URLs of a list must name the same organization")
            }
        } else {
            problems.append("missing server_url: the org URL, e.g. https://127.0.0.1:10003/organizations/pushy (--server-url, $PUSHY_SERVER_URL or server_url in the config file)")
        }
        if (nodeName ?? "").isEmpty {
            problems.append("missing node_name: the node's name (--node NAME, $PUSHY_NODE_NAME or node_name in the config file)")
        }
        if (clientKey ?? "").isEmpty {
            let node = nodeName.flatMap { $0.isEmpty ? nil : $0 } ?? "NODE"
            problems.append("missing client_key: the node's private key (--key PATH, $PUSHY_CLIENT_KEY or client_key in the config file; create one with 'pushy client create \(node) --key-out \(node).pem')")
        }
        if maxBodySize < 1024 {
            problems.append("\(value("max_body_size", maxBodySize)): must be at least 1024 bytes")
        }
        do { _ = try Whitelist(entries: whitelist) } catch {
            problems.append("whitelist\(sources["whitelist"].map { " (\($0))" } ?? ""): \(error)")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            problems.append("\(value("log_level", "'\(logLevel)'")): must be one of trace, debug, info, notice, warning, error, critical")
        }
        if !["verify_peer", "verify_none"].contains(sslVerifyMode) {
            problems.append("\(value("ssl_verify_mode", "'\(sslVerifyMode)'")): must be verify_peer or verify_none")
        }
        if fileDir.isEmpty { problems.append("\(value("file_dir", "''")): must name a directory") }
        if environment.isEmpty { problems.append("\(value("environment", "''")): must name an environment (default _default)") }
        for (name, list) in [("roles", roles), ("tags", tags), ("allowed_overwritable_env_vars", allowedOverwritableEnvVars ?? [])]
        where list.contains("") {
            problems.append("\(name)\(sources[name].map { " (\($0))" } ?? ""): entries must not be empty")
        }
        if let lockfile, lockfile.isEmpty { problems.append("\(value("lockfile", "''")): must name a file") }
        return problems
    }

    /// Files the agent will read at start: the key (unless it is to be made by enrolment) and
    /// the trusted certificate. For `--check-config`; the agent itself reports these when it starts.
    public func fileProblems() -> [String] {
        var problems: [String] = []
        let fm = FileManager.default
        if let key = clientKey, !key.isEmpty, !fm.isReadableFile(atPath: key), (enrollmentToken ?? "").isEmpty {
            problems.append("client_key \(key) cannot be read, and no enrollment_token is given to make it")
        }
        if let cert = trustedCert, !fm.isReadableFile(atPath: cert) {
            problems.append("trusted_cert \(cert) cannot be read")
        }
        return problems
    }

    /// " (did you mean KEY?)" when a known key is a likely typo of `name`, else "".
    static func suggestion(for name: String) -> String {
        let names = keys.flatMap { [$0.name] + $0.aliases }
        guard let best = names.min(by: { editDistance(name, $0) < editDistance(name, $1) }),
              editDistance(name, best) <= max(2, name.count / 3)
        else { return "" }
        return " (did you mean \(best)?)"
    }

    /// Levenshtein distance between two keys.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
