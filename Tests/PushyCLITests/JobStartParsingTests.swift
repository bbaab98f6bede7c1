import ArgumentParser
import Foundation
import PushyProtocol
import Testing
@testable import PushyCLI

/// `pushy job start`: what each option parses to, the job it asks for, and the message of each
/// bad command line (all at parse time, before any server is contacted).
@Suite(.timeLimit(.minutes(1))) struct JobStartParsingTests {
    @Test func namedNodesWithDefaults() throws {
        let s = try parse(["job", "start", "chef-client", "web1", "web2"], as: JobStart.self)
        #expect(s.command == "chef-client")
        #expect(s.nodes == ["web1", "web2"])
        #expect(s.search == nil)
        #expect(s.quorum == .percent(100))
        #expect(s.timeout == nil)
        #expect(!s.nowait && !s.follow && !s.capture)
        #expect(s.pollInterval == 1.0)
        #expect(s.withEnv == nil && s.env.isEmpty)
        #expect(s.dir == nil && s.asUser == nil && s.file == nil)
        #expect(!s.output.isJSON)
        #expect(s.wait.waitTimeout == nil)
        #expect(s.wait.waitMargin == WaitOptions.defaultMargin)
        #expect(s.wait.stallLimit == WaitOptions.defaultStallLimit)
        #expect(s.request(nodes: s.nodes, file: nil)
            == JobRequest(command: "chef-client", nodes: ["web1", "web2"], quorum: .count(2)))
    }

    /// Rate control (issue 13): each option lands in the request, counts and percentages alike.
    @Test func rateControlOptions() throws {
        let s = try parse(["job", "start", "restart-app", "--search", "role:webapp", "--batch-size", "10%", "--batch-wait", "30",
                           "--max-errors", "2", "--max-concurrency", "5", "--canary", "1"], as: JobStart.self)
        let expected = RateControl(maxConcurrency: .count(5), maxErrors: .count(2), batchSize: .percent(10),
                                   batchWait: 30, canary: 1)
        #expect(s.rate.rateControl == expected)
        #expect(s.request(nodes: ["a"], file: nil).rateControl == expected)
        #expect(try parse(["job", "start", "ok", "n1"], as: JobStart.self).rate.rateControl == nil)
        #expect(try parse(["job", "start", "ok", "n1", "--max-errors", "5%"], as: JobStart.self).rate.rateControl
            == RateControl(maxErrors: .percent(5)))
    }

    @Test func searchInsteadOfNodes() throws {
        for args in [["job", "start", "chef-client", "--search", "role:webapp AND chef_environment:prod"],
                     ["job", "start", "-s", "role:webapp AND chef_environment:prod", "chef-client"]] {
            let s = try parse(args, as: JobStart.self)
            #expect(s.search == "role:webapp AND chef_environment:prod")
            #expect(s.nodes.isEmpty)
            #expect(s.command == "chef-client")
        }
    }

    /// `--quorum` as typed, and the count sent for a number of nodes (percentages round up).
    @Test(arguments: [
        ("3", Quorum.count(3), 5, 3),
        ("0", .count(0), 5, 0),
        ("90%", .percent(90), 10, 9),
        ("90%", .percent(90), 3, 3),
        ("50%", .percent(50), 3, 2),
        ("0%", .percent(0), 4, 0),
        ("100%", .percent(100), 7, 7),
        ("33.3%", .percent(33.3), 3, 1),
    ])
    func quorum(_ text: String, _ expected: Quorum, _ nodeCount: Int, _ count: Int) throws {
        let nodes = (1...nodeCount).map { "n\($0)" }
        for flag in ["--quorum", "-q"] {
            let s = try parse(["job", "start", "ok"] + nodes + [flag, text], as: JobStart.self)
            #expect(s.quorum == expected)
            #expect(s.request(nodes: nodes, file: nil).quorum == .count(count))
        }
    }

    @Test func runOptions() throws {
        let s = try parse([
            "job", "start", "deploy", "web1", "--timeout", "1800", "--in-dir", "/srv/app", "--as-user", "deploy",
            "--capture", "--poll-interval", "0.25", "--wait-timeout", "600", "--format", "json",
        ], as: JobStart.self)
        #expect(s.timeout == 1800)
        #expect(s.pollInterval == 0.25)
        #expect(s.wait.waitTimeout == 600)
        #expect(s.output.isJSON)
        let r = s.request(nodes: ["web1"], file: nil)
        #expect(r == JobRequest(command: "deploy", nodes: ["web1"], quorum: .count(1), runTimeout: 1800,
                                user: "deploy", dir: "/srv/app", captureOutput: true))
        #expect(try parse(["job", "start", "ok", "n1", "--timeout", "0"], as: JobStart.self).timeout == 0)
    }

    @Test func followImpliesCapture() throws {
        let s = try parse(["job", "start", "ok", "n1", "--follow"], as: JobStart.self)
        #expect(s.follow && !s.capture)
        #expect(s.request(nodes: ["n1"], file: nil).captureOutput)
    }

    @Test func nowait() throws {
        #expect(try parse(["job", "start", "ok", "n1", "--nowait"], as: JobStart.self).nowait)
        #expect(try parse(["job", "start", "ok", "n1", "-b", "--format", "json"], as: JobStart.self).nowait)
    }

    /// --with-env then --env, later wins, keys in first-seen order.
    @Test(arguments: [
        ([] as [String], nil as [String]?),
        (["--env", "A=1"], ["A=1"]),
        (["--env", "A=1", "--env", "B="], ["A=1", "B="]),
        (["--env", "URL=http://x/?a=b"], ["URL=http://x/?a=b"]),
        (["--env", "A=1", "--env", "A=2"], ["A=2"]),
        (["--with-env", #"{"A":"1","B":"2"}"#], ["A=1", "B=2"]),
        (["--with-env", "{}"], []),
        (["--with-env", #"{"A":"1","B":"2"}"#, "--env", "A=3", "--env", "C=4"], ["A=3", "B=2", "C=4"]),
        (["--env", "A=3", "--with-env", #"{"A":"1"}"#], ["A=3"]),
    ])
    func environment(_ options: [String], _ expected: [String]?) throws {
        let s = try parse(["job", "start", "printenv", "n1"] + options, as: JobStart.self)
        let env = s.request(nodes: ["n1"], file: nil).env
        #expect(env?.map { "\($0.0)=\($0.1)" } == expected)
    }

    @Test func fileIsSentAsRawTextOrBase64() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let text = try dir.write("script.sh", "echo hi\n")
        let binary = try dir.write("payload.bin", [0xFF, 0x00, 0xFE])
        let s = try parse(["job", "start", "run-script", "web1", "--file", text], as: JobStart.self)
        #expect(s.file == text)
        #expect(try JobStart.fileBody(text) == "raw:echo hi\n")
        #expect(try JobStart.fileBody(binary) == "base64:/wD+")
        let big = try dir.write("big.txt", [UInt8](repeating: UInt8(ascii: "x"), count: JobRequest.maxFileBytes))
        #expect(try JobStart.fileBody(big).count == 4 + JobRequest.maxFileBytes)
        #expect(try parse(["job", "start", "ok", "n1", "--file", big], as: JobStart.self).file == big)
    }

    @Test func connectionOptionsBeforeOrAfterTheCommand() throws {
        for args in [
            ["--server-url", "https://h/organizations/o", "--user", "alice", "--key", "/k.pem", "job", "start", "ok", "n1"],
            ["job", "start", "ok", "n1", "--server-url", "https://h/organizations/o", "--user", "alice", "--key", "/k.pem"],
            ["--server-url=https://h/organizations/o", "--user=alice", "job", "start", "--key", "/k.pem", "ok", "n1"],
        ] {
            let s = try parse(args, as: JobStart.self)
            #expect(s.connection.serverUrl == "https://h/organizations/o")
            #expect(s.connection.user == "alice")
            #expect(s.connection.key == "/k.pem")
            #expect(s.nodes == ["n1"])
        }
    }

    /// Every bad command line fails at parse time with a message that says what to fix.
    @Test(arguments: [
        (["job", "start"], "Missing expected argument '<command>'"),
        (["job", "start", "ok"], "no nodes: name them after the command (pushy job start CMD web1 web2) or use --search QUERY"),
        (["job", "start", "ok", "n1", "--search", "role:web"], "give either node names or --search, not both"),
        (["job", "start", "", "n1"], "the command must not be empty"),
        (["job", "start", "ok", "n1", "--quorum", "150%"],
         "The value '150%' is invalid for '--quorum <N|N%>': a quorum is a count like 3 or a percentage from 0% to 100% like 90%"),
        (["job", "start", "ok", "n1", "-q", "lots"],
         "The value 'lots' is invalid for '-q <N|N%>': a quorum is a count like 3 or a percentage from 0% to 100% like 90%"),
        (["job", "start", "ok", "n1", "--quorum=-1"], "a quorum is a count like 3"),
        (["job", "start", "ok", "n1", "--quorum", "-1"], "Missing value for '--quorum <N|N%>'"),
        (["job", "start", "ok", "n1", "--quorum", "2.5"], "a quorum is a count like 3"),
        (["job", "start", "ok", "n1", "--timeout=-1"], "--timeout must be a number of seconds >= 0"),
        (["job", "start", "ok", "n1", "--timeout", "soon"], "The value 'soon' is invalid for '--timeout <seconds>'"),
        (["job", "start", "ok", "n1", "--poll-interval", "0"], "--poll-interval must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--poll-interval", "nan"], "--poll-interval must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--poll-interval", "inf"], "--poll-interval must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--follow", "--nowait"], "--follow and --nowait do not go together"),
        (["job", "start", "ok", "n1", "--follow", "--format", "json"],
         "--follow prints live output and cannot be combined with --format json"),
        (["job", "start", "ok", "n1", "--format", "yaml"], "The value 'yaml' is invalid for '--format <format>'"),
        (["job", "start", "ok", "n1", "--env", "NOEQUALS"],
         "The value 'NOEQUALS' is invalid for '--env <KEY=VALUE>': expected KEY=VALUE, e.g. --env RELEASE=42"),
        (["job", "start", "ok", "n1", "--env", "=x"], "expected KEY=VALUE"),
        (["job", "start", "ok", "n1", "--with-env", "{not json"], "is invalid for '--with-env <json>': not JSON ("),
        (["job", "start", "ok", "n1", "--with-env", #"["A"]"#],
         #"is invalid for '--with-env <json>': expected a JSON object of strings like '{"FOO":"bar"}'"#),
        (["job", "start", "ok", "n1", "--with-env", #"{"A":1}"#], #"the value of 'A' is not a string (write "A":"...")"#),
        (["job", "start", "ok", "n1", "--with-env", #"{"A":"1","A":"2"}"#], "key 'A' appears twice"),
        (["job", "start", "ok", "n1", "--with-env", #"{"":"1"}"#], "bad variable name ''"),
        (["job", "start", "ok", "n1", "--with-env", #"{"A=B":"1"}"#], "bad variable name 'A=B'"),
        (["job", "start", "ok", "n1", "--file", "/nonexistent/pushy-test-file"], "cannot read --file /nonexistent/pushy-test-file"),
        (["job", "start", "ok", "n1", "--wait-timeout", "0"], "--wait-timeout must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--wait-timeout", "nan"], "--wait-timeout must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--stall-limit=-1"], "--stall-limit must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--wait-margin", "0"], "--wait-margin must be a positive number of seconds"),
        (["job", "start", "ok", "n1", "--bogus"], "Unknown option '--bogus'"),
    ])
    func badCommandLine(_ args: [String], _ message: String) {
        let text = parseError(args)
        #expect(text?.contains(message) == true, "\(args): \(text ?? "parsed")")
    }

    @Test func fileOverTheLimit() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let path = try dir.write("big.bin", [UInt8](repeating: 0, count: JobRequest.maxFileBytes + 1))
        #expect(parseError(["job", "start", "ok", "n1", "--file", path])
            == "--file \(path) is \(JobRequest.maxFileBytes + 1) bytes; the limit is \(JobRequest.maxFileBytes)")
    }

    /// What the executable prints for a usage error: `error: `, the message, the usage line.
    @Test func usageMessageNamesTheCommand() throws {
        do {
            _ = try Pushy.parseCommand(["job", "start", "ok", "n1", "--quorum", "150%"])
            Issue.record("parsed")
        } catch {
            let text = Pushy.usageMessage(for: error)
            #expect(text.hasPrefix("error: The value '150%' is invalid for '--quorum <N|N%>': "), "\(text)")
            #expect(text.contains("Usage: pushy job start"), "\(text)")
            #expect(text.contains("See 'pushy job start --help' for more information."), "\(text)")
            #expect(Pushy.exitCode(for: error) != .success)
        }
    }
}
