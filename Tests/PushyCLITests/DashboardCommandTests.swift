import Foundation
import Testing
@testable import PushyAPIClient
@testable import PushyCLI

/// `pushy dashboard`: its flags, the browser it would open, and the link it builds from the
/// server URL (the call itself: DashboardBrowserTests).
@Suite(.timeLimit(.minutes(1))) struct DashboardCommandTests {
    @Test func parses() throws {
        #expect(try Pushy.parseCommand(["dashboard"]) is DashboardCommand)
        let open = try parse(["dashboard", "--open", "--format", "json"], as: DashboardCommand.self)
        #expect(open.open && open.output.isJSON)
        #expect(parseError(["dashboard", "extra"]) != nil)
    }

    @Test func findsABrowser() throws {
        let dir = NSTemporaryDirectory() + "pushy-browser-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(DashboardCommand.browser(environment: ["PATH": dir]) == nil)
        FileManager.default.createFile(atPath: dir + "/xdg-open", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        #expect(DashboardCommand.browser(environment: ["PATH": dir]) == dir + "/xdg-open")
        FileManager.default.createFile(atPath: dir + "/firefox", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        #expect(DashboardCommand.browser(environment: ["PATH": dir, "BROWSER": "firefox"]) == dir + "/firefox")
        #expect(DashboardCommand.browser(environment: ["PATH": dir, "BROWSER": "/no/such/browser"]) == nil)
    }

    @Test func linksUseTheServerAsTheClientReachesIt() {
        #expect(PushyRESTClient.origin(of: "https://pushy.example.com:10003/organizations/acme") == "https://pushy.example.com:10003")
        #expect(PushyRESTClient.origin(of: "https://127.0.0.1/organizations/pushy/") == "https://127.0.0.1")
        #expect(PushyRESTClient.origin(of: "https://[::1]:10003/organizations/pushy") == "https://[::1]:10003")
    }
}
