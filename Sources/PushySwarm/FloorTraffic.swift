#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PushyProtocol
import PushyZMQ

/// The sizes of the frames Pushy sends for a bench job and its heartbeats, for the floor
/// (`FloorFrames`) to send the same bytes: built with the code the server and the swarm use
/// (`CommandEngine` sends commit and run with HMAC headers, `SwarmShard` answers and heartbeats,
/// the engine broadcasts an RSA-signed heartbeat), with the values a bench run has: node
/// `swarm-NNNNNN`, org `pushy`, the no-op command `noop`, run timeout 3600 s, a 32-character job id.
public enum FloorTraffic {
    /// Sequence numbers are a few digits in a bench run; their width is the only size that moves.
    static let agentSequence = 100
    static let serverSequence = 10

    public static func pushyFrames(nodeName: String = Swarm.nodeName(prefix: "swarm", index: 0), org: String = "pushy",
                                   command: String = "noop", advertisedHost: String = "127.0.0.1",
                                   serverHostName: String = hostName()) throws -> FloorFrames {
        let mac = SessionMAC(key: SessionKey.random().bytes)
        let now = Date()
        let jobId = String(repeating: "0", count: 12) + String(repeating: "a", count: 20)
        let incarnation = UUID().uuidString.lowercased()
        func agent(_ type: AgentMessageType, job: String?, state: AgentJobState? = nil, exit: Int? = nil) -> FloorFrames.Size {
            let m = AgentMessage(node: nodeName, client: "pushy-swarm", org: org, type: type, sequence: agentSequence,
                                 timestamp: now, incarnationId: incarnation, jobId: job, jobState: state, exitStatus: exit)
            return size(mac.frames(body: m.bodyBytes))
        }
        func server(_ m: ServerMessage) -> FloorFrames.Size {
            size(mac.frames(body: m.bodyTemplate.bytes(sequence: serverSequence)))
        }
        // The broadcast's header holds an RSA-2048 signature: its size does not depend on the key.
        let broadcast = ServerMessage(type: .heartbeat, sequence: serverSequence, timestamp: now, server: serverHostName,
                                      incarnationId: UUID().uuidString.lowercased())
        let rsaHeader = MessageHeader(method: .rsa2048SHA1, signature: Data(count: 256).base64EncodedString()).format()
        var commitRun = ServerMessage(type: .commit, sequence: 0, timestamp: now, jobId: jobId, server: advertisedHost,
                                      command: command, capture: false, runTimeout: 3600)
        commitRun.commitRun = true
        return FloorFrames(
            heartbeat: agent(.heartbeat, job: nil, state: .idle),
            broadcast: FloorFrames.Size(header: rsaHeader.count, body: broadcast.bodyBytes.count),
            commit: server(ServerMessage(type: .commit, sequence: 0, timestamp: now, jobId: jobId, server: advertisedHost,
                                         command: command, capture: false, runTimeout: 3600)),
            ackCommit: agent(.ackCommit, job: jobId),
            run: server(ServerMessage(type: .run, sequence: 0, timestamp: now, jobId: jobId)),
            ackRun: agent(.ackRun, job: jobId),
            result: agent(.succeeded, job: jobId, exit: 0),
            commitRun: server(commitRun))
    }

    static func size(_ frames: [[UInt8]]) -> FloorFrames.Size {
        FloorFrames.Size(header: frames[0].count, body: frames[1].count)
    }

    /// This machine's host name (what the server puts in its broadcast).
    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
