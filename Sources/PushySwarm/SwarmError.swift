/// Why a swarm cannot start or register.
public enum SwarmError: Error, Sendable, CustomStringConvertible {
    /// More agents than this process's file limit allows (`maximum` fit).
    case tooManyAgents(requested: Int, maximum: Int, fileLimit: Int)
    case invalid(String)
    case registration(node: String, reason: String)

    public var description: String {
        switch self {
        case .tooManyAgents(let r, let m, let l):
            "\(r) agents need about \(r * SwarmConfiguration.descriptorsPerAgent + SwarmConfiguration.descriptorReserve) file descriptors but the limit is \(l): at most \(m) agents per process; run several processes"
        case .invalid(let m): m
        case .registration(let n, let r): "cannot register \(n): \(r)"
        }
    }
}
