#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZMQ

/// The floor's sends and receives: frames straight from buffers it owns and into one reused
/// `zmq_msg_t`, no array per message (the least work a program can do around libzmq).
/// Confined to one thread, like the sockets it is used on.
final class FloorWire {
    /// What one received message said, and whether its shape was right.
    struct Received {
        var kind: FloorKind?
        var index: Int
        var job: UInt32
        /// Right number of frames, and frame sizes that match its kind.
        var wellFormed: Bool
    }

    let frames: FloorFrames
    private let message: UnsafeMutablePointer<zmq_msg_t>
    /// Scratch frames as large as the largest kind; only a prefix is sent.
    private var header: [UInt8]
    private var body: [UInt8]

    init(frames: FloorFrames) {
        self.frames = frames
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
        header = Array(repeating: UInt8(ascii: "h"), count: max(1, frames.all.map(\.header).max() ?? 1))
        body = Array(repeating: UInt8(ascii: "b"), count: max(FloorFrames.minimumBody, frames.all.map(\.body).max() ?? 0))
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Sends `[identity] + [header, body]` of `kind` for node `index` in job `job` without blocking;
    /// false when libzmq refused it (high-water mark, unknown ROUTER peer).
    func send(_ socket: UnsafeMutableRawPointer, _ kind: FloorKind, index: Int, job: UInt32, identity: [UInt8]? = nil) -> Bool {
        let size = frames.size(kind)
        body.withUnsafeMutableBytes { b in
            b[0] = kind.rawValue
            b.storeBytes(of: UInt32(truncatingIfNeeded: index), toByteOffset: 1, as: UInt32.self)
            b.storeBytes(of: job, toByteOffset: 5, as: UInt32.self)
        }
        if let identity {
            guard identity.withUnsafeBytes({ Self.sendFrame(socket, $0.baseAddress, $0.count, more: true) }) else { return false }
        }
        // Once the first part is accepted, libzmq accepts the rest of the message.
        guard header.withUnsafeBytes({ Self.sendFrame(socket, $0.baseAddress, size.header, more: true) }) else { return false }
        return body.withUnsafeBytes { Self.sendFrame(socket, $0.baseAddress, size.body, more: false) }
    }

    private static func sendFrame(_ socket: UnsafeMutableRawPointer, _ bytes: UnsafeRawPointer?, _ count: Int, more: Bool) -> Bool {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        while zmq_send(socket, bytes, count, flags) < 0 {
            if zmq_errno() != EINTR { return false }
        }
        return true
    }

    /// Reads one whole message, or nil when none is waiting. On a ROUTER (`routed`) the first
    /// frame is the peer's routing id, copied into `identity`.
    func receive(_ socket: UnsafeMutableRawPointer, routed: Bool, identity: inout [UInt8]) -> Received? {
        var part = 0
        var headerSize = -1, bodySize = -1
        var kind: UInt8 = 0, index: UInt32 = 0, job: UInt32 = 0
        repeat {
            while zmq_msg_recv(message, socket, ZMQ_DONTWAIT) < 0 {
                if zmq_errno() == EINTR { continue }
                // EAGAIN before the first frame: nothing waiting. Later parts never fail.
                return part == 0 ? nil : Received(kind: nil, index: -1, job: 0, wellFormed: false)
            }
            let size = zmq_msg_size(message)
            let data = UnsafeRawPointer(zmq_msg_data(message))
            let frame = routed ? part - 1 : part
            if frame == -1 {
                identity.removeAll(keepingCapacity: true)
                if let data { identity.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size)) }
            } else if frame == 0 {
                headerSize = size
            } else if frame == 1, size >= FloorFrames.minimumBody, let data {
                bodySize = size
                kind = data.load(as: UInt8.self)
                index = data.loadUnaligned(fromByteOffset: 1, as: UInt32.self)
                job = data.loadUnaligned(fromByteOffset: 5, as: UInt32.self)
            }
            part += 1
        } while zmq_msg_more(message) != 0
        let k = FloorKind(rawValue: kind)
        let expected = k.map { frames.size($0) }
        let wellFormed = part == (routed ? 3 : 2) && expected?.header == headerSize && expected?.body == bodySize
        return Received(kind: k, index: Int(index), job: job, wellFormed: wellFormed)
    }
}
