#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import PushyProtocol
import PushyServer
import PushyStore
import PushyZMQ

/// Pushy's own memory per connected node, without libzmq: a `CommandEngine` in this process
/// with an in-memory store and no transport, given `nodes` sessions through the same signed
/// heartbeat path the server uses. Separates the engine's share of the server's RSS per agent
/// from libzmq's connections.
enum EngineMemory {
    static func bytesPerNode(nodes: Int, rounds: Int = 5) async throws -> (bytes: Double, heartbeat: HeartbeatCost) {
        var logger = Logger(label: "pushy-bench.engine")
        logger.logLevel = .critical
        let engine = CommandEngine(
            config: ServerConfiguration(dataDir: NSTemporaryDirectory()), store: InMemoryStore(),
            serverKey: try RSAPrivateKey.generate(), logger: logger)
        let before = ProcessProbe.rss(pid: getpid()) ?? 0
        let fleet = BenchNodes(engine, count: nodes)
        for i in 0..<nodes {
            let beat = fleet.heartbeat(i, sequence: 1)
            await engine.receive(identity: beat.identity, frames: beat.frames)
        }
        guard await engine.sessionCount == nodes else { throw BenchFailure("engine memory: sessions were not created") }
        let after = ProcessProbe.rss(pid: getpid()) ?? before
        let cost = try await heartbeatCost(engine, fleet, rounds: rounds)
        return (Double(after - before) / Double(nodes), cost)
    }

    /// CPU per idle heartbeat in Pushy's own code (no libzmq): the check the I/O thread does
    /// (header, JSON, HMAC, clock), timed on this thread over `rounds` heartbeats of every node
    /// in batches of 100 (as the I/O thread holds them), and the engine's handling of one more
    /// round, timed as the process's CPU (it runs on the actor's thread). CPU time, so other
    /// processes on the machine do not count.
    static func heartbeatCost(_ engine: CommandEngine, _ fleet: BenchNodes, rounds: Int) async throws -> HeartbeatCost {
        var check = 0.0, count = 0
        for round in 0..<rounds {
            for part in fleet.batches(sequence: round + 2) {
                let t0 = threadCPU()
                let checked = engine.check(part)
                check += threadCPU() - t0
                count += part.count
                await engine.receive(checked)
            }
        }
        let checked = fleet.batches(sequence: rounds + 2).map(engine.check)
        let p0 = processCPU()
        for b in checked { await engine.receive(b) }
        let handle = processCPU() - p0
        guard await engine.sessionCount == fleet.count else { throw BenchFailure("engine heartbeat cost: sessions were lost") }
        return HeartbeatCost(checkMicroseconds: check / Double(count) * 1e6, handleMicroseconds: handle / Double(fleet.count) * 1e6)
    }

    private static func threadCPU() -> Double { cpu(CLOCK_THREAD_CPUTIME_ID) }
    private static func processCPU() -> Double { cpu(CLOCK_PROCESS_CPUTIME_ID) }
    private static func cpu(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The bench's in-process nodes: names, session keys and one agent process each.
struct BenchNodes {
    let names: [String]
    let keys: [[UInt8]]
    let incarnations: [String]
    var count: Int { names.count }

    init(_ engine: CommandEngine, count: Int) {
        names = (0..<count).map { String(format: "bench-%06d", $0) }
        keys = names.map { engine.sessionKey(org: "pushy", node: $0) }
        incarnations = names.map { _ in UUID().uuidString.lowercased() }
    }

    /// Node `i`'s signed idle heartbeat as the ROUTER hands it over.
    func heartbeat(_ i: Int, sequence: Int) -> RouterMessage {
        let beat = AgentMessage(
            node: names[i], client: names[i], org: "pushy", type: .heartbeat, sequence: sequence,
            timestamp: Date(), incarnationId: incarnations[i], jobId: nil, jobState: .idle)
        // A libzmq routing id: a zero byte and a 32-bit counter.
        let identity: [UInt8] = [0] + withUnsafeBytes(of: UInt32(i).bigEndian, Array.init)
        return RouterMessage(identity: identity, frames: MessageSigner.hmacFrames(body: beat.bodyBytes, key: keys[i]))
    }

    /// One heartbeat of every node, in batches of 100.
    func batches(sequence: Int) -> [[RouterMessage]] {
        stride(from: 0, to: count, by: 100).map { start in
            (start..<min(start + 100, count)).map { heartbeat($0, sequence: sequence) }
        }
    }
}

/// Pushy's own CPU per idle heartbeat (`EngineMemory.heartbeatCost`).
struct HeartbeatCost {
    var checkMicroseconds: Double
    var handleMicroseconds: Double
}
