import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol
import PushySwarm

/// One process's share of a swarm of virtual agents. Reads control lines on stdin
/// (`SwarmControl`: mute, unmute, restart, report, stats, quit). Prints `stats ...` lines on
/// stdout every `--stats-interval` seconds and on request.
@main
struct PushySwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushy-swarm",
        abstract: "Run N virtual Pushy agents (real protocol, simulated commands) in this process.",
        discussion: """
            Each agent has its own node name (PREFIX-NNNNNN), client, config fetch, session key, SUB and
            DEALER. One process holds at most about (file limit - 128) / 4 agents; run several processes
            (with --first-index) for more. The DEALER uses CURVE with its own key pair when the server offers it.
            With several servers on one database, --server-url takes a comma-separated list, as the agent's
            server_url: agents use the first that answers and move to the next when it goes silent; agent i
            tries the others rotated by i, so a dead server's agents spread over the rest.
            Examples:
              pushy-swarm --server-url https://127.0.0.1:10003/organizations/pushy --key admin.pem --count 1000
              pushy-swarm --server-url https://127.0.0.1:10003/organizations/pushy,https://127.0.0.1:11003/organizations/pushy \
                --key admin.pem --trusted-cert tls.crt --count 4000 --first-index 4000
            """)

    @Option(help: "Org URL, e.g. http://127.0.0.1:10003/organizations/pushy; several, comma-separated: the agents' servers (registration uses the first).")
    var serverURL: String
    @Option(help: "Admin user that registers the clients (and fetches configs with --fetch-as admin).") var user = "admin"
    @Option(help: "The admin user's private key (PEM).") var key: String
    @Option(help: "PEM certificate to trust for the server's HTTPS (pushy-server init writes DATA_DIR/tls.crt).")
    var trustedCert: String?
    @Option(help: "Number of agents in this process.") var count: Int
    @Option(help: "Node name prefix.") var prefix = "swarm"
    @Option(help: "Global index of this process's first agent.") var firstIndex = 0
    @Option(help: "Simulated command duration in milliseconds.") var durationMs = 0
    @Option(help: "Share of agents whose commands fail (0...1).") var failRatio = 0.0
    @Option(help: "Share of agents that nack commits (0...1).") var nackRatio = 0.0
    @Option(help: "Spread first connects over this many seconds.") var splaySeconds = 0.0
    @Option(help: "Connect agent i to 127.0.0.(1 + i % N) (server must listen on 0.0.0.0).") var addressSpread = 1
    @Option(help: "RSA keys shared by the agents' clients (each agent still fetches its own config).") var keyPool = 8
    @Option(help: "Who signs config requests: node (each agent as itself) or admin.") var fetchAs = "node"
    @Option(help: "Concurrent config requests.") var fetchConcurrency = 8
    @Option(help: "Concurrent config requests of agents moving off a server that went silent (default: --fetch-concurrency).")
    var moveConcurrency: Int?
    @Option(help: "Agents per I/O thread.") var shardSize = 400
    @Option(help: "Seconds between stats lines (0 = only on 'stats').") var statsInterval = 5.0
    @Flag(help: "Register the clients, then exit.") var registerOnly = false
    @Flag(help: "Do not register the clients (they exist already with this process's key pool seed).") var noRegister = false
    @Flag(help: "Also report each agent's node (PUT nodes/NAME).") var reportNodes = false
    @Flag(help: "Keep what each agent did in each job for the 'report JOB' control command (the soak).")
    var recordJobs = false

    /// The `--server-url` list, without blanks.
    var serverURLs: [String] {
        serverURL.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must be ≥ 0") }
        guard !serverURLs.isEmpty else { throw ValidationError("--server-url needs at least one URL") }
        guard (0...1).contains(failRatio), (0...1).contains(nackRatio) else { throw ValidationError("ratios must be within 0...1") }
        guard fetchAs == "node" || fetchAs == "admin" else { throw ValidationError("--fetch-as must be node or admin") }
        guard keyPool >= 1 else { throw ValidationError("--key-pool must be ≥ 1") }
        guard !(registerOnly && noRegister) else { throw ValidationError("--register-only and --no-register exclude each other") }
    }

    func run() async throws {
        let adminKey = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: key, encoding: .utf8))
        let tls = ClientTLS(trustedCertificatePath: trustedCert)
        let urls = serverURLs
        let admin = try PushyRESTClient(orgURL: urls[0], userId: user, key: adminKey, tls: tls)
        let identity: SwarmConfiguration.Identity
        if fetchAs == "admin" {
            identity = .admin(userId: user, key: adminKey)
        } else {
            identity = .nodeKeys(try SwarmKeyPool.load(count: keyPool, directory: SwarmKeyPool.defaultDirectory(adminKeyPath: key)))
        }
        var c = SwarmConfiguration(orgURL: urls[0], count: count, identity: identity)
        c.fallbackURLs = Array(urls.dropFirst())
        c.tls = tls
        c.prefix = prefix
        c.firstIndex = firstIndex
        c.commandSeconds = Double(durationMs) / 1000
        c.failRatio = failRatio
        c.nackRatio = nackRatio
        c.connectSplaySeconds = splaySeconds
        c.addressSpread = addressSpread
        c.fetchConcurrency = fetchConcurrency
        c.moveConcurrency = moveConcurrency
        c.shardSize = shardSize
        c.recordJobs = recordJobs
        let swarm = try Swarm(c)
        if !noRegister {
            let started = Date()
            try await swarm.register(admin: admin, reportNodes: reportNodes)
            emit("registered \(count) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        }
        if registerOnly { return swarm.stop() }
        swarm.start()
        emit("started \(count)")
        let control = SwarmControl(swarm: swarm)
        control.readStdin()
        let statsEvery = statsInterval
        while !control.isDone {
            try? await Task.sleep(for: .milliseconds(200))
            if statsEvery > 0, control.secondsSinceStats >= statsEvery { control.printStats() }
        }
        swarm.stop()
        emit("stopped \(swarm.stats)")
    }
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
