import ArgumentParser
import FoundationEssentials
import Logging
import PushyAgent
import PushyProtocol
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

@main
struct PushyClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushy-client",
        abstract: "The Pushy agent: keeps a node connected to a Pushy server and runs whitelisted commands.",
        discussion: """
            Every setting is a key of the JSON --config file, a flag, and (single values) an environment \
            variable PUSHY_<KEY>, e.g. PUSHY_SERVER_URL. A flag wins over the variable, the variable over the \
            file, the file over the default; the flags --whitelist, --role, --tag and --attribute add to the \
            file's lists. docs/agent.md lists every key with its default; --check-config prints what the \
            agent would use and where each value came from. Unknown keys and wrong types are errors.

            Whitelist entries map a job command to the command line that runs: 'NAME=COMMAND LINE', or \
            '/REGEX/=COMMAND LINE' where \\1 in the command line is replaced by the regex's first group. With no \
            whitelist, only 'chef-client' is allowed. A config-file entry {"command_line": "...", "lock": true} \
            (or "lock": "/path") takes that lock file with a non-blocking flock before accepting a job and refuses \
            the job while another process holds it.

            Jobs get the job's env (when --allowed-overwritable-env-var is given, other keys arrive as \
            CHEF_PUSH_ENV_<KEY>), CHEF_PUSH_NODE_NAME, CHEF_PUSH_JOB_ID and, with a file, CHEF_PUSH_JOB_FILE. \
            Running a job as another user needs the agent to run as root. Abort and run timeouts kill the \
            job's whole process group (SIGTERM, then SIGKILL).
            """)

    @Option(name: [.short, .long], help: "JSON config file (keys: docs/agent.md).") var config: String?
    @Option(name: [.customShort("S"), .long], help: "Org URL, e.g. https://127.0.0.1:10003/organizations/pushy (server_url).")
    var serverUrl: String?
    @Option(name: [.customShort("N"), .long], help: "Node (and client) name (node_name).") var node: String?
    @Option(name: [.short, .long], help: "The node's private key, PEM (client_key).") var key: String?
    @Option(name: .long, help: "Whitelist entry 'NAME=COMMAND LINE' or '/REGEX/=COMMAND LINE' (repeatable; adds to the file's).")
    var whitelist: [String] = []
    @Option(name: .long, help: "Role of this node, searchable as role:NAME (repeatable; adds to roles).") var role: [String] = []
    @Option(name: .long, help: "Environment of this node (default _default).") var environment: String?
    @Option(name: .long, help: "Tag of this node, searchable as tags:NAME (repeatable; adds to tags).") var tag: [String] = []
    @Option(name: .long, help: "Attribute KEY=VALUE, searchable as KEY:VALUE (repeatable; adds to attributes).")
    var attribute: [String] = []
    @Option(name: [.customShort("d"), .long], help: "Directory for job files and output (file_dir).") var fileDir: String?
    @Option(name: .long, help: ArgumentHelp(
        "Job env key that may overwrite the agent's environment (repeatable; replaces allowed_overwritable_env_vars); when any is given, other keys arrive as CHEF_PUSH_ENV_<KEY>.",
        valueName: "KEY"))
    var allowedOverwritableEnvVar: [String] = []
    @Option(name: [.customShort("M"), .long], help: "Most bytes of stdout+stderr returned with a result (default 63000; the tail is kept).")
    var maxBodySize: Int?
    @Option(name: .long, help: "Lock file of whitelist entries with \"lock\": true.") var lockfile: String?
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default info).") var logLevel: String?
    @Flag(name: .long, help: "Connect without CURVE encryption when the server offers none (allow_unencrypted).")
    var allowUnencrypted = false
    @Option(name: .long, help: "PEM certificate to trust for the server's HTTPS, besides the system roots (trusted_cert; pushy-server init writes DATA_DIR/tls.crt).")
    var trustedCert: String?
    @Option(name: .long, help: "One-time enrolment token ('pushy token create'): when --key does not exist yet, the agent makes its own key pair there and registers it (enrollment_token, env PUSHY_ENROLL_TOKEN).")
    var enrollToken: String?
    @Flag(name: .long, help: "Do not verify the server's HTTPS certificate (tests only; ssl_verify_mode \"verify_none\").")
    var insecure = false
    @Flag(name: .long, help: "Print the settings the agent would use and where each came from, then exit: 0 when they are valid, else 1 with every problem.")
    var checkConfig = false

    func run() async throws {
        let settings = AgentSettings.resolve(flags: flagValues, environment: ProcessInfo.processInfo.environment,
                                             configFile: config)
        if checkConfig { try check(settings) }
        do { try settings.validate() } catch {
            writeToStandardError("pushy-client: \(error)\n")
            throw ExitCode.validationFailure
        }
        let configuration: AgentConfiguration
        do {
            let privateKey = try await AgentEnrollment.key(
                at: settings.clientKey ?? "", enrollToken: settings.enrollmentToken, orgURL: settings.serverURL.flatMap { AgentConfiguration.urls(in: $0).first } ?? "",
                node: settings.nodeName ?? "", tls: settings.tls)
            configuration = try settings.configuration(key: privateKey)
        } catch {
            throw ValidationError("\(error)")
        }
        var logger = Logger(label: "pushy-client")
        logger.logLevel = settings.loggerLevel
        let runtime = try PushyAgentRuntime(config: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [AgentService(runtime: runtime)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// `--check-config`: the resolved settings on stdout, the problems on stderr.
    func check(_ settings: AgentSettings) throws -> Never {
        print(settings.summary.joined(separator: "\n"))
        var problems = settings.fileProblems()
        do { try settings.validate() } catch { problems = error.problems + problems }
        guard problems.isEmpty else {
            writeToStandardError("pushy-client: \(AgentSettingsError(problems: problems))\n")
            throw ExitCode.failure
        }
        throw ExitCode.success
    }

    /// The flags given, by setting key (`AgentSettings.keys` names each key's flag).
    var flagValues: [String: JSONValue] {
        var f: [String: JSONValue] = [:]
        func put(_ key: String, _ value: String?) { if let value { f[key] = .string(value) } }
        func add(_ key: String, _ values: [String]) { if !values.isEmpty { f[key] = .array(values.map(JSONValue.string)) } }
        put("server_url", serverUrl)
        put("node_name", node)
        put("client_key", key)
        put("enrollment_token", enrollToken)
        add("whitelist", whitelist)
        add("roles", role)
        put("environment", environment)
        add("tags", tag)
        add("attributes", attribute)
        put("file_dir", fileDir)
        add("allowed_overwritable_env_vars", allowedOverwritableEnvVar)
        if let maxBodySize { f["max_body_size"] = .number(Double(maxBodySize)) }
        put("lockfile", lockfile)
        if allowUnencrypted { f["allow_unencrypted"] = .bool(true) }
        put("trusted_cert", trustedCert)
        if insecure { f["ssl_verify_mode"] = .string("verify_none") }
        put("log_level", logLevel)
        return f
    }
}

/// Runs the agent until a graceful shutdown.
struct AgentService: Service {
    let runtime: PushyAgentRuntime
    func run() async throws {
        await cancelWhenGracefulShutdown { await runtime.run() }
    }
}

/// Unbuffered, as `FileHandle.standardError.write` was (FoundationEssentials has no FileHandle).
func writeToStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        offset += n
    }
}
