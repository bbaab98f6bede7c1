import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PushyProtocol
import PushyTestSupport
import Testing

/// Headless Chromium driven through chromedriver's W3C WebDriver HTTP API (Debian's `chromium`
/// and `chromium-driver`; `make deps-browser` installs them). Every request has a deadline;
/// `close` ends the browser session, stops chromedriver and kills the browser by its process id
/// whatever state they are in.
final class WebDriver: @unchecked Sendable {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"
    /// Whether the browser can be driven here; `make test` sets PUSHY_REQUIRE_BROWSER=1 so that a
    /// missing browser fails the run instead of skipping the test.
    static var available: Bool {
        let fm = FileManager.default
        return fm.isExecutableFile(atPath: chromium) && fm.isExecutableFile(atPath: chromedriver)
    }
    static var required: Bool { ProcessInfo.processInfo.environment["PUSHY_REQUIRE_BROWSER"] == "1" }

    let driver: ProcessRun
    let port: Int
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let profileDir: String
    private(set) var session = ""
    private(set) var browserPid: Int32 = 0

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Starts chromedriver on a free loopback port and waits (bounded) until it is ready.
    init() async throws {
        port = try Self.freePort()
        profileDir = NSTemporaryDirectory() + "pushy-chromium-" + UUID().uuidString
        driver = try ProcessRun(Command(Self.chromedriver, ["--port=\(port)", "--allowed-ips=127.0.0.1"]), name: "chromedriver")
        do {
            try await eventually("chromedriver ready on port \(port)", timeout: .seconds(30)) {
                (try? await self.request("GET", "/status"))?["value"]?["ready"]?.boolValue == true
            }
        } catch {
            await close()
            throw error
        }
    }

    /// A headless browser session that accepts the test server's self-signed certificate.
    func startBrowser(width: Int = 1400, height: Int = 1000) async throws {
        let args: [JSONValue] = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--no-first-run", "--user-data-dir=\(profileDir)", "--window-size=\(width),\(height)"]
            .map(JSONValue.string)
        let caps: JSONValue = ["capabilities": ["alwaysMatch": [
            "acceptInsecureCerts": true,
            "goog:chromeOptions": ["binary": .string(Self.chromium), "args": .array(args)],
        ]]]
        let v = try await request("POST", "/session", caps, timeout: .seconds(60))
        guard let id = v["value"]?["sessionId"]?.stringValue else { throw Failure(description: "no session: \(v.serialized())") }
        session = id
        browserPid = Int32(v["value"]?["capabilities"]?["goog:processID"]?.intValue ?? 0)
    }

    // MARK: Commands

    func navigate(_ url: String) async throws { _ = try await command("POST", "url", ["url": .string(url)]) }
    func currentURL() async throws -> String { try await command("GET", "url")["value"]?.stringValue ?? "" }

    /// Runs `script` in the page (a function body; `arguments` are its arguments) and returns its value.
    @discardableResult
    func execute(_ script: String, _ arguments: [JSONValue] = []) async throws -> JSONValue {
        try await command("POST", "execute/sync", ["script": .string(script), "args": .array(arguments)])["value"] ?? .null
    }

    /// Runs `script` asynchronously: its last argument is the callback that gives the result.
    func executeAsync(_ script: String, _ arguments: [JSONValue] = []) async throws -> JSONValue {
        try await command("POST", "execute/async", ["script": .string(script), "args": .array(arguments)])["value"] ?? .null
    }

    /// The WebDriver id of the first element matching `css`.
    func find(_ css: String) async throws -> String {
        let v = try await command("POST", "element", ["using": "css selector", "value": .string(css)])
        guard let id = v["value"]?.objectValue?.first?.1.stringValue else { throw Failure(description: "no element '\(css)'") }
        return id
    }

    /// Clicks the first element matching `css`. A live page may re-render it between the find
    /// and the click ("stale element reference"): then it is found again, for up to 10 s.
    func click(_ css: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                _ = try await command("POST", "element/\(try await find(css))/click", .object([]))
                return
            } catch let e as Failure where e.description.contains("stale element") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func type(_ css: String, _ text: String) async throws {
        let id = try await find(css)
        _ = try await command("POST", "element/\(id)/clear", .object([]))
        _ = try await command("POST", "element/\(id)/value", ["text": .string(text)])
    }

    func text(_ css: String) async throws -> String {
        (try await execute("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", [.string(css)])).stringValue ?? ""
    }

    /// Waits until `script` (a function body) returns true in the page.
    func waitFor(_ what: String, timeout: Duration = .seconds(45), _ script: String, _ arguments: [JSONValue] = []) async throws {
        try await eventually(what, timeout: timeout) {
            try await Task.sleep(for: .milliseconds(100))
            return try await execute(script, arguments).boolValue == true
        }
    }

    /// A PNG of the viewport, written to `path`.
    func screenshot(to path: String) async throws {
        let v = try await command("GET", "screenshot")
        guard let b64 = v["value"]?.stringValue, let data = Data(base64Encoded: b64) else {
            throw Failure(description: "no screenshot")
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    func deleteCookies() async throws { _ = try await command("DELETE", "cookie", nil) }

    // MARK: Shut-down

    /// Ends the session (the browser quits), stops chromedriver, and kills the browser by its pid
    /// if it is still there; removes the profile. Safe to call more than once.
    func close() async {
        if !session.isEmpty {
            _ = try? await request("DELETE", "/session/\(session)", nil, timeout: .seconds(15))
            session = ""
        }
        await driver.stop()
        if browserPid > 0, Glibc.kill(browserPid, 0) == 0 { Glibc.kill(browserPid, SIGKILL) }
        try? await http.shutdown()
        try? FileManager.default.removeItem(atPath: profileDir)
    }

    // MARK: HTTP

    private func command(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        try await request(method, "/session/\(session)/\(path)", body)
    }

    private func request(_ method: String, _ path: String, _ body: JSONValue? = nil, timeout: Duration = .seconds(30)) async throws -> JSONValue {
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        r.method = .init(rawValue: method)
        r.headers.add(name: "Content-Type", value: "application/json")
        if let body { r.body = .bytes(ByteBuffer(string: body.serialized())) }
        let http = self.http, req = r
        let (status, bytes) = try await withDeadline("WebDriver \(method) \(path)", timeout) {
            let response = try await http.execute(req, timeout: .seconds(Int64(timeout.components.seconds)))
            let buf = try await response.body.collect(upTo: 64 << 20)
            return (response.status.code, Array(buf.readableBytesView))
        }
        let v = (try? JSONValue.parse(bytes)) ?? .null
        guard status < 300 else {
            throw Failure(description: "WebDriver \(method) \(path): \(status) \(v["value"]?["message"]?.stringValue ?? String(decoding: bytes.prefix(300), as: UTF8.self))")
        }
        return v
    }

    /// A loopback port nobody listens on now, outside the kernel's ephemeral range (`freePort`).
    static func freePort() throws -> Int {
        do { return try PushyIntegrationTests.freePort() } catch { throw Failure(description: "no free port: \(error)") }
    }
}
