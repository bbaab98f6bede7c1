import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PushyAPIClient
import PushyProtocol
import Testing

/// The malformed requests whose point is also the socket: a body over the limit, which the
/// server cuts while the client is still sending it, and a 64 KB header, through NIO's HTTP/1
/// parser and TLS. Each gets its documented JSON 4xx and the server keeps serving. The whole
/// table of malformed requests is `BadRequestTests` in PushyServerTests (router level).
@Suite(.serialized, .timeLimit(.minutes(5))) struct BadRequestSocketTests {
    /// Sends a request signed by `admin` (as `userId`: a name the server may not know).
    static func send(_ c: TestCluster, _ http: HTTPClient, _ method: HTTPMethod, _ path: String, body: [UInt8]?,
                     userId: String = "admin") async throws -> (status: Int, contentType: String, message: String?) {
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: c.dataDir + "/admin.pem", encoding: .utf8))
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(c.apiPort)" + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        for (k, v) in try SignedRequestHeaders.sign(method: method.rawValue, path: path, body: body ?? [], userId: userId,
                                                     timestamp: Date(), key: key) {
            request.headers.add(name: k, value: v)
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .seconds(20))
        let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        let error = (try? JSONValue.parse(bytes))?["error"]
        let message = error?.stringValue ?? error?.arrayValue?.compactMap(\.stringValue).joined(separator: "; ")
        return (Int(response.status.code), response.headers.first(name: "Content-Type") ?? "", message)
    }

    @Test func anOversizedBodyAndA64KBHeaderGetTheir4xxOverTLS() async throws {
        let c = try await TestCluster()
        var http: HTTPClient?
        do {
            let client = try c.tls.httpClient()
            http = client
            let tooBig = try await Self.send(c, client, .POST, "/organizations/pushy/pushy/jobs",
                                             body: [UInt8](repeating: UInt8(ascii: " "), count: 1_000_001))
            #expect(tooBig.status == 413)
            #expect(tooBig.contentType.hasPrefix("application/json"))
            #expect(tooBig.message?.contains("JSON must be no more than 1000000 bytes.") == true, "\(tooBig.message ?? "no message")")

            let hugeHeader = try await Self.send(c, client, .GET, "/organizations/pushy/pushy/node_states", body: nil,
                                                 userId: String(repeating: "h", count: 65_536))
            #expect(hugeHeader.status == 401)
            #expect(hugeHeader.contentType.hasPrefix("application/json"))
            #expect(hugeHeader.message?.contains("Failed to authenticate as") == true, "\(hugeHeader.message ?? "no message")")

            // The server keeps serving.
            #expect(try await c.admin.nodeStates().isEmpty)
        } catch {
            Issue.record("\(error)")
        }
        try? await http?.shutdown()
        await c.shutdown()
    }
}
