#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import PushyProtocol
import PushyServer
import PushyStore

/// Pushy's own memory per connected node, without libzmq: a `CommandEngine` in this process
/// with an in-memory store and no transport, given `nodes` sessions through the same signed
/// heartbeat path the server uses. Separates the engine's share of the server's RSS per agent
/// from libzmq's connections.
enum EngineMemory {
    static func bytesPerNode(nodes: Int) async throws -> Double {
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
        return Double(after - before) / Double(nodes)
    }
}
