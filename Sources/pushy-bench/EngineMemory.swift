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
    static func bytesPerNode(nodes: Int) async throws -> (bytes: Double, heartbeat: HeartbeatCost) {
        var logger = Logger(label: "pushy-bench.engine")
        logger.logLevel = .critical
        let engine = CommandEngine(
            config: ServerConfiguration(dataDir: NSTemporaryDirectory()), store: InMemoryStore(),
            serverKey: try RSAPrivateKey.generate(), logger: logger)
        let before = ProcessProbe.rss(pid: getpid()) ?? 0
        for i in 0..<nodes {
            let name = String(format: "bench-%06d", i)
            let key = engine.sessionKey(org: "pushy", node: name)
            let beat = AgentMessage(
                node: name, client: name, org: "pushy", type: .heartbeat, sequence: 1, timestamp: Date(),
                incarnationId: UUID().uuidString.lowercased(), jobId: nil, jobState: .idle)
            // A libzmq routing id: a zero byte and a 32-bit counter.
            let identity: [UInt8] = [0] + withUnsafeBytes(of: UInt32(i).bigEndian, Array.init)
            await engine.receive(identity: identity, frames: MessageSigner.hmacFrames(body: beat.bodyBytes, key: key))
        }
        guard await engine.sessionCount == nodes else { throw BenchFailure("engine memory: sessions were not created") }
        let after = ProcessProbe.rss(pid: getpid()) ?? before
        let cost = try await heartbeatCost(engine, nodes: nodes)
        return (Double(after - before) / Double(nodes), cost)
    }

    /// CPU per idle heartbeat in Pushy's own code (no libzmq): the check the I/O thread does
    /// (header, JSON, HMAC, clock) and the engine's handling, over `rounds` heartbeats of
    /// every node in batches of 100 (as the I/O thread holds them). CPU time of this thread,
    /// so other processes on the machine do not count.
    static func heartbeatCost(_ engine: CommandEngine, nodes: Int, rounds: Int = 6) async throws -> HeartbeatCost {
        var keys: [[UInt8]] = [], names: [String] = [], incarnations: [String] = []
        for i in 0..<nodes {
            names.append(String(format: "bench-%06d", i))
            keys.append(engine.sessionKey(org: "pushy", node: names[i]))
        }
        incarnations = names.map { _ in UUID().uuidString.lowercased() }
        var check = 0.0, count = 0
        for round in 0..<rounds {
            // Round 0 is a new agent process for every node (new sessions, not timed).
            var batch: [RouterMessage] = []
            for i in 0..<nodes {
                let beat = AgentMessage(
                    node: names[i], client: names[i], org: "pushy", type: .heartbeat, sequence: round + 2,
                    timestamp: Date(), incarnationId: incarnations[i], jobId: nil, jobState: .idle)
                let identity: [UInt8] = [0] + withUnsafeBytes(of: UInt32(i).bigEndian, Array.init)
                batch.append(RouterMessage(identity: identity, frames: MessageSigner.hmacFrames(body: beat.bodyBytes, key: keys[i])))
            }
            for start in stride(from: 0, to: batch.count, by: 100) {
                let part = Array(batch[start..<min(start + 100, batch.count)])
                let t0 = threadCPU()
                let checked = engine.check(part)
                let t1 = threadCPU()
                await engine.receive(checked)
                if round > 0 {
                    check += t1 - t0
                    count += part.count
                }
            }
        }
        // The engine's half runs on the actor's thread: timed as the whole process's CPU.
        var batches: [CheckedBatch] = []
        for i in stride(from: 0, to: nodes, by: 100) {
            var part: [RouterMessage] = []
            for j in i..<min(i + 100, nodes) {
                let beat = AgentMessage(
                    node: names[j], client: names[j], org: "pushy", type: .heartbeat, sequence: rounds + 2,
                    timestamp: Date(), incarnationId: incarnations[j], jobId: nil, jobState: .idle)
                let identity: [UInt8] = [0] + withUnsafeBytes(of: UInt32(j).bigEndian, Array.init)
                part.append(RouterMessage(identity: identity, frames: MessageSigner.hmacFrames(body: beat.bodyBytes, key: keys[j])))
            }
            batches.append(engine.check(part))
        }
        let p0 = processCPU()
        for b in batches { await engine.receive(b) }
        let handle = processCPU() - p0
        guard await engine.sessionCount == nodes else { throw BenchFailure("engine heartbeat cost: sessions were lost") }
        return HeartbeatCost(checkMicroseconds: check / Double(count) * 1e6, handleMicroseconds: handle / Double(nodes) * 1e6)
    }

    private static func threadCPU() -> Double { cpu(CLOCK_THREAD_CPUTIME_ID) }
    private static func processCPU() -> Double { cpu(CLOCK_PROCESS_CPUTIME_ID) }
    private static func cpu(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Pushy's own CPU per idle heartbeat (`EngineMemory.heartbeatCost`).
struct HeartbeatCost {
    var checkMicroseconds: Double
    var handleMicroseconds: Double
}
