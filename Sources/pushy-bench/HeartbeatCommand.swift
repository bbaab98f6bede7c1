import ArgumentParser
import Foundation

/// `pushy-bench heartbeat`: Pushy's own CPU per idle heartbeat and memory per node, in this
/// process, without libzmq, agents or a server (`EngineMemory`): the figures the scale bench
/// prints in its header, in seconds rather than minutes, for work on the inbound path.
struct HeartbeatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heartbeat",
        abstract: "Pushy's own CPU per idle heartbeat (check and engine) and memory per node, in-process.",
        discussion: """
            The check is what the server's I/O thread does for each agent message (header, JSON \
            body, HMAC, clock); the engine figure is the actor's handling of it. Both are CPU \
            time, so other processes on the machine do not count.

            Examples:
              pushy-bench heartbeat
              pushy-bench heartbeat --nodes 1000 --rounds 20
            """)

    @Option(help: "Nodes (sessions) in the engine.") var nodes = 9500
    @Option(help: "Heartbeats of every node over which the check is timed.") var rounds = 5

    func validate() throws {
        guard (1...100_000).contains(nodes) else { throw ValidationError("--nodes must be from 1 to 100000") }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be from 1 to 1000") }
    }

    func run() async throws {
        let r = try await EngineMemory.bytesPerNode(nodes: nodes, rounds: rounds)
        say(String(format: "heartbeat: %d nodes, %d rounds: check %.2f µs, engine %.2f µs per heartbeat; %.1f KB per node",
                   nodes, rounds, r.heartbeat.checkMicroseconds, r.heartbeat.handleMicroseconds, r.bytes / 1024))
    }
}
