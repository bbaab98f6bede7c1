import ArgumentParser
import Foundation
import Logging
import PushyAPIClient
import PushyAgent
import PushyCore
import PushyProtocol
import ServiceLifecycle

@main
struct PushyClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushy-client",
        abstract: "The Pushy agent: keeps a node connected to a Pushy server and runs whitelisted commands.",
        discussion: """
            Settings come from flags, then from --config (a JSON file with the keys server_url, node_name, \
            client_key, whitelist, roles, environment, tags, attributes, file_dir, allowed_overwritable_env_vars, \
            max_body_size, lockfile).

            Whitelist entries map a job command to the command line that runs: 'NAME=COMMAND LINE', or \
            '/REGEX/=COMMAND LINE' where \\1 in the command line is replaced by the regex's first group. With no \
            whitelist, only 'chef-client' is allowed. A config-file entry {"command_line": "...", "lock": true} \
            (or "lock": "/path") takes that lock file with a non-blocking flock before accepting a job and refuses \
            the job while another process holds it; true means --lockfile, else \
            /var/chef/cache/chef-client-running.pid when /var/chef/cache exists, else FILE_DIR/chef-client-running.pid.

            Jobs get the job's env (when --allowed-overwritable-env-var is given, other keys arrive as \
            CHEF_PUSH_ENV_<KEY>), CHEF_PUSH_NODE_NAME, CHEF_PUSH_JOB_ID and, with a file, CHEF_PUSH_JOB_FILE. \
            Running a job as another user needs the agent to run as root. Abort and run timeouts kill the \
            job's whole process group (SIGTERM, then SIGKILL).
            """)

    @Option(name: [.short, .long], help: "JSON config file.") var config: String?
    @Option(name: [.customShort("S"), .long], help: "Org URL, e.g. http://127.0.0.1:10003/organizations/pushy.")
    var serverUrl: String?
    @Option(name: [.customShort("N"), .long], help: "Node (and client) name.") var node: String?
    @Option(name: [.short, .long], help: "The node's private key (PEM).") var key: String?
    @Option(name: .long, help: "Whitelist entry 'NAME=COMMAND LINE' or '/REGEX/=COMMAND LINE' (repeatable).")
    var whitelist: [String] = []
    @Option(name: .long, help: "Role of this node, searchable as role:NAME (repeatable).") var role: [String] = []
    @Option(name: .long, help: "Environment of this node (default _default).") var environment: String?
    @Option(name: .long, help: "Tag of this node, searchable as tags:NAME (repeatable).") var tag: [String] = []
    @Option(name: .long, help: "Attribute KEY=VALUE, searchable as KEY:VALUE (repeatable).") var attribute: [String] = []
    @Option(name: [.customShort("d"), .long], help: "Directory for job files and output.") var fileDir: String?
    @Option(name: .long, help: ArgumentHelp(
        "Job env key that may overwrite the agent's environment (repeatable); when any is given, other keys arrive as CHEF_PUSH_ENV_<KEY>.",
        valueName: "KEY"))
    var allowedOverwritableEnvVar: [String] = []
    @Option(name: [.customShort("M"), .long], help: "Most bytes of stdout+stderr returned with a result (default 63000; the tail is kept).")
    var maxBodySize: Int?
    @Option(name: .long, help: "Lock file of whitelist entries with \"lock\": true.") var lockfile: String?
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Flag(name: .long, help: "Connect without CURVE encryption when the server offers none (config key allow_unencrypted).")
    var allowUnencrypted = false
    @Option(name: .long, help: "PEM certificate to trust for the server's HTTPS, besides the system roots (config key trusted_cert; pushy-server init writes DATA_DIR/tls.crt).")
    var trustedCert: String?
    @Option(name: .long, help: "One-time enrolment token ('pushy token create'): when --key does not exist yet, the agent makes its own key pair there and registers it (config key enrollment_token, env PUSHY_ENROLL_TOKEN).")
    var enrollToken: String?
    @Flag(name: .long, help: "Do not verify the server's HTTPS certificate (tests only; config key ssl_verify_mode \"verify_none\").")
    var insecure = false

    func run() async throws {
        let file = try loadFile()
        guard let url = serverUrl ?? file["server_url"]?.stringValue ?? file["chef_server_url"]?.stringValue else {
            throw ValidationError("missing --server-url (the org URL, e.g. http://127.0.0.1:10003/organizations/pushy)")
        }
        guard let nodeName = node ?? file["node_name"]?.stringValue else { throw ValidationError("missing --node NAME") }
        guard let keyPath = key ?? file["client_key"]?.stringValue else {
            throw ValidationError("missing --key PATH (create one with 'pushy client create \(nodeName) --key-out \(nodeName).pem')")
        }
        var entries: [WhitelistEntry] = []
        if let w = file["whitelist"] {
            do { entries = try Whitelist.fromJSON(w).entries } catch { throw ValidationError("whitelist in \(config ?? ""): \(error)") }
        }
        for flag in whitelist {
            do { entries.append(try WhitelistEntry.parse(flag: flag)) } catch {
                throw ValidationError("--whitelist '\(flag)': \(error)")
            }
        }
        let list: Whitelist
        do { list = entries.isEmpty ? Whitelist.chefDefault : try Whitelist(entries: entries) } catch {
            throw ValidationError("whitelist: \(error)")
        }
        let tls = ClientTLS(
            trustedCertificatePath: trustedCert ?? file["trusted_cert"]?.stringValue,
            verify: !(insecure || file["ssl_verify_mode"]?.stringValue == "verify_none"))
        let privateKey: RSAPrivateKey
        do {
            privateKey = try await AgentEnrollment.key(
                at: keyPath, enrollToken: enrollToken ?? file["enrollment_token"]?.stringValue
                    ?? ProcessInfo.processInfo.environment["PUSHY_ENROLL_TOKEN"],
                orgURL: url, node: nodeName, tls: tls)
        } catch {
            throw ValidationError("\(error)")
        }
        var c = AgentConfiguration(serverURL: url, nodeName: nodeName, key: privateKey, whitelist: list)
        c.tls = tls
        guard c.orgName != nil else {
            throw ValidationError("--server-url must contain /organizations/ORG (got '\(url)')")
        }
        c.roles = role + (file["roles"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        c.tags = tag + (file["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        c.environment = environment ?? file["environment"]?.stringValue ?? "_default"
        var attrs = (file["attributes"]?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }
        for a in attribute {
            let kv = a.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, !kv[0].isEmpty else { throw ValidationError("--attribute '\(a)': expected KEY=VALUE") }
            attrs.append((String(kv[0]), String(kv[1])))
        }
        c.attributes = attrs
        if let d = fileDir ?? file["file_dir"]?.stringValue { c.fileDir = d }
        if !allowedOverwritableEnvVar.isEmpty {
            c.allowedOverwritableEnvVars = allowedOverwritableEnvVar
        } else if let list = file["allowed_overwritable_env_vars"], !list.isNull {
            guard let keys = list.arrayValue?.compactMap(\.stringValue), keys.count == list.arrayValue?.count else {
                throw ValidationError("allowed_overwritable_env_vars in \(config ?? ""): expected a list of strings")
            }
            c.allowedOverwritableEnvVars = keys
        }
        if let m = maxBodySize ?? file["max_body_size"]?.intValue {
            guard m >= 1024 else { throw ValidationError("--max-body-size must be at least 1024 bytes") }
            c.maxBodySize = m
        }
        if let l = lockfile ?? file["lockfile"]?.stringValue { c.lockFile = l }
        c.allowUnencrypted = allowUnencrypted || file["allow_unencrypted"]?.boolValue == true

        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        var logger = Logger(label: "pushy-client")
        logger.logLevel = level
        let runtime = try PushyAgentRuntime(config: c, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [AgentService(runtime: runtime)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    func loadFile() throws -> JSONValue {
        guard let config else { return .object([]) }
        guard let data = FileManager.default.contents(atPath: config) else {
            throw ValidationError("cannot read config file \(config)")
        }
        do { return try JSONValue.parse(Array(data)) } catch { throw ValidationError("config file \(config): \(error)") }
    }
}

/// Runs the agent until a graceful shutdown.
struct AgentService: Service {
    let runtime: PushyAgentRuntime
    func run() async throws {
        await cancelWhenGracefulShutdown { await runtime.run() }
    }
}
