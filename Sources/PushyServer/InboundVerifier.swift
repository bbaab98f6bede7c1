import Foundation
import PushyProtocol
import PushyZMQ

/// What the engine gets for one received frame set: a message whose framing, body, HMAC and
/// clock have been checked, or the reason it was dropped.
enum InboundMessage: Sendable {
    case verified(AgentMessage, key: NodeKey, identity: [UInt8])
    case dropped(reason: String, detail: String)
}

/// Checks agent messages before they reach the engine (spec 4.2, 12 point 3): frame count,
/// size, header, body, HMAC with the node's session key and clock skew. Stateless apart from
/// the shared key table, so it runs on the inbound task, beside the engine's actor rather
/// than on it. Sequence numbers are checked by the engine, which owns the sessions.
struct InboundVerifier: Sendable {
    let keys: SessionKeyTable
    let maxBodySize: Int
    let maxSkew: Double

    /// Whether a received message may wait for the next batch (`ZMQServerTransport.Options.mayHold`):
    /// a heartbeat, judged from its bytes on the I/O thread without parsing (a message that only
    /// looks like one is checked as usual, a little later). Held messages keep their order with
    /// the rest, so a heartbeat never overtakes a node's result.
    static func mayWait(_ message: RouterMessage) -> Bool {
        message.frames.count == 2 && contains(message.frames[1], heartbeatType)
    }

    static let heartbeatType = Array(#""type":"heartbeat""#.utf8)

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        let n = needle.count, h = haystack.count
        guard n > 0, h >= n else { return false }
        return haystack.withUnsafeBufferPointer { hb in
            needle.withUnsafeBufferPointer { nb in
                let first = nb[0]
                var i = 0
                while i <= h - n {
                    if hb[i] == first, memcmp(hb.baseAddress! + i, nb.baseAddress!, n) == 0 { return true }
                    i += 1
                }
                return false
            }
        }
    }

    func verify(_ batch: [RouterMessage]) -> [InboundMessage] {
        let now = Date().timeIntervalSince1970
        return batch.map { verify(identity: $0.identity, frames: $0.frames, now: now) }
    }

    func verify(identity: [UInt8], frames: [[UInt8]], now: Double) -> InboundMessage {
        guard frames.count == 2 else { return .dropped(reason: "frame_count", detail: "\(frames.count + 1) frames") }
        let headerBytes = frames[0], body = frames[1]
        guard body.count <= maxBodySize else { return .dropped(reason: "body_too_large", detail: "\(body.count) bytes") }
        let header: MessageHeader.Scanned
        do { header = try MessageHeader.scan(headerBytes) } catch {
            return .dropped(reason: "bad_header", detail: "\(error)")
        }
        guard header.method == .hmacSHA256 else { return .dropped(reason: "bad_signing_method", detail: header.method.rawValue) }
        let msg: AgentMessage
        do { msg = try AgentMessage.parse(body) } catch { return .dropped(reason: "bad_body", detail: "\(error)") }
        let key = NodeKey(org: msg.org, node: msg.node)
        guard let signed = keys.verify(key, frame: headerBytes, header, body: body) else {
            return .dropped(reason: "unknown_node", detail: "\(msg.org)/\(msg.node)")
        }
        guard signed else {
            return .dropped(reason: "bad_hmac", detail: "\(msg.org)/\(msg.node)")
        }
        guard abs(msg.timestamp.timeIntervalSince1970 - now) < maxSkew else {
            return .dropped(reason: "clock_skew", detail: "\(msg.org)/\(msg.node)")
        }
        return .verified(msg, key: key, identity: identity)
    }
}
