import Foundation
import Testing
@testable import PushyProtocol

/// Known answers: canonical strings computed independently with Python's hashlib/base64,
/// signatures with the openssl command line on those strings and `CryptoFixtures`' key:
/// 1.0/1.1 `openssl rsautl -sign -inkey key.pem` (raw PKCS#1 type 1), 1.2 `openssl dgst -sha1 -sign`,
/// 1.3 `openssl dgst -sha256 -sign`.
@Suite(.timeLimit(.minutes(2))) struct SigningTests {
    static let body = Array(#"{"command":"chef-client","nodes":["n1","n2"],"quorum":2}"#.utf8)
    static let rawPath = "//organizations/acme//pushy/jobs/?x=1&y=/"
    static let timestamp = Date(timeIntervalSince1970: 1_709_618_828)  // 2024-03-05T06:07:08Z
    static let timestampText = "2024-03-05T06:07:08Z"

    static let canonical10 = "Method:POST\nHashed Path:neMBxh2sSuYvibWwN0kLjkYD3Rg=\nX-Ops-Content-Hash:hoNhkVjBE3RY3Id04TEdnNPx/p0=\nX-Ops-Timestamp:2024-03-05T06:07:08Z\nX-Ops-UserId:alice"
    static let canonical11 = "Method:POST\nHashed Path:neMBxh2sSuYvibWwN0kLjkYD3Rg=\nX-Ops-Content-Hash:hoNhkVjBE3RY3Id04TEdnNPx/p0=\nX-Ops-Timestamp:2024-03-05T06:07:08Z\nX-Ops-UserId:UisnajVr3zkBPfq+os1D4UHsyeg="
    static let canonical13 = "Method:POST\nPath:/organizations/acme/pushy/jobs\nX-Ops-Content-Hash:qmX21jGKeiHZZVgpbmPCNJRpAoa4y3gYTaagwAkTA0A=\nX-Ops-Sign:version=1.3\nX-Ops-Timestamp:2024-03-05T06:07:08Z\nX-Ops-UserId:alice\nX-Ops-Server-API-Version:1"

    static let signature10 = "d5gnLJu2LzuhME1ZVa+Zx+dTWL17QYPCgpSpuN1x5H7iWiv9kdeGypTEpUsalwck7rhutkloZAZE6GkiG3hzOrzB8HxFJwPcMTbBgGlqgVmQi1NQI81WhMJYESVrBsdy1n7oKD1KprF/KuXqa1CeY9hKnMP6Sdj4GLXtl8fbSzQIAh38MbfQJ1r/tpJbGpozA5wn4RHdZ1z7vGPOt+e9eBw7iHTuBuNJaPS62MUx0JMlrRGGv9SCgPYM1fFxNIPoDCsUBrq750315Kaa4kuotUjrFoLeojLr+rZc28du7oU9y8VVdWzcLXOQVAOi8xmV1ByAqdXtIuWUYNcbQWZUNw=="
    static let signature11 = "CmM1UhW0nslknQajYzuf7FlaEVSdQ1+DRGFhYWn/m0wckM0Fi44Dk/mzWLN5uKMlSi1kx1vcFmVHRTmdD6ZjXF8ajKhePbXa3fxGmjyTmdxZ9fskzVkW4J3mJngeO8+DlUzfJx/N2YdVk7VGIo5yVwSa/BOWeeDVnJLs518zZ8/kJ+azhirKuiOnEtdfy84dIxWOPNnLCNoAzdkPPH87Q57rjV5B+s8uIfzxfUUCc3rwgJnsuAFEs/SAntS7u9RFtnJpQQ/E760/ulYq81tf4xPPJ30C6+eygxOOEXpStUQvc9FBYdKzF4yPGRNkGPdobvmlHr2c1tkCvltzzDsRSg=="
    static let signature12 = "GPRZwbXifbf3PX6cYOi4dYIkFdAp1rkgx9Q2rFWOz03qLsprmL7CZ3Hz+zlvTeHfrNUdCXrySPGAApC7D9A4tygg55lYes+O8Pcab2E83XMGZDIvw2yVju7tz5Z9URpccoKV7Da3zkbgDGkVJUBVhSU7lghvOPmkLHrDHVHLbMgz6J7mZXdVxu8ec1gweT95xM6DSdQTh/FaNLMjA1aI3ikQ8NTQk+fC5NX5TiZgMfxz3PY6Gk8QXzlVz/oJ17f+Wk4YP9X73kflqklx5r/7Gfy1jQl7uf9zw6oLZRvBAtlT0swDsMhLK+OuU7DXIZkrPDzdbHy5V3OpaD2dMepPkA=="
    static let signature13 = "n+0QbVZlyJYlhhFX2uyE3ZPDIK5SwwezUKv2xBpabDpgkOacqZnYSOoYMmivCuQs+I+At3kTCfZYkiKqy/VdgMxeU0hQ69fSf8GkpTJjKVcE64UvarKMld6cgajdvDyE+H5cSe76CrD1SKv5VHLrCFurfLQaBHBJbg9rRePmlAwpFscvrW+LSDRGHFxFRXoIgsxoXi0mvIJFWPBhQ92FRlUac+OV2c/cnezsCDyKUHd+D7dtUIXC2q2lhsJ4VSp0GjwomEhfM6tOCDUdhFnCuNYunF9MQ55hgb+P1dNAR0u9ddUL2YPgXlIsjt56CevrnDgGTc2mhwseEaWQjgp0kA=="

    static func canonical(_ version: SigningVersion) -> String {
        switch version {
        case .v1_0: canonical10
        case .v1_1, .v1_2: canonical11
        case .v1_3: canonical13
        }
    }

    static func expectedSignature(_ version: SigningVersion) -> String {
        switch version {
        case .v1_0: signature10
        case .v1_1: signature11
        case .v1_2: signature12
        case .v1_3: signature13
        }
    }

    static func sign(_ version: SigningVersion, key: RSAPrivateKey? = nil, body: [UInt8] = body,
                     timestamp: Date = timestamp) throws -> [(String, String)] {
        try SignedRequestHeaders.sign(
            method: "post", path: rawPath, body: body, userId: "alice", timestamp: timestamp,
            key: key ?? CryptoFixtures.privateKey(), version: version, serverAPIVersion: "1")
    }

    /// Case-insensitive lookup over a header list, as an HTTP server would provide.
    static func lookup(_ headers: [(String, String)]) -> (String) -> String? {
        { name in headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    @Test func canonicalPath() {
        #expect(CanonicalRequest.path("/organizations/acme/pushy/jobs") == "/organizations/acme/pushy/jobs")
        #expect(CanonicalRequest.path(Self.rawPath) == "/organizations/acme/pushy/jobs")
        #expect(CanonicalRequest.path("/") == "/")
        #expect(CanonicalRequest.path("///") == "/")
        #expect(CanonicalRequest.path("/?a=b") == "/")
        #expect(CanonicalRequest.path("/a/b/") == "/a/b")
    }

    @Test func emptyBodyHashes() {
        #expect(CanonicalRequest.contentHash(of: [], algorithm: .sha1) == "2jmj7l5rSw0yVb/vlWAYkK/YBwk=")
        #expect(CanonicalRequest.contentHash(of: [], algorithm: .sha256) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    }

    @Test(arguments: SigningVersion.allCases)
    func canonicalStrings(version: SigningVersion) {
        let hash = CanonicalRequest.contentHash(of: Self.body, algorithm: version.algorithm)
        let canonical = CanonicalRequest.string(
            version: version, method: "post", path: Self.rawPath, contentHash: hash,
            timestamp: Self.timestampText, userId: "alice", serverAPIVersion: "1")
        #expect(canonical == Self.canonical(version))
    }

    @Test(arguments: SigningVersion.allCases)
    func signatureMatchesOpenSSLKnownAnswer(version: SigningVersion) throws {
        let headers = try Self.sign(version)
        #expect(headers.map(\.0) == ["X-Ops-Sign", "X-Ops-Userid", "X-Ops-Timestamp", "X-Ops-Content-Hash",
                                     "X-Ops-Authorization-1", "X-Ops-Authorization-2", "X-Ops-Authorization-3",
                                     "X-Ops-Authorization-4", "X-Ops-Authorization-5", "X-Ops-Authorization-6",
                                     "X-Ops-Server-API-Version"])
        let lookup = Self.lookup(headers)
        #expect(lookup("X-Ops-Sign") == "algorithm=\(version.algorithm.rawValue);version=\(version.rawValue)")
        #expect(lookup("X-Ops-Timestamp") == Self.timestampText)
        #expect(lookup("X-Ops-Server-API-Version") == "1")
        let chunks = headers.filter { $0.0.hasPrefix("X-Ops-Authorization-") }.map(\.1)
        #expect(chunks.dropLast().allSatisfy { $0.count == 60 })
        #expect(chunks.last?.count == 344 - 5 * 60)
        #expect(chunks.joined() == Self.expectedSignature(version))
    }

    @Test(arguments: SigningVersion.allCases)
    func signThenVerifyRoundTrip(version: SigningVersion) throws {
        let key = try CryptoFixtures.privateKey()
        let other = try RSAPrivateKey.generate()
        let headers = try Self.sign(version, key: key)
        let request = try RequestAuthenticator.parse(headers: Self.lookup(headers))
        #expect(request.userId == "alice")
        #expect(request.version == version)
        #expect(request.algorithm == version.algorithm)
        #expect(request.timestamp == Self.timestamp)
        #expect(request.serverAPIVersion == "1")
        #expect(request.signature.count == 256)
        // Any of the principal's keys may verify; the path may differ only in canonicalised parts.
        try request.verify(method: "POST", path: "/organizations/acme/pushy/jobs?z=2", body: Self.body,
                           publicKeys: [other.publicKey, key.publicKey], now: Self.timestamp + 899)
        #expect(throws: AuthError.badSignature(user: "alice")) {
            try request.verify(method: "POST", path: "/organizations/acme/pushy/jobs", body: Self.body,
                               publicKeys: [other.publicKey], now: Self.timestamp)
        }
        #expect(throws: AuthError.badSignature(user: "alice")) {
            try request.verify(method: "PUT", path: "/organizations/acme/pushy/jobs", body: Self.body,
                               publicKeys: [key.publicKey], now: Self.timestamp)
        }
        #expect(throws: AuthError.badSignature(user: "alice")) {
            try request.verify(method: "POST", path: "/organizations/acme/pushy/job", body: Self.body,
                               publicKeys: [key.publicKey], now: Self.timestamp)
        }
        #expect(throws: AuthError.badSignature(user: "alice")) {
            try request.verify(method: "POST", path: "/organizations/acme/pushy/jobs", body: Self.body,
                               publicKeys: [], now: Self.timestamp)
        }
    }

    @Test func emptyBodyGetRoundTrip() throws {
        let key = try CryptoFixtures.privateKey()
        let headers = try SignedRequestHeaders.sign(
            method: "GET", path: "/organizations/acme/pushy/jobs", body: [], userId: "node-1",
            timestamp: Date(timeIntervalSince1970: 1_709_618_828.75), key: key)
        #expect(Self.lookup(headers)("X-Ops-Content-Hash") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        #expect(Self.lookup(headers)("X-Ops-Server-API-Version") == "0")
        #expect(Self.lookup(headers)("X-Ops-Timestamp") == Self.timestampText)
        let request = try RequestAuthenticator.authenticate(
            headers: Self.lookup(headers), method: "GET", path: "/organizations/acme/pushy/jobs", body: [],
            publicKeys: [key.publicKey], now: Self.timestamp)
        #expect(request.userId == "node-1")
    }

    @Test func missingServerAPIVersionSignsAsZero() throws {
        let key = try CryptoFixtures.privateKey()
        let headers = try SignedRequestHeaders.sign(
            method: "GET", path: "/x", body: [], userId: "u", timestamp: Self.timestamp, key: key)
        let withoutVersion = headers.filter { $0.0 != "X-Ops-Server-API-Version" }
        let request = try RequestAuthenticator.parse(headers: Self.lookup(withoutVersion))
        #expect(request.serverAPIVersion == nil)
        try request.verify(method: "GET", path: "/x", body: [], publicKeys: [key.publicKey], now: Self.timestamp)
    }

    @Test func authorizationChunksReassembleOutOfOrderAndWithNewlines() throws {
        let key = try CryptoFixtures.privateKey()
        var headers = try Self.sign(.v1_1, key: key)
        headers.reverse()
        headers = headers.map { name, value in
            (name.lowercased(), name.hasPrefix("X-Ops-Authorization-") ? value + "\n" : value)
        }
        let request = try RequestAuthenticator.parse(headers: Self.lookup(headers))
        #expect(request.signature == [UInt8](try #require(Data(base64Encoded: Self.signature11))))
        try request.verify(method: "POST", path: Self.rawPath, body: Self.body, publicKeys: [key.publicKey],
                           now: Self.timestamp)
    }

    @Test func chunking() {
        #expect(SignedRequestHeaders.chunks("") == [])
        #expect(SignedRequestHeaders.chunks(String(repeating: "a", count: 60)) == [String(repeating: "a", count: 60)])
        #expect(SignedRequestHeaders.chunks(String(repeating: "a", count: 61)).map(\.count) == [60, 1])
    }

    @Test func missingHeaders() throws {
        let headers = try Self.sign(.v1_3)
        let error = AuthError.missingHeaders(["X-Ops-UserId", "X-Ops-Content-Hash"])
        #expect(throws: error) {
            try RequestAuthenticator.parse(headers: Self.lookup(headers.filter {
                $0.0 != "X-Ops-Userid" && $0.0 != "X-Ops-Content-Hash"
            }))
        }
        #expect(error.httpStatus == 400)
        #expect(error.message == "missing required authentication header(s) 'X-Ops-UserId', 'X-Ops-Content-Hash'")
        #expect(throws: AuthError.missingHeaders(["X-Ops-UserId", "X-Ops-Timestamp", "X-Ops-Sign", "X-Ops-Content-Hash"])) {
            try RequestAuthenticator.parse(headers: { _ in nil })
        }
    }

    @Test func badTimestamp() throws {
        for bad in ["2024-03-05 06:07:08Z", "2024-03-05T06:07:08", "2024-13-05T06:07:08Z", "2024-02-30T06:07:08Z",
                    "2024-03-05T06:07:08.5Z", "yesterday"] {
            var headers = try Self.sign(.v1_3)
            headers = headers.map { $0.0 == "X-Ops-Timestamp" ? ($0.0, bad) : $0 }
            #expect(throws: AuthError.badTimestamp) { try RequestAuthenticator.parse(headers: Self.lookup(headers)) }
        }
        #expect(AuthError.badTimestamp.httpStatus == 401)
        #expect(AuthError.badTimestamp.message == "bad header(s) 'X-Ops-Timestamp'")
        #expect(ChefTimestamp.parse("2024-02-29T23:59:59Z") != nil)
    }

    /// Formatting and parsing by arithmetic agree with Foundation's ISO 8601 formatter from 1601
    /// to 9999 and with each other over years 0001–9999, and the parser refuses days and times
    /// that do not exist. (Before the Gregorian reform of 1582 Foundation counts Julian days;
    /// ISO 8601, and these, count proleptic Gregorian ones. A timestamp that old fails the
    /// 15-minute clock check either way.)
    @Test func timestampsAgreeWithFoundationAndRoundTrip() throws {
        var g = SystemRandomNumberGenerator()
        let foundation = Date.ISO8601FormatStyle()
        let first = -11_644_473_600.0, last = 253_402_300_799.0  // 1601-01-01T00:00:00Z ... 9999-12-31T23:59:59Z
        var dates = [first, last, 0, -1, 951_782_400, 951_868_799, 4_107_542_400, -2_203_891_200, 1_709_251_199]
        for _ in 0..<5_000 { dates.append(Double(Int64.random(in: Int64(first)...Int64(last), using: &g))) }
        for seconds in dates {
            let date = Date(timeIntervalSince1970: seconds)
            let text = ChefTimestamp.format(date)
            #expect(text == foundation.format(date), "\(seconds)")
            #expect(ChefTimestamp.parse(text)?.timeIntervalSince1970 == seconds, "\(text)")
        }
        // Sub-seconds are dropped (towards the past, also before 1970).
        #expect(ChefTimestamp.format(Date(timeIntervalSince1970: 1_709_251_199.9)) == "2024-02-29T23:59:59Z")
        #expect(ChefTimestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59Z")
        // Years 0001–1600, proleptic Gregorian: what is written parses back to the same second.
        let year1 = -62_135_596_800.0
        for seconds in [year1, first - 1] + (0..<2_000).map({ _ in Double(Int64.random(in: Int64(year1)..<Int64(first), using: &g)) }) {
            let text = ChefTimestamp.format(Date(timeIntervalSince1970: seconds))
            #expect(ChefTimestamp.parse(text)?.timeIntervalSince1970 == seconds, "\(seconds) \(text)")
        }
        #expect(ChefTimestamp.format(Date(timeIntervalSince1970: year1)) == "0001-01-01T00:00:00Z")
        // Far outside any request's years, and not numbers: formatted, never a crash.
        for odd in [1e13, -1e13, 1e300, .infinity, -.infinity, .nan] { _ = ChefTimestamp.format(Date(timeIntervalSince1970: odd)) }
        #expect(ChefTimestamp.parse("0112-09-04T05:02:22Z").map(ChefTimestamp.format) == "0112-09-04T05:02:22Z")
        for valid in ["2000-02-29T00:00:00Z", "2024-02-29T12:00:00Z", "2023-12-31T23:59:59Z", "1970-01-01T00:00:00Z"] {
            #expect(ChefTimestamp.parse(valid).map(ChefTimestamp.format) == valid)
        }
        for invalid in ["1900-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
                        "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-10T24:00:00Z", "2024-01-10T23:60:00Z",
                        "2024-01-10T23:59:60Z", "0000-01-01T00:00:00Z", "2024-01-10T23:59:5AZ", "+024-01-10T23:59:59Z",
                        "2024-01-10T23:59:59z", "2024-01-10T23:59:59Z ", "２０２４-01-10T23:59:59Z"] {
            #expect(ChefTimestamp.parse(invalid) == nil, "\(invalid)")
        }
    }

    @Test func clockSkewIsStrict() throws {
        let key = try CryptoFixtures.privateKey()
        let request = try RequestAuthenticator.parse(headers: Self.lookup(try Self.sign(.v1_3, key: key)))
        for now in [Self.timestamp + 900, Self.timestamp - 900, Self.timestamp + 5000] {
            #expect(throws: AuthError.clockSkew(user: "alice")) {
                try request.verify(method: "POST", path: Self.rawPath, body: Self.body,
                                   publicKeys: [key.publicKey], now: now)
            }
        }
        try request.verify(method: "POST", path: Self.rawPath, body: Self.body, publicKeys: [key.publicKey],
                           now: Self.timestamp - 899)
        #expect(throws: AuthError.clockSkew(user: "alice")) {
            try request.checkClock(now: Self.timestamp + 61, allowedSkew: 60)
        }
        let error = AuthError.clockSkew(user: "alice")
        #expect(error.httpStatus == 401)
        #expect(error.message == "Failed to authenticate as alice. Synchronize the clock on your host.")
    }

    @Test func signDescriptionParsing() throws {
        let accepted: [(String, SigningVersion, SigningAlgorithm)] = [
            ("version=1.0", .v1_0, .sha1), ("version=1.1", .v1_1, .sha1),
            ("algorithm=sha1;version=1.1;", .v1_1, .sha1), (";version=1.2;;", .v1_2, .sha1),
            ("algorithm=sha256;version=1.3", .v1_3, .sha256), ("version=1.3", .v1_3, .sha256),
        ]
        for (text, version, algorithm) in accepted {
            let parsed = try RequestAuthenticator.parseSignDescription(text)
            #expect(parsed.0 == version && parsed.1 == algorithm, "\(text)")
        }
        for text in ["version=2.0", "algorithm=sha256;version=1.1", "algorithm=sha1;version=1.3",
                     "algorithm=md5;version=1.0", "algorithm=sha1", "1.1"] {
            #expect(throws: AuthError.unsupportedVersion, "\(text)") {
                try RequestAuthenticator.parseSignDescription(text)
            }
        }
        var headers = try Self.sign(.v1_3)
        headers = headers.map { $0.0 == "X-Ops-Sign" ? ($0.0, "version=1.4") : $0 }
        #expect(throws: AuthError.unsupportedVersion) { try RequestAuthenticator.parse(headers: Self.lookup(headers)) }
        #expect(AuthError.unsupportedVersion.httpStatus == 400)
        #expect(AuthError.unsupportedVersion.message == "Unsupported authentication protocol version")
    }

    @Test(arguments: SigningVersion.allCases)
    func contentHashMismatch(version: SigningVersion) throws {
        let key = try CryptoFixtures.privateKey()
        let request = try RequestAuthenticator.parse(headers: Self.lookup(try Self.sign(version, key: key)))
        #expect(throws: AuthError.contentHashMismatch(user: "alice")) {
            try request.verify(method: "POST", path: Self.rawPath, body: Self.body + [0x20],
                               publicKeys: [key.publicKey], now: Self.timestamp)
        }
        let error = AuthError.contentHashMismatch(user: "alice")
        #expect(error.httpStatus == 401)
        #expect(error.message.contains("X-Ops-Content-Hash does not match the request body"))
    }

    @Test func badSignatureWhenAuthorizationIsMissingOrGarbled() throws {
        let key = try CryptoFixtures.privateKey()
        let headers = try Self.sign(.v1_3, key: key)
        let unsigned = headers.filter { !$0.0.hasPrefix("X-Ops-Authorization") }
        let garbled = headers.map { $0.0 == "X-Ops-Authorization-2" ? ($0.0, "!!!") : $0 }
        let truncated = headers.filter { $0.0 != "X-Ops-Authorization-3" }
        for variant in [unsigned, garbled, truncated] {
            let request = try RequestAuthenticator.parse(headers: Self.lookup(variant))
            #expect(throws: AuthError.badSignature(user: "alice")) {
                try request.verify(method: "POST", path: Self.rawPath, body: Self.body,
                                   publicKeys: [key.publicKey], now: Self.timestamp)
            }
        }
        let error = AuthError.badSignature(user: "alice")
        #expect(error.httpStatus == 401)
        #expect(error.message == "Invalid signature for user or client 'alice'")
        #expect(error.wwwAuthenticate == #"X-Ops-Sign version="1.0" version="1.1""#)
    }

    @Test func version10RefusesCanonicalStringsTooLongForTheKey() throws {
        #expect(throws: CryptoKeyError.self) {
            try SignedRequestHeaders.sign(
                method: "GET", path: "/x", body: [], userId: String(repeating: "u", count: 200),
                timestamp: Self.timestamp, key: CryptoFixtures.privateKey(), version: .v1_0)
        }
        // 1.1 hashes the user id, so long names fit.
        _ = try SignedRequestHeaders.sign(
            method: "GET", path: "/x", body: [], userId: String(repeating: "u", count: 200),
            timestamp: Self.timestamp, key: CryptoFixtures.privateKey(), version: .v1_1)
    }

    @Test func sessionMACMatchesTheOneShotSigner() throws {
        let key = (0..<32).map { UInt8($0 * 7 % 256) }
        let mac = SessionMAC(key: key)
        for body in [[UInt8](), Array("{\"type\":\"heartbeat\"}".utf8), [UInt8](repeating: 0xAB, count: 5000)] {
            let frames = mac.frames(body: body)
            #expect(frames == MessageSigner.hmacFrames(body: body, key: key))
            let header = try MessageHeader.parse(frames[0])
            #expect(mac.verify(header: header, body: body))
            #expect(!mac.verify(header: header, body: body + [0]))
            #expect(!SessionMAC(key: key.reversed()).verify(header: header, body: body))
            // In place, from the scanned frame (the server's inbound path): the same answers.
            let scanned = try MessageHeader.scan(frames[0])
            #expect(mac.verify(frame: frames[0], scanned, body: body))
            #expect(!mac.verify(frame: frames[0], scanned, body: body + [0]))
            #expect(!SessionMAC(key: key.reversed()).verify(frame: frames[0], scanned, body: body))
            // A range from another frame, or an RSA header, is refused, never read past the end.
            #expect(!mac.verify(frame: Array(frames[0].prefix(10)), scanned, body: body))
            var rsa = scanned
            rsa.method = .rsa2048SHA1
            #expect(!mac.verify(frame: frames[0], rsa, body: body))
        }
    }

    /// RFC 4231's HMAC-SHA256 cases 1 (a short key), 2 (a key shorter than the data) and 6 (a
    /// key longer than SHA-256's block, hashed first).
    @Test(arguments: [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ])
    func sessionMACMatchesRFC4231(key: [UInt8], data: [UInt8], expected: String) throws {
        let mac = SessionMAC(key: key)
        #expect(mac.code(data).map { String(format: "%02x", $0) }.joined() == expected)
        let header = try MessageHeader.parse(mac.frames(body: data)[0])
        #expect(mac.verify(header: header, body: data))
    }

    /// The same codes as swift-crypto's HMAC around SHA-256's 64-byte block, for empty keys
    /// and bodies too.
    @Test(arguments: [0, 1, 63, 64, 65, 131])
    func sessionMACMatchesSwiftCrypto(keyLength: Int) throws {
        let key = (0..<keyLength).map { UInt8(($0 * 31 + 7) % 256) }
        let mac = SessionMAC(key: key)
        for body in [[UInt8](), [0x41], (0..<1000).map { UInt8($0 % 251) }] {
            #expect(mac.frames(body: body) == MessageSigner.hmacFrames(body: body, key: key), "key \(keyLength), body \(body.count)")
        }
    }

    /// Signatures that are not standard padded base64 of 32 bytes fail, never crash.
    @Test func sessionMACRefusesMalformedSignatures() throws {
        let key = [UInt8](repeating: 7, count: 32), body = Array("{}".utf8)
        let mac = SessionMAC(key: key)
        let good = try MessageHeader.parse(mac.frames(body: body)[0]).signature
        // '=' elsewhere than at the end (OpenSSL's decoder alone would read it as zero bits, as 'A').
        let chars = Array(good)
        let equalsForA: [String] = chars.indices.filter { $0 < 43 && chars[$0] == "A" }.prefix(1).map { i in
            var c = chars
            c[i] = "="
            return String(c)
        }
        var bad: [String] = ["", String(good.dropLast()), good + "=", String(good.dropLast(2)) + "==", "*" + good.dropFirst()]
        bad += [String(repeating: "A", count: 44), String(good.dropLast()) + "A", "=" + good.dropFirst()]
        for bad in bad + equalsForA {
            #expect(!mac.verify(header: MessageHeader(method: .hmacSHA256, signature: bad), body: body), "\(bad)")
        }
        #expect(!mac.verify(header: MessageHeader(method: .rsa2048SHA1, signature: good), body: body))
    }
}
