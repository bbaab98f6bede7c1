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
        subcommands: [Init.self, Run.self])
}

/// Flags shared by `init` and `run`; each overrides `DATA_DIR/server.json`.
struct ServerOptions: ParsableArguments {
    @Option(help: "Data directory (keys, database, config).") var dataDir: String
    @Option(help: "Address to listen on (default 0.0.0.0).") var listen: String?
    @Option(help: "Host name agents connect to (default 127.0.0.1).") var host: String?
    @Option(help: "REST API port (default 10003; 0 = any free port).") var apiPort: Int?
    @Option(help: "Heartbeat PUB port (default 10000).") var heartbeatPort: Int?
    @Option(help: "Command ROUTER port (default 10002).") var commandPort: Int?
    @Option(help: "Heartbeat interval in seconds (default 10).") var heartbeatInterval: Double?
    @Option(help: "Voting timeout in seconds (default 60).") var votingTimeout: Double?
    @Option(help: "Most ZeroMQ connections (2 per agent) before new agents are refused (default: file limit minus a reserve).")
    var maxAgentConnections: Int?

    func apply(to c: inout ServerConfiguration) throws {
        if let listen { c.listenAddress = listen }
        if let host { c.advertisedHost = host }
        if let apiPort { c.apiPort = try port(apiPort, "--api-port") }
        if let heartbeatPort { c.heartbeatPort = try port(heartbeatPort, "--heartbeat-port") }
        if let commandPort { c.commandPort = try port(commandPort, "--command-port") }
        if let heartbeatInterval {
            guard heartbeatInterval > 0 else { throw ValidationError("--heartbeat-interval must be > 0") }
            c.heartbeatInterval = heartbeatInterval
        }
        if let votingTimeout {
            guard votingTimeout > 0 else { throw ValidationError("--voting-timeout must be > 0") }
            c.votingTimeout = votingTimeout
        }
        if let maxAgentConnections {
            guard maxAgentConnections >= 2 else { throw ValidationError("--max-agent-connections must be at least 2 (one agent)") }
            c.maxAgentConnections = maxAgentConnections
        }
    }

    func port(_ p: Int, _ flag: String) throws -> Int {
        guard (0...65535).contains(p) else { throw ValidationError("\(flag) must be a port number between 0 and 65535") }
        return p
    }

    var absoluteDataDir: String {
        dataDir.hasPrefix("/") ? dataDir : FileManager.default.currentDirectoryPath + "/" + dataDir
    }
}

extension PushyServerCommand {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a data directory: server key, database, default org, admin user and key, CLI config.",
            discussion: "Safe to run again: existing keys are kept. Prints the org URL and the admin key path.")

        @OptionGroup var options: ServerOptions
        @Option(help: "Name of the admin user.") var admin: String = "admin"
        @Option(help: "Name of the default organization.") var org: String = "pushy"
        @Option(help: "Where to write the CLI config (default DATA_DIR/cli.json).") var cliConfig: String?
        @Flag(help: "Serve plain HTTP instead of HTTPS (not for production).") var noTls = false
        @Option(help: "Use this PEM certificate (chain) for HTTPS instead of making a self-signed one.") var tlsCert: String?
        @Option(help: "The private key (PEM) of --tls-cert.") var tlsKey: String?
        @Flag(help: "Do not also write ~/.pushy/config.json (the CLI's default config) when it does not exist.")
        var noUserConfig = false

        func run() async throws {
            var config = try DataDirectory.loadConfig(dataDir: options.absoluteDataDir)
            try options.apply(to: &config)
            config.defaultOrg = org
            if noTls { config.tls = false }
            if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
            if let tlsCert, let tlsKey {
                config.tlsCertificate = tlsCert.hasPrefix("/") ? tlsCert : FileManager.default.currentDirectoryPath + "/" + tlsCert
                config.tlsKey = tlsKey.hasPrefix("/") ? tlsKey : FileManager.default.currentDirectoryPath + "/" + tlsKey
            }
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
                      CLI config:       \(r.cliConfigPath)\(userConfigNote)
                      TLS certificate:  \(r.certificatePath ?? "(none: plain HTTP)")
                    Start the server:   pushy-server run --data-dir \(config.dataDir)
                    Use the CLI:        pushy --config \(r.cliConfigPath) node status
                    """)
            } catch {
                throw CleanExit.message("error: \(error)")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the server until SIGTERM or SIGINT.")

        @OptionGroup var options: ServerOptions
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

        func run() async throws {
            var config = try DataDirectory.loadConfig(dataDir: options.absoluteDataDir)
            try options.apply(to: &config)
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
                logger.info("listening", metadata: [
                    "pushy.api": "http://\(config.advertisedHost):\(port)/organizations/\(config.defaultOrg)",
                    "pushy.heartbeat_port": "\(app.heartbeatPort)", "pushy.command_port": "\(app.commandPort)",
                    "pushy.libzmq": "\(ZMQLibrary.summary)",
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
}
