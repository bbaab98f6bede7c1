import Foundation
import PushyProtocol
@testable import PushyServer

/// A transport that keeps the messages the engine sent, in order, and hands each one to
/// `onSend` when set (the agent stand-ins of `RouterRig` answer through it).
final class RecordingTransport: CommandTransport, @unchecked Sendable {
    typealias Delivery = @Sendable (_ identity: [UInt8], _ frames: [[UInt8]]) -> Void

    private let lock = NSLock()
    private var bodies: [[UInt8]] = []
    private var sent: [[[UInt8]]] = []
    private var published: [[[UInt8]]] = []
    private var onSend: Delivery?
    private var caughtUp: Double?

    init(onSend: Delivery? = nil) { self.onSend = onSend }

    /// Sends from now on also go to `delivery` (called on the engine's actor: it must not block).
    func forward(to delivery: @escaping Delivery) { lock.withLock { onSend = delivery } }

    func send(to identity: [UInt8], frames: [[UInt8]]) {
        let delivery = lock.withLock {
            bodies.append(frames[1])
            sent.append(frames)
            return onSend
        }
        delivery?(identity, frames)
    }

    func sendBatch(_ messages: [(identity: [UInt8], frames: [[UInt8]])]) {
        for m in messages { send(to: m.identity, frames: m.frames) }
    }

    func publish(_ frames: [[UInt8]]) { lock.withLock { published.append(frames) } }

    /// Every message's frames as sent (header, body), and every broadcast's.
    var sentFrames: [[[UInt8]]] { lock.withLock { sent } }
    var publishedFrames: [[[UInt8]]] { lock.withLock { published } }

    /// What the transport says of its inbound messages (nil: always caught up).
    var caughtUpAt: Double? { lock.withLock { caughtUp } }
    /// Makes the transport say it last had every inbound message in hand at `time` (nil: now).
    func setCaughtUp(_ time: Double?) { lock.withLock { caughtUp = time } }

    var messages: [ServerMessage] { lock.withLock { bodies.compactMap { try? ServerMessage.parse($0) } } }
    /// The types of the messages sent so far.
    var types: [String] { messages.map(\.type) }
}
