import Foundation
import FuzzSupport
@testable import PushyProtocol

/// The request-signing header parser, `RequestAuthenticator.parse(headers:)` (every REST request
/// before its signature is checked), with `ChefTimestamp.parse`, the `X-Ops-Sign` description
/// parser and the wire time parsers.
///
/// The input is read as header lines `Name: value` (names case-insensitive, first one wins).
/// A request that parses is written back as the headers a signer sends (canonical `X-Ops-Sign`,
/// the signature re-encoded in 60-character `X-Ops-Authorization-N` chunks) and must parse to an
/// equal request. The whole input is also tried as a timestamp in each format: a time that
/// parses formats back to itself (ISO 8601) or to a text that parses to the same time (RFC 1123).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSigning(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let text = fuzzString(data, count) else { return 0 }
    checkTimes(text)
    _ = try? RequestAuthenticator.parseSignDescription(text)

    var headers: [String: String] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let name = line[..<colon].lowercased()
        if headers[name] == nil { headers[name] = String(line[line.index(after: colon)...]) }
    }
    guard let request = try? RequestAuthenticator.parse(headers: { headers[$0.lowercased()] }) else { return 0 }
    fuzzCheck(ChefTimestamp.format(request.timestamp) == request.timestampText, "timestamp text and time disagree")

    let encoded = Data(request.signature).base64EncodedString()
    guard encoded.utf8.count <= RequestAuthenticator.maximumChunks * SignedRequestHeaders.chunkLength else { return 0 }
    var written: [String: String] = [
        "x-ops-userid": request.userId, "x-ops-timestamp": request.timestampText,
        "x-ops-sign": request.version.signHeaderValue, "x-ops-content-hash": request.contentHash,
    ]
    for (index, chunk) in SignedRequestHeaders.chunks(encoded).enumerated() {
        written["x-ops-authorization-\(index + 1)"] = chunk
    }
    if let apiVersion = request.serverAPIVersion { written["x-ops-server-api-version"] = apiVersion }
    do {
        let again = try RequestAuthenticator.parse(headers: { written[$0.lowercased()] })
        fuzzCheck(again == request, "signed request round trip changed \(request) into \(again)")
    } catch {
        fuzzCheck(false, "written headers \(written) are rejected: \(error)")
    }
    return 0
}

private func checkTimes(_ text: String) {
    if let date = ChefTimestamp.parse(text) {
        fuzzCheck(ChefTimestamp.format(date) == text, "ChefTimestamp '\(text)' formats as '\(ChefTimestamp.format(date))'")
    }
    if let date = WireTime.parseISO8601(text), !text.hasSuffix(":60Z") {
        fuzzCheck(WireTime.iso8601(date) == text, "ISO 8601 '\(text)' formats as '\(WireTime.iso8601(date))'")
    }
    if let date = WireTime.parseRFC1123(text) {
        let written = WireTime.rfc1123(date)
        fuzzCheck(WireTime.parseRFC1123(written) == date, "RFC 1123 '\(text)' formats as '\(written)', which parses differently")
    }
}

@_cdecl("fuzz_signing_main")
public func fuzzSigningMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzSigning)
}
