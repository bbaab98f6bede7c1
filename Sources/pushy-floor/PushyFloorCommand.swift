import ArgumentParser
import Foundation
import PushyZMQ

/// `pushy-floor server` and `pushy-floor swarm`: the floor of issue 16, the least a program on
/// the same libzmq can spend on Pushy's traffic (PushyZMQ's `FloorServer` and `FloorSwarm`).
/// `pushy-bench` starts them beside Pushy at every size and drives them through stdin.
@main
struct PushyFloor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushy-floor",
        abstract: "The floor: Pushy's messages and heartbeats over the same libzmq, with no Pushy work (pushy-bench runs it).",
        discussion: """
            Both sides read commands on stdin, one per line, and answer on stdout:
              server: 'counts', 'job FIRST COUNT TIMEOUT_SECONDS', 'quit'
              swarm:  'counts', 'quiet' (stop heartbeating), 'quit'
            A job's answer is 'job ok nodes=N seconds=S' or 'job failed nodes=N REASON'.
            """,
        subcommands: [FloorServerCommand.self, FloorSwarmCommand.self])
}

/// Frame sizes and the heartbeat interval, common to both sides.
struct TrafficOptions: ParsableArguments {
    @Option(help: "Frame sizes, KIND=HEADER+BODY for heartbeat, broadcast, commit, ack_commit, run, ack_run, result (pushy-bench passes Pushy's).")
    var frames: String
    @Option(help: "Seconds between heartbeats (agents) and broadcasts (server).") var interval = 10.0

    func parsedFrames() throws -> FloorFrames {
        do { return try FloorFrames.parse(frames) } catch { throw ValidationError("\(error)") }
    }
}

struct FloorServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Bind a CURVE ROUTER and a PUB on free ports and serve floor jobs.")

    @Option(help: "Agents that will connect (global indexes 0..<N).") var agents: Int
    @OptionGroup var traffic: TrafficOptions
    @Flag(help: "Plaintext ROUTER (Pushy runs CURVE).") var noCurve = false

    func run() async throws {
        var options = FloorServer.Options(agents: agents, frames: try traffic.parsedFrames(), interval: traffic.interval)
        options.curve = !noCurve
        let server = try FloorServer(context: try ZMQContext(ioThreads: 1, maxSockets: 20_000), options: options)
        reply("ready router=\(server.routerPort) pub=\(server.pubPort) key=\(server.publicKey ?? "-") libzmq=\(ZMQLibrary.version)\(ZMQLibrary.isBuiltIn ? "-built-in" : "-shared")")
        for await line in StandardInput.lines() {
            let words = line.split(separator: " ")
            switch words.first {
            case "counts":
                reply("counts \(await server.counts())")
            case "job":
                guard words.count == 4 || (words.count == 5 && words[4] == "commit_run"),
                      let first = Int(words[1]), let count = Int(words[2]), let timeout = Double(words[3]) else {
                    reply("error usage: job FIRST COUNT TIMEOUT_SECONDS [commit_run]")
                    continue
                }
                let r = await server.job(nodes: first..<(first + count), timeout: timeout, runAtCommit: words.count == 5)
                if let failure = r.failure {
                    reply("job failed nodes=\(r.nodes) \(failure)")
                    FileHandle.standardError.write(Data("pushy-floor server: job \(r.job) failed: \(failure)\n".utf8))
                } else {
                    reply("job ok nodes=\(r.nodes) seconds=\(r.seconds)")
                }
            case "quit":
                server.shutdown()
                return
            default:
                reply("error unknown command: \(line)")
            }
        }
        server.shutdown()
    }
}

struct FloorSwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm", abstract: "Connect N floor agents (SUB + CURVE DEALER each) to a floor server and answer its jobs.")

    @Option(help: "Agents in this process.") var count: Int
    @Option(help: "Global index of this process's first agent.") var firstIndex = 0
    @Option(help: "The server's ROUTER port.") var routerPort: Int
    @Option(help: "The server's PUB port.") var pubPort: Int
    @Option(help: "The server's Z85 CURVE public key ('-' for plaintext).") var serverKey: String
    @Option(help: "Connect agent i to 127.0.0.(1 + i % N).") var addressSpread = 1
    @Option(help: "This agent (global index) never sends its results: shows the server's checks at work.") var dropResultOf: Int?
    @OptionGroup var traffic: TrafficOptions

    func run() async throws {
        #if os(Linux)
        var options = FloorSwarm.Options(count: count, routerPort: routerPort, pubPort: pubPort, interval: traffic.interval,
                                         frames: try traffic.parsedFrames())
        options.firstIndex = firstIndex
        options.serverKey = serverKey == "-" ? nil : serverKey
        options.addressSpread = addressSpread
        options.dropResultOf = dropResultOf
        let swarm = try FloorSwarm(options: options)
        reply("started \(count)")
        for await line in StandardInput.lines() {
            switch line.split(separator: " ").first {
            case "counts": reply("counts \(await swarm.counts())")
            case "quiet":
                await swarm.quiet()
                reply("quiet")
            case "quit":
                swarm.shutdown()
                return
            default: reply("error unknown command: \(line)")
            }
        }
        swarm.shutdown()
        #else
        throw ValidationError("the floor swarm needs Linux (epoll)")
        #endif
    }
}

/// One line to stdout, unbuffered (a pipe to pushy-bench).
func reply(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// stdin's lines, read on a thread of their own (`readLine` blocks); finishes at end of file.
enum StandardInput {
    static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        Thread.detachNewThread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        return stream
    }
}
