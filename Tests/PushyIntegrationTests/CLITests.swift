import Foundation
import PushyTestSupport
import PushyAPIClient
import PushyProtocol
import Testing

/// The real `pushy` binary against a real server and agents: exit codes and messages.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func pushy(_ c: TestCluster, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Run {
        let r = try await ProcessRun(c.cliProcess(args), name: "pushy " + args.joined(separator: " "))
            .wait(sourceLocation: sourceLocation)
        return Run(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
    }

    @Test func jobStartExitCodesFollowTheResult() async throws {
        let c = try await TestCluster()
        try await c.startAgent("c1", roles: ["webapp"])
        try await c.startAgent("c2", roles: ["webapp"])
        try await c.startAgent("c3", roles: ["db"])
        try await c.waitAvailable(["c1", "c2", "c3"])

        let ok = try await pushy(c, ["job", "start", "--quorum", "90%", "ok", "--search", "role:webapp", "--poll-interval", "0.1"])
        #expect(ok.status == 0, "stderr: \(ok.stderr)")
        let rows = ok.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(rows.contains("c1") && rows.contains("c2") && !rows.contains("c3"), "stdout: \(ok.stdout)")
        #expect(ok.stdout.contains("complete"))

        let failed = try await pushy(c, ["job", "start", "fail", "c1", "c2", "--poll-interval", "0.1"])
        #expect(failed.status != 0)
        #expect(failed.stdout.contains("failed"))

        let before = try await c.admin.jobs().count
        let none = try await pushy(c, ["job", "start", "ok", "--search", "role:nothing"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("matched no nodes"))
        #expect(try await c.admin.jobs().count == before)

        let list = try await pushy(c, ["job", "list", "--format", "json"])
        #expect(list.status == 0)
        #expect((try JSONValue.parse(list.stdout).arrayValue?.count) == before)

        let badQuorum = try await pushy(c, ["job", "start", "--quorum", "lots", "ok", "c1"])
        #expect(badQuorum.status != 0)
        #expect(badQuorum.stderr.lowercased().contains("quorum"))
        await c.shutdown()
    }

    @Test func unreachableServerNamesTheURL() async throws {
        let c = try await TestCluster()
        await c.stopServer()
        let r = try await pushy(c, ["node", "status"])
        #expect(r.status != 0)
        #expect(r.stderr.contains(c.orgURL))
        #expect(!r.stderr.contains("Fatal error"))
        await c.shutdown()
    }
}
