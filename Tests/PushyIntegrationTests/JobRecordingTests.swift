import Foundation
import Logging
import PushyProtocol
@testable import PushyServer
import PushyStore
import Testing

/// A transport that keeps the bodies the engine sent, in order.
final class RecordingTransport: CommandTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var bodies: [[UInt8]] = []

    func send(to identity: [UInt8], frames: [[UInt8]]) { lock.withLock { bodies.append(frames[1]) } }
    func sendBatch(_ messages: [(identity: [UInt8], frames: [[UInt8]])]) {
        for m in messages { send(to: m.identity, frames: m.frames) }
    }
    func publish(_ frames: [[UInt8]]) {}

    /// The types of the messages sent so far.
    var types: [String] { lock.withLock { bodies.compactMap { try? ServerMessage.parse($0).type } } }
}

/// A job's rows are written while its commits go out; the request is answered only once they
/// are durable, and a job that could not be recorded does not go on.
struct JobRecordingTests {
    @Test func aJobThatCannotBeRecordedIsAbortedAndForgotten() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // No organization "ghost" in the store: the job's rows cannot be written.
        let engine = CommandEngine(
            config: ServerConfiguration(dataDir: NSTemporaryDirectory()), store: InMemoryStore(),
            serverKey: try RSAPrivateKey.generate(), logger: logger)
        let transport = RecordingTransport()
        await engine.attach(transport)
        let key = engine.sessionKey(org: "ghost", node: "web1")
        for (seq, type) in [(1, AgentMessageType.heartbeat), (2, .aborted)] {
            let m = AgentMessage(node: "web1", client: "web1", org: "ghost", type: type, sequence: seq, timestamp: Date(),
                                 incarnationId: "inc", jobId: nil, jobState: .idle)
            await engine.receive(identity: [0, 0, 0, 0, 1], frames: MessageSigner.hmacFrames(body: m.bodyBytes, key: key))
        }
        #expect(await engine.nodeState(org: "ghost", node: "web1").availability == .available)

        await #expect(throws: StoreError.self) {
            _ = try await engine.startJob(org: "ghost", orgGUID: String(repeating: "a", count: 32),
                                          request: JobRequest(command: "noop", nodes: ["web1"]), requestor: "admin")
        }
        // Connect abort, the commit that went out while writing, then the abort that stops it.
        #expect(transport.types == ["abort", "commit", "abort"])
        #expect(await engine.activeJobIds.isEmpty)
        #expect(await engine.nodeState(org: "ghost", node: "web1").availability == .unavailable)
    }
}
