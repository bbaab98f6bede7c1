import Foundation
import Synchronization

/// Client CURVE keys registered by signed config requests (`ccpk`, spec 4.5), each admitted by
/// the ZAP handler for `lifetime` seconds. Read on the ZeroMQ I/O thread, written by REST
/// handlers, hence a lock rather than an actor.
final class CurveAllowList: Sendable {
    private let keys = Mutex<[[UInt8]: Double]>([:])
    let lifetime: Double

    init(lifetime: Double = 60) { self.lifetime = lifetime }

    func register(_ key: [UInt8], now: Double = Date().timeIntervalSince1970) {
        keys.withLock { k in
            k[key] = now + lifetime
            if k.count > 1024 { k = k.filter { $0.value > now } }
        }
    }

    /// ZAP decision: is this 32-byte key registered and not expired?
    func admits(_ key: [UInt8], now: Double = Date().timeIntervalSince1970) -> Bool {
        keys.withLock { k in (k[key] ?? 0) > now }
    }
}
