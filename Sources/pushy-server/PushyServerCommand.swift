import ArgumentParser
import Foundation
import Logging
import PushyServer
import PushyZMQ
import ServiceLifecycle

@main
struct PushyServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushy-server",
        abstract: "The Pushy push-jobs server: REST API, heartbeat broadcast and command channel.",
        subcommands: [Init.self, Run.self, Config.self])
}

/// Flags shared by `init`, `run` and `config`: one per setting of `ServerSettings.all` (its
/// help text comes from there), each overriding `PUSHY_SERVER_*` and `DATA_DIR/server.json`.
struct ServerOptions: ParsableArguments {
    static func help(_ name: String) -> ArgumentHelp {
        let s = ServerSettings.setting(named: name)!
        return ArgumentHelp("\(s.doc) (default \(s.defaultText); $\(s.environmentVariable))", valueName: name)
    }

    @Option(help: "Data directory (keys, database, server.json); or $PUSHY_SERVER_DATA_DIR.") var dataDir: String?
    @Option(name: .customLong("listen"), help: ServerOptions.help("listen_address")) var listenAddress: String?
    @Option(name: .customLong("host"), help: ServerOptions.help("advertised_host")) var advertisedHost: String?
    @Option(help: ServerOptions.help("api_port")) var apiPort: String?
    @Option(help: ServerOptions.help("heartbeat_port")) var heartbeatPort: String?
    @Option(help: ServerOptions.help("command_port")) var commandPort: String?
    @Option(help: ServerOptions.help("heartbeat_interval")) var heartbeatInterval: String?
    @Option(help: ServerOptions.help("decay_window")) var decayWindow: String?
    @Option(help: ServerOptions.help("down_threshold")) var downThreshold: String?
    @Option(help: ServerOptions.help("offline_threshold")) var offlineThreshold: String?
    @Option(help: ServerOptions.help("online_threshold")) var onlineThreshold: String?
    @Option(help: ServerOptions.help("voting_timeout")) var votingTimeout: String?
    @Option(help: ServerOptions.help("default_run_timeout")) var defaultRunTimeout: String?
    @Option(help: ServerOptions.help("wait_complete_time")) var waitCompleteTime: String?
    @Option(help: ServerOptions.help("rehab_interval")) var rehabInterval: String?
    @Option(help: ServerOptions.help("max_message_skew")) var maxMessageSkew: String?
    @Option(help: ServerOptions.help("max_body_size")) var maxBodySize: String?
    @Option(help: ServerOptions.help("auth_skew")) var authSkew: String?
    @Option(help: ServerOptions.help("config_lifetime")) var configLifetime: String?
    @Option(help: ServerOptions.help("tls")) var tls: String?
    @Option(name: .customLong("tls-cert"), help: ServerOptions.help("tls_certificate")) var tlsCertificate: String?
    @Option(help: ServerOptions.help("tls_key")) var tlsKey: String?
    @Option(help: ServerOptions.help("disable_curve_encryption")) var disableCurveEncryption: String?
    @Option(help: ServerOptions.help("output_cap")) var outputCap: String?
    @Option(help: ServerOptions.help("keep_alive_time")) var keepAliveTime: String?
    @Option(help: ServerOptions.help("org_feed_expiration")) var orgFeedExpiration: String?
    @Option(help: ServerOptions.help("default_org")) var defaultOrg: String?
    @Option(help: ServerOptions.help("max_agent_connections")) var maxAgentConnections: String?
    @Option(help: ServerOptions.help("screen_heartbeat_connections")) var screenHeartbeatConnections: String?
    @Option(help: ServerOptions.help("metrics_listen")) var metricsListen: String?
    @Option(help: ServerOptions.help("metrics_token")) var metricsToken: String?
    @Option(name: .customLong("postgres"), help: ServerOptions.help("postgres_url")) var postgresURL: String?
    @Option(help: ServerOptions.help("cluster_lease")) var clusterLease: String?

    /// The flags given, by setting name (paths made absolute).
    var flags: [String: String] {
        let given: [(String, String?)] = [
            ("listen_address", listenAddress), ("advertised_host", advertisedHost), ("api_port", apiPort),
            ("heartbeat_port", heartbeatPort), ("command_port", commandPort), ("heartbeat_interval", heartbeatInterval),
            ("decay_window", decayWindow), ("down_threshold", downThreshold), ("offline_threshold", offlineThreshold),
            ("online_threshold", onlineThreshold), ("voting_timeout", votingTimeout), ("default_run_timeout", defaultRunTimeout),
            ("wait_complete_time", waitCompleteTime), ("rehab_interval", rehabInterval), ("max_message_skew", maxMessageSkew),
            ("max_body_size", maxBodySize), ("auth_skew", authSkew), ("config_lifetime", configLifetime), ("tls", tls),
            ("tls_certificate", tlsCertificate.map(Self.absolute)), ("tls_key", tlsKey.map(Self.absolute)),
            ("disable_curve_encryption", disableCurveEncryption), ("output_cap", outputCap),
            ("keep_alive_time", keepAliveTime), ("org_feed_expiration", orgFeedExpiration), ("default_org", defaultOrg),
            ("max_agent_connections", maxAgentConnections), ("screen_heartbeat_connections", screenHeartbeatConnections),
            ("metrics_listen", metricsListen), ("metrics_token", metricsToken), ("postgres_url", postgresURL),
            ("cluster_lease", clusterLease),
        ]
        return Dictionary(uniqueKeysWithValues: given.compactMap { k, v in v.map { (k, $0) } })
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    var absoluteDataDir: String {
        get throws {
            guard let dir = dataDir ?? ProcessInfo.processInfo.environment["PUSHY_SERVER_DATA_DIR"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                throw ValidationError("name the data directory: --data-dir DIR (or PUSHY_SERVER_DATA_DIR)")
            }
            return Self.absolute(dir)
        }
    }

    /// The effective configuration and where each value came from.
    func resolve() throws -> (config: ServerConfiguration, sources: [String: ServerSettings.Source]) {
        let dir = try absoluteDataDir
        do {
            var r = try ServerSettings.resolve(dataDir: dir, flags: flags, environment: ProcessInfo.processInfo.environment)
            if dataDir == nil { r.sources["data_dir"] = .environment("PUSHY_SERVER_DATA_DIR") }
            return r
        } catch {
            throw failure("\(error)")
        }
    }
}

extension PushyServerCommand {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a data directory: server key, database, default org, admin user and key, CLI config.",
            discussion: """
                Safe to run again: existing keys are kept. Prints the org URL and the admin key path.
                With --postgres URL the database is that PostgreSQL database (it must exist; init creates \
                the tables) and server.json keeps the URL, so 'run' uses it too (docs/operations.md).
                Examples:
                  pushy-server init --data-dir /var/lib/pushy
                  pushy-server init --data-dir /var/lib/pushy --postgres postgres://pushy:secret@db.example.com/pushy
                """)

        @OptionGroup var options: ServerOptions
        @Option(help: "Name of the admin user.") var admin: String = "admin"
        @Option(help: "Name of the default organization (as --default-org; default pushy).") var org: String?
        @Option(help: "Where to write the CLI config (default DATA_DIR/cli.json).") var cliConfig: String?
        @Flag(help: "Serve plain HTTP instead of HTTPS (not for production; as --tls false).") var noTls = false
        @Flag(help: "Do not also write ~/.pushy/config.json (the CLI's default config) when it does not exist.")
        var noUserConfig = false

        func run() async throws {
            var config = try options.resolve().config
            if let org { config.defaultOrg = org }
            if noTls { config.tls = false }
            if (config.tlsCertificate == nil) != (config.tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
            do {
                let r = try await DataDirectory.initialize(config: config, adminName: admin, cliConfigPath: cliConfig)
                var userConfigNote = ""
                if !noUserConfig {
                    let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
                    let userConfig = home + "/.pushy/config.json"
                    if FileManager.default.fileExists(atPath: userConfig) {
                        userConfigNote = "\n  (\(userConfig) exists and was left alone: pass --config \(r.cliConfigPath) or set PUSHY_CONFIG)"
                    } else {
                        try FileManager.default.createDirectory(atPath: home + "/.pushy", withIntermediateDirectories: true)
                        try FileManager.default.copyItem(atPath: r.cliConfigPath, toPath: userConfig)
                        userConfigNote = "\n  also written to \(userConfig), so 'pushy' works without --config"
                    }
                }
                print("""
                    Pushy data directory ready: \(config.dataDir)
                      organization URL: \(r.orgURL)
                      admin user:       \(r.adminName)
                      admin key:        \(r.adminKeyPath)
                      database:         \(config.databaseDescription)
                      CLI config:       \(r.cliConfigPath)\(userConfigNote)
                      TLS certificate:  \(r.certificatePath ?? "(none: plain HTTP)")
                    Start the server:   pushy-server run --data-dir \(config.dataDir)
                    Use the CLI:        pushy --config \(r.cliConfigPath) node status
                    """)
            } catch {
                // A failed init exits 1 (scripts and installers check it).
                throw failure("\(error)")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the server until SIGTERM or SIGINT.",
            discussion: """
                Settings come from flags, then PUSHY_SERVER_* variables, then DATA_DIR/server.json, then \
                the defaults ('pushy-server config' shows each value and its source; docs/configuration.md).
                Examples:
                  pushy-server run --data-dir /var/lib/pushy
                  pushy-server run --data-dir /tmp/p --api-port 0 --metrics-listen 127.0.0.1:0 --log-level debug
                  PUSHY_SERVER_DATA_DIR=/var/lib/pushy PUSHY_SERVER_HEARTBEAT_INTERVAL=5 pushy-server run
                """)

        @OptionGroup var options: ServerOptions
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

        func run() async throws {
            let config = try options.resolve().config
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
            }
            var logger = Logger(label: "pushy-server")
            logger.logLevel = level
            let app: PushyServerApp
            do { app = try await PushyServerApp.build(config: config, logger: logger) } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            let announce = Task {
                let port = await app.waitUntilListening()
                guard !Task.isCancelled else { return }  // the start failed: no "listening" line
                logger.info("listening", metadata: [
                    "pushy.api": "\(config.scheme)://\(config.advertisedHost):\(port)/organizations/\(config.defaultOrg)",
                    "pushy.heartbeat_port": "\(app.heartbeatPort)", "pushy.command_port": "\(app.commandPort)",
                    "pushy.libzmq": "\(ZMQLibrary.summary)",
                    "pushy.database": "\(config.databaseDescription)",
                ])
            }
            let group = ServiceGroup(configuration: .init(
                services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do { try await group.run() } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                announce.cancel()
                throw ExitCode(1)
            }
            announce.cancel()
        }
    }

    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective server configuration and where each value came from.",
            discussion: """
                Every setting, its value and its source: a flag, a PUSHY_SERVER_* environment variable, \
                DATA_DIR/server.json or the default (in that order of precedence). Checks the values as \
                'run' would; an unknown key in server.json is an error naming the nearest known key.
                Examples:
                  pushy-server config --data-dir /var/lib/pushy
                  PUSHY_SERVER_HEARTBEAT_INTERVAL=5 pushy-server config --data-dir /var/lib/pushy --api-port 443
                  pushy-server config --list          # every setting: default, variable, flag, meaning
                """)

        @OptionGroup var options: ServerOptions
        @Flag(help: "List every setting with its default, environment variable, flag and meaning (no data directory needed).")
        var list = false
        @Flag(help: "With --list: as the Markdown table of docs/configuration.md.") var markdown = false

        func run() async throws {
            if list {
                if markdown { print(ServerSettings.markdownTable); return }
                for s in ServerSettings.all {
                    print("\(s.name)\n    default \(s.defaultText), $\(s.environmentVariable), \(s.flag)\n    \(s.doc)")
                }
                return
            }
            let (config, sources) = try options.resolve()
            print(ServerSettings.describe(config, sources: sources))
            do { try config.validate() } catch {
                throw failure("\(error)")
            }
        }
    }
}

/// Writes `error: MESSAGE` to stderr; the exit code to throw.
func failure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(1)
}
