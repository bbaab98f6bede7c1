import ArgumentParser
import Foundation
import Testing
@testable import PushyCLI

/// Every subcommand but `job start`: which command a line parses to, its fields, and the
/// message of each bad line.
@Suite(.timeLimit(.minutes(1))) struct CommandParsingTests {
    /// Each command line parses to its command type.
    @Test(arguments: [
        (["node", "status"], "NodeStatus"),
        (["search", "node"], "SearchNode"),
        (["job", "list"], "JobList"),
        (["job", "status", "j1"], "JobStatusCommand"),
        (["job", "output", "j1", "n1"], "JobOutputCommand"),
        (["job", "abort", "j1"], "JobAbort"),
        (["job", "feed"], "JobFeedCommand"),
        (["job", "start", "ok", "n1"], "JobStart"),
        (["client", "create", "web1"], "ClientCreate"),
        (["client", "list"], "ClientList"),
        (["client", "delete", "web1"], "ClientDelete"),
        (["user", "create", "alice"], "UserCreate"),
        (["user", "list"], "UserList"),
        (["user", "delete", "alice"], "UserDelete"),
        (["group", "list"], "GroupList"),
        (["group", "show", "admins"], "GroupShow"),
        (["group", "add", "admins", "user", "alice"], "GroupAdd"),
        (["group", "remove", "admins", "user", "alice"], "GroupRemove"),
        (["group", "delete", "ops"], "GroupDelete"),
        (["org", "create", "acme"], "OrgCreate"),
        (["org", "list"], "OrgList"),
        (["org", "delete", "acme"], "OrgDelete"),
        (["token", "create"], "TokenCreate"),
        (["audit"], "AuditCommand"),
        (["status"], "StatusCommand"),
        (["job"], "JobCommand"),
        ([], "Pushy"),
    ])
    func commandType(_ args: [String], _ name: String) throws {
        let command = try Pushy.parseCommand(args)
        #expect(String(describing: type(of: command)) == name, "\(args)")
    }

    @Test func nodeStatus() throws {
        #expect(try parse(["node", "status"], as: NodeStatus.self).targets.isEmpty)
        let s = try parse(["node", "status", "web1", "role:webapp", "--format", "json"], as: NodeStatus.self)
        #expect(s.targets == ["web1", "role:webapp"])
        #expect(s.output.isJSON)
    }

    @Test func searchNode() throws {
        #expect(try parse(["search", "node"], as: SearchNode.self).query == "*:*")
        let s = try parse(["search", "node", "role:webapp AND NOT chef_environment:dev"], as: SearchNode.self)
        #expect(s.query == "role:webapp AND NOT chef_environment:dev")
        #expect(!s.output.isJSON)
    }

    @Test func jobReads() throws {
        #expect(try parse(["job", "list", "--format", "json"], as: JobList.self).output.isJSON)
        #expect(try parse(["job", "status", "abc"], as: JobStatusCommand.self).jobId == "abc")
        #expect(try parse(["job", "abort", "abc", "--format", "json"], as: JobAbort.self).output.isJSON)

        let out = try parse(["job", "output", "abc", "web1"], as: JobOutputCommand.self)
        #expect(out.jobId == "abc" && out.node == "web1" && out.channel == nil && !out.group)
        let grouped = try parse(["job", "output", "abc", "--group", "--format", "json"], as: JobOutputCommand.self)
        #expect(grouped.group && grouped.node == nil && grouped.output.isJSON)
        #expect(try parse(["job", "status", "abc", "--group"], as: JobStatusCommand.self).group)
        let rerun = try parse(["job", "rerun", "abc", "--failed", "--nowait"], as: JobRerun.self)
        #expect(rerun.selection == .failed && rerun.nowait)
        #expect(try parse(["job", "rerun", "abc"], as: JobRerun.self).selection == .notSucceeded)
        #expect(try parse(["job", "rerun", "abc", "--all"], as: JobRerun.self).selection == .all)
        #expect(try parse(["job", "output", "abc", "web1", "--channel", "stderr"], as: JobOutputCommand.self).channel == .stderr)
    }

    @Test func jobFeed() throws {
        let org = try parse(["job", "feed"], as: JobFeedCommand.self)
        #expect(org.jobId == nil && org.lastEventId == nil && org.wait.waitTimeout == nil)
        let job = try parse(["job", "feed", "abc", "--last-event-id", "job-3", "--wait-timeout", "3600"],
                            as: JobFeedCommand.self)
        #expect(job.jobId == "abc")
        #expect(job.lastEventId == "job-3")
        #expect(job.wait.waitTimeout == 3600)
        let hidden = try parse(["job", "feed", "abc", "--stall-limit", "3", "--wait-margin", "1.5"], as: JobFeedCommand.self)
        #expect(hidden.wait.stall == .seconds(3))
        #expect(hidden.wait.waitMargin == 1.5)
    }

    @Test func clientAndUserCreate() throws {
        let c = try parse(["client", "create", "web1"], as: ClientCreate.self)
        #expect(c.name == "web1" && c.keyOut == nil && !c.force && !c.output.isJSON)
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let existing = try dir.write("web1.pem", "old key")
        let forced = try parse(["client", "create", "web1", "--key-out", existing, "--force"], as: ClientCreate.self)
        #expect(forced.keyOut == existing && forced.force)
        #expect(try KeyFile.target(kind: "client", name: "web1", keyOut: existing, force: true) == existing)

        let u = try parse(["user", "create", "alice", "--admin", "--key-out", dir.path + "/alice.pem", "--format", "json"],
                          as: UserCreate.self)
        #expect(u.name == "alice" && u.admin && u.keyOut == dir.path + "/alice.pem" && u.output.isJSON)
        #expect(!(try parse(["user", "create", "bob"], as: UserCreate.self)).admin)
    }

    @Test func keyOutThatExistsNeedsForce() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let existing = try dir.write("web1.pem", "old key")
        for kind in ["client", "user"] {
            #expect(parseError([kind, "create", "web1", "--key-out", existing])
                == "\(existing) already exists; pass --force to overwrite it or choose another --key-out")
        }
    }

    @Test func deletes() throws {
        #expect(try parse(["client", "delete", "web1"], as: ClientDelete.self).name == "web1")
        #expect(try parse(["user", "delete", "alice"], as: UserDelete.self).name == "alice")
        #expect(try parse(["group", "delete", "ops"], as: GroupDelete.self).group == "ops")
        #expect(try parse(["org", "delete", "acme"], as: OrgDelete.self).name == "acme")
    }

    @Test(arguments: [MemberKind.user, .client, .group])
    func groupMembers(_ kind: MemberKind) throws {
        let add = try parse(["group", "add", "pushy_job_writers", kind.rawValue, "x1"], as: GroupAdd.self)
        #expect(add.member.group == "pushy_job_writers" && add.member.type == kind && add.member.name == "x1")
        let remove = try parse(["group", "remove", "admins", kind.rawValue, "x2", "--format", "json"], as: GroupRemove.self)
        #expect(remove.member.group == "admins" && remove.member.type == kind && remove.member.name == "x2")
        #expect(remove.output.isJSON)
    }

    @Test func groupAndOrgReads() throws {
        #expect(try parse(["group", "show", "admins"], as: GroupShow.self).group == "admins")
        #expect(try parse(["group", "list", "--format", "json"], as: GroupList.self).output.isJSON)
        #expect(try parse(["org", "create", "acme", "--format", "json"], as: OrgCreate.self).name == "acme")
        #expect(try parse(["org", "list"], as: OrgList.self).output.format == .text)
    }

    @Test(arguments: [
        ([] as [String], 3600),
        (["--expires", "90"], 90),
        (["--expires", "90s"], 90),
        (["--expires", "30m"], 1800),
        (["--expires", "1h"], 3600),
        (["--expires", "7d"], 604_800),
        (["--expires", " 2h "], 7200),
    ])
    func tokenExpiry(_ options: [String], _ seconds: Int) throws {
        #expect(try parse(["token", "create"] + options, as: TokenCreate.self).expires == seconds)
    }

    @Test(arguments: [([] as [String], 100), (["--limit", "1"], 1), (["--limit", "10000"], 10_000)])
    func auditLimit(_ options: [String], _ limit: Int) throws {
        #expect(try parse(["audit"] + options, as: AuditCommand.self).limit == limit)
    }

    @Test func status() throws {
        #expect(try parse(["status", "--format", "json"], as: StatusCommand.self).output.isJSON)
        #expect(!(try parse(["status"], as: StatusCommand.self)).output.isJSON)
    }

    @Test func connectionOptions() throws {
        let s = try parse([
            "--config", "/etc/pushy/cli.json", "--trusted-cert", "/etc/pushy/tls.crt", "--insecure", "status",
        ], as: StatusCommand.self)
        #expect(s.connection.config == "/etc/pushy/cli.json")
        #expect(s.connection.trustedCert == "/etc/pushy/tls.crt")
        #expect(s.connection.insecure)
        #expect(s.connection.serverUrl == nil && s.connection.user == nil && s.connection.key == nil)
        let after = try parse(["node", "status", "web1", "--insecure", "--user", "bob"], as: NodeStatus.self)
        #expect(after.connection.insecure && after.connection.user == "bob" && after.targets == ["web1"])
    }

    /// Leading connection options move behind the subcommand path (before any `--`).
    @Test(arguments: [
        (["job", "list"], ["job", "list"]),
        (["--config", "c.json", "job", "list"], ["job", "list", "--config", "c.json"]),
        (["--config=c.json", "--user", "u", "status"], ["status", "--config=c.json", "--user", "u"]),
        (["--insecure", "--key", "k", "node", "status"], ["node", "status", "--insecure", "--key", "k"]),
        (["--user", "u", "job", "start", "ok", "--", "-n1"], ["job", "start", "ok", "--user", "u", "--", "-n1"]),
        (["--format", "json", "job", "list"], ["--format", "json", "job", "list"]),
        (["", "job"], ["", "job"]),
        (["--user"], ["--user"]),
    ])
    func hoisting(_ args: [String], _ expected: [String]) {
        #expect(ConnectionOptions.hoisted(args) == expected)
    }

    @Test(arguments: [
        (["job", "output", "j1", "n1", "--channel", "both"], "The value 'both' is invalid for '--channel <channel>'"),
        (["job", "output", "j1"], "name the node whose output to print, or use --group"),
        (["job", "output", "j1", "n1", "--group"], "--group shows every node's output"),
        (["job", "output", "j1", "n1", "--format", "json"], "--format json goes with --group"),
        (["job", "rerun", "j1", "--failed", "--all"], "give --failed or --all, not both"),
        (["job", "rerun"], "Missing expected argument '<job-id>'"),
        (["job", "start", "ok", "n1", "--max-concurrency", "0"], "--max-concurrency takes a number of nodes >= 1"),
        (["job", "start", "ok", "n1", "--max-errors", "0%"], "--max-errors takes a number of nodes >= 1"),
        (["job", "start", "ok", "n1", "--batch-size", "x"], "--batch-size takes a number of nodes >= 1"),
        (["job", "start", "ok", "n1", "--batch-wait", "30"], "--batch-wait is the pause between batches"),
        (["job", "start", "ok", "n1", "--batch-size", "2", "--batch-wait=-1"], "--batch-wait must be 0 to 86400 seconds"),
        (["job", "start", "ok", "n1", "--canary", "0"], "--canary must be a number of nodes >= 1"),
        (["job", "status"], "Missing expected argument '<job-id>'"),
        (["job", "feed", "j1", "--wait-timeout", "0"], "--wait-timeout must be a positive number of seconds"),
        (["group", "add", "admins", "robot", "r2"], "The value 'robot' is invalid for '<type>'"),
        (["group", "remove", "admins", "user"], "Missing expected argument '<name>'"),
        (["token", "create", "--expires", "2w"],
         "The value '2w' is invalid for '--expires <duration>': not a duration like 90s, 30m, 1h or 7d"),
        (["token", "create", "--expires", "0"], "not a duration like 90s, 30m, 1h or 7d"),
        (["token", "create", "--expires", "h"], "not a duration like 90s, 30m, 1h or 7d"),
        (["audit", "--limit", "0"], "--limit must be from 1 to 10000"),
        (["audit", "--limit", "10001"], "--limit must be from 1 to 10000"),
        (["client", "create", "a/b"], "invalid client name 'a/b': give a non-empty name without '/'"),
        (["client", "create", ""], "invalid client name '': give a non-empty name without '/'"),
        (["user", "create", "x/y", "--admin"], "invalid user name 'x/y': give a non-empty name without '/'"),
        (["status", "--format", "xml"], "The value 'xml' is invalid for '--format <format>'"),
        (["node", "bogus"], "Unexpected argument 'bogus'"),
        (["bogus"], "Unexpected argument 'bogus'"),
    ])
    func badCommandLine(_ args: [String], _ message: String) {
        let text = parseError(args)
        #expect(text?.contains(message) == true, "\(args): \(text ?? "parsed")")
    }
}
