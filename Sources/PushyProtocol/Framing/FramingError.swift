/// Why a ZeroMQ header frame was rejected (spec 4.2). Such messages are logged and dropped.
public enum FramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The header frame is over ``MessageHeader/maximumLength`` bytes.
    case headerTooLong(Int)
    /// The header is not ASCII text or a clause has no `:`.
    case malformedHeader
    /// A required clause (`Version`, `SigningMethod`, `Signature`) is absent.
    case missingField(String)
    /// `Version` is neither `1.0` nor `2.0`.
    case unsupportedVersion(String)
    /// `SigningMethod` is neither `hmac_sha256` nor `rsa2048_sha1`.
    case unsupportedSigningMethod(String)
    /// `hmac_sha256` is only accepted with `Version:2.0`.
    case hmacRequiresVersion2

    public var description: String {
        switch self {
        case .headerTooLong(let length): "header frame of \(length) bytes exceeds \(MessageHeader.maximumLength)"
        case .malformedHeader: "malformed header frame"
        case .missingField(let name): "header frame lacks \(name)"
        case .unsupportedVersion(let version): "unsupported header version '\(version)'"
        case .unsupportedSigningMethod(let method): "unsupported signing method '\(method)'"
        case .hmacRequiresVersion2: "hmac_sha256 requires header version 2.0"
        }
    }
}
