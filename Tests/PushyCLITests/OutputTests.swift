import ArgumentParser
import Foundation
import PushyProtocol
import Testing
@testable import PushyAPIClient
@testable import PushyCLI

/// What the CLI prints, as pure text: tables, JSON, job reports, the server's status, feed
/// events and the live notes of `--follow`.
@Suite(.timeLimit(.minutes(1))) struct OutputTests {
    static func job(_ status: JobStatus, _ nodes: [(NodeJobStatus, [String])]?, reasons: [(String, String)]? = nil,
                    statusReason: String? = nil) -> JobView {
        JobView(id: "j1", command: "chef-client", status: status, runTimeout: 60,
                createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 61), quorum: 2,
                nodes: nodes, nodeReasons: reasons, statusReason: statusReason)
    }

    @Test func table() {
        #expect(Output.table(["NODE", "STATUS", "REASON"], [["web1", "succeeded", ""], ["db10", "unavailable", "no heartbeat"]])
            == "NODE  STATUS       REASON\nweb1  succeeded\ndb10  unavailable  no heartbeat")
        #expect(Output.table(["A", "B"], []) == "A  B")
        // A short row leaves the missing cells out; the last cell of a row is never padded.
        #expect(Output.table(["NAME", "X"], [["a"], ["long-name", "y"]]) == "NAME       X\na\nlong-name  y")
        #expect("a  ".trimmingTrailingSpaces() == "a" && "  ".trimmingTrailingSpaces().isEmpty)
    }

    @Test(arguments: [
        ("[]", "[]"),
        ("{}", "{}"),
        ("\"x\"", "\"x\""),
        (#"{"b":1,"a":[true,null]}"#, "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}"),
        (#"[{"k":{}},[]]"#, "[\n  {\n    \"k\": {}\n  },\n  []\n]"),
    ])
    func prettyJSON(_ input: String, _ expected: String) throws {
        #expect(Output.pretty(try JSONValue.parse(input)) == expected)
    }

    @Test(arguments: [
        (JobStatus.new, [(NodeJobStatus.new, ["a", "b"])], "new: 2 nodes"),
        (.voting, [(.new, ["a"]), (.ready, ["b", "c"])], "voting: 2/3 voted"),
        (.running, [(.running, ["a"]), (.succeeded, ["b"]), (.failed, ["c"])], "running: 1 running, 1 succeeded, 1 failed of 3"),
        (.running, [(.ready, ["a"]), (.nacked, ["b"]), (.unavailable, ["c"])],
         "running: 1 running, 0 succeeded, 0 failed, 2 nacked/unavailable of 3"),
        (.complete, [(.succeeded, ["a", "b"])], "complete: 2 succeeded, 0 failed"),
        (.timedOut, [(.succeeded, ["a"]), (.timedOut, ["b"]), (.nacked, ["c"])],
         "timed_out: 1 succeeded, 0 failed, 1 nacked, 1 timed_out"),
        (.quorumFailed, [(.nacked, ["a"]), (.wasReady, ["b"])], "quorum_failed: 0 succeeded, 0 failed, 1 nacked, 1 was_ready"),
    ])
    func progress(_ status: JobStatus, _ nodes: [(NodeJobStatus, [String])], _ expected: String) {
        #expect(JobReport.progress(Self.job(status, nodes)) == expected)
    }

    /// Pushy's exit rule: complete, at least one node, every node succeeded.
    @Test(arguments: [
        (JobStatus.complete, [(NodeJobStatus.succeeded, ["a", "b"])] as [(NodeJobStatus, [String])]?, true),
        (.complete, [(.succeeded, ["a"]), (.failed, [])], true),
        (.complete, [(.succeeded, ["a"]), (.nacked, ["b"])], false),
        (.complete, [(.succeeded, ["a"]), (.unavailable, ["b"])], false),
        (.complete, [], false),
        (.complete, nil, false),
        (.timedOut, [(.succeeded, ["a"])], false),
        (.aborted, [(.succeeded, ["a"])], false),
    ])
    func fullySucceeded(_ status: JobStatus, _ nodes: [(NodeJobStatus, [String])]?, _ expected: Bool) {
        #expect(JobReport.fullySucceeded(Self.job(status, nodes)) == expected)
    }

    @Test func resultTableAndSummary() {
        let job = Self.job(.complete, [(.succeeded, ["web2", "web1"]), (.unavailable, ["db1"])],
                           reasons: [("db1", "no heartbeat")], statusReason: "quorum reached")
        #expect(JobReport.result(job) == """
            NODE  STATUS       REASON
            db1   unavailable  no heartbeat
            web1  succeeded
            web2  succeeded
            Job j1 complete: 2 succeeded, 0 failed, 1 unavailable (quorum reached)
            """)
        #expect(JobReport.result(Self.job(.crashed, nil)) == "Job j1 crashed: 0 succeeded, 0 failed")
        #expect(JobReport.summary(Self.job(.aborted, [(.aborted, ["a"])], statusReason: ""))
            == "Job j1 aborted: 0 succeeded, 0 failed, 1 aborted")
    }

    @Test func details() {
        var job = Self.job(.complete, [(.succeeded, ["a", "b"])])
        #expect(JobReport.details(job) == """
            Job:          j1
            Command:      chef-client
            Status:       complete
            Created:      1970-01-01T00:00:00Z
            Updated:      1970-01-01T00:01:01Z
            Run timeout:  60s
            Quorum:       2 of 2
            """)
        job.statusReason = "done"
        job.user = "deploy"
        job.dir = "/srv"
        job.captureOutput = true
        job.quorum = nil
        #expect(JobReport.details(job) == """
            Job:             j1
            Command:         chef-client
            Status:          complete
            Status reason:   done
            Created:         1970-01-01T00:00:00Z
            Updated:         1970-01-01T00:01:01Z
            Run timeout:     60s
            User:            deploy
            Directory:       /srv
            Capture output:  yes
            """)
    }

    @Test func serverStatus() throws {
        let status = try JSONValue.parse("""
            {"status": "up", "incarnation": "abc",
             "connections": {"open": 4, "budget": 1000, "refusing": true, "refused_total": 2, "accept_failures": 1},
             "reliability": {"reconciliations": 1, "runs_resent": 2, "store_write_failures": 0, "store_writes_pending": 3},
             "libzmq": {"version": "4.3.4", "built_in": true},
             "stores": ["sqlite", "memory"], "note": "", "jobs": 3}
            """)
        #expect(StatusCommand.lines(status, orgURL: "https://h/organizations/o") == [
            "Server https://h/organizations/o: up",
            "  incarnation: abc",
            "  connections: 4 open of 1000 budgeted (2 per agent) — at budget, refusing new agents; 2 refused, 1 accept failures",
            "  reliability: 1 node(s) reconciled (a lost result), 2 run(s) resent; 0 store write failure(s), 3 pending",
            "  libzmq: 4.3.4 (built in, lean pipes and buffers)",
            "  stores: sqlite, memory",
            "  note: (none)",
            "  jobs: 3",
        ])
        let system = try JSONValue.parse(#"{"libzmq": {"version": "4.3.5"}}"#)
        #expect(StatusCommand.lines(system, orgURL: "u") == [
            "Server u: up",
            "  libzmq: 4.3.5 (system library: about 4x the memory per agent, see docs/decisions.md)",
        ])
    }

    @Test func feedEventText() throws {
        let data = try JSONValue.parse(#"{"node":"n1","status":"success"}"#)
        #expect(JobFeedCommand.text(FeedEvent(name: "quorum_vote", id: "job-3", data: data))
            == "event: quorum_vote\nid: job-3\ndata: {\"node\":\"n1\",\"status\":\"success\"}\n\n")
        #expect(JobFeedCommand.text(FeedEvent(name: "summary", id: nil, data: .object([])))
            == "event: summary\ndata: {}\n\n")
    }

    @Test(arguments: [
        ("quorum_vote", #"{"node":"n1","status":"success"}"#, "-- n1 is ready" as String?),
        ("quorum_vote", #"{"node":"n1","status":"failure","reason":"busy"}"#, "-- n1 did not vote yes: failure (busy)"),
        ("quorum_succeeded", "{}", "-- quorum reached; running"),
        ("run_start", #"{"node":"n2"}"#, "-- n2 started"),
        ("run_complete", #"{"node":"n2","status":"failed","reason":"exit 3"}"#, "-- n2 finished: failed (exit 3)"),
        ("run_complete", #"{"status":"succeeded"}"#, "-- ? finished: succeeded"),
        ("rehab", #"{"node":"n3"}"#, "-- n3 sent to rehab"),
        ("aborted", #"{"user":"alice"}"#, "-- job aborted by alice"),
        ("aborted", "{}", "-- job aborted"),
        ("output", #"{"node":"n1","stream":"stdout","data":"x"}"#, nil),
        ("job_complete", "{}", nil),
        ("start", "{}", nil),
    ])
    func followNotes(_ name: String, _ data: String, _ expected: String?) throws {
        #expect(JobFollower.note(for: FeedEvent(name: name, id: nil, data: try JSONValue.parse(data))) == expected)
    }

    final class Sink {
        var lines: [String] = []
        func add(_ isStderr: Bool, _ bytes: [UInt8]) {
            lines.append((isStderr ? "err " : "out ") + String(decoding: bytes, as: UTF8.self))
        }
    }

    @Test func nodeLinesArePrefixedWholeAndNeverTwice() {
        let sink = Sink()
        var p = NodeLinePrinter(sink: sink.add)
        p.add(node: "n1", stderr: false, offset: 0, bytes: Array("hel".utf8))
        p.add(node: "n2", stderr: true, offset: 0, bytes: Array("oops\n".utf8))
        p.add(node: "n1", stderr: false, offset: 3, bytes: Array("lo\nwor".utf8))
        // A chunk replayed after a reconnect (same offsets) prints nothing new.
        p.add(node: "n1", stderr: false, offset: 0, bytes: Array("hello\n".utf8))
        p.add(node: "n1", stderr: false, offset: 6, bytes: Array("world\nlast".utf8))
        p.add(node: "n3", stderr: false, offset: nil, bytes: Array("a\n\nb".utf8))
        p.flush(node: "n1")
        p.add(node: "n2", stderr: false, offset: 0, bytes: Array("tail".utf8))
        p.flushAll()
        #expect(sink.lines == [
            "err n2: oops\n",
            "out n1: hello\n",
            "out n1: world\n",
            "out n3: a\n",
            "out n3: \n",
            "out n1: last\n",
            "out n2: tail\n",
            "out n3: b\n",
        ])
    }

    @Test func groupMembers() throws {
        let g = try GroupInfo(JSONValue.parse(#"{"groupname":"admins","users":["alice"],"clients":["web1"],"groups":["ops"]}"#))
        #expect(GroupShow.text(g) == "TYPE    NAME\nuser    alice\nclient  web1\ngroup   ops")
        #expect(GroupShow.text(try GroupInfo(JSONValue.parse(#"{"groupname":"empty"}"#))) == "Group 'empty' has no members")
    }

    @Test(arguments: [
        ("90", 90 as Int?), ("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604_800), ("30d", 2_592_000),
        ("0", nil), ("-5m", nil), ("m", nil), ("", nil), ("1.5h", nil), ("2w", nil), ("1hh", nil),
        ("999999999999999999d", nil),
    ])
    func durations(_ text: String, _ seconds: Int?) {
        #expect(TokenCreate.seconds(text) == seconds)
    }

    @Test func waitGiveUpMessages() throws {
        let defaults = JobWatch(jobID: "j1", options: try WaitOptions.parse([]), runTimeout: 2)
        #expect(defaults.gaveUpMessage() == "gave up waiting for job j1 after 0 s (its run timeout 2 s + 120 s; "
            + "--wait-timeout sets another limit); its status never reached the CLI. "
            + "It may still be running: check it later with 'pushy job status j1'")
        let explicit = JobWatch(jobID: "j2", options: try WaitOptions.parse(["--wait-timeout", "1.5"]))
        explicit.saw(Self.job(.running, [(.running, ["a"])]))
        explicit.saw(event: FeedEvent(name: "run_start", id: "job-2", data: try JSONValue.parse(#"{"node":"a"}"#)))
        #expect(explicit.gaveUpMessage().hasPrefix("gave up waiting for job j2 after 0 s (--wait-timeout 1.5); "
            + "last known status running: 1 running, 0 succeeded, 0 failed of 1, last live event run_start from a. "))
        let unknown = JobWatch(jobID: "j3", options: try WaitOptions.parse(["--wait-margin", "1"]))
        #expect(unknown.gaveUpMessage().contains("(its run timeout + 1 s; --wait-timeout sets another limit)"))
        #expect(JobWatch.format(600) == "600" && JobWatch.format(0.5) == "0.5")
        // A job in waves may run for every wave's run timeout (issue 13).
        let waves = JobWatch(jobID: "j4", options: try WaitOptions.parse([]), runTimeout: 10,
                             rateControl: RateControl(maxConcurrency: .count(3)), nodeCount: 20)
        #expect(waves.gaveUpMessage().contains("(its waves of run timeout 10 s: 77 s + 120 s; --wait-timeout sets another limit)"))
    }

    /// Grouped output and grouped reasons (issue 13): one block per distinct output, largest first.
    @Test func groupedOutputAndReasons() throws {
        let grouped = try JSONValue.parse(Array(#"""
            {"job":"j","status":"complete",
             "stdout":[{"count":3,"nodes":["a","b","c"],"truncated":false,"encoding":"utf-8","data":"ok\n"},
                       {"count":1,"nodes":["d"],"truncated":true,"encoding":"utf-8","data":"disk full"}],
             "stderr":[{"count":4,"nodes":["a","b","c","d"],"truncated":false,"encoding":"utf-8","data":""}],
             "no_output":["e"]}
            """#.utf8))
        #expect(JobOutputCommand.groupedText(grouped, streams: [.stdout, .stderr]) == """
            == stdout: 3 nodes (a, b, c):
            ok
            == stdout: 1 node (d): (the tail of a longer output)
            disk full
            == stderr: 4 nodes (a, b, c, d):
            (empty)
            == nothing captured: 1 node (e):

            """)
        #expect(JobReport.nodeList((1...8).map { "n\($0)" }) == "8 nodes (n1, n2, n3, n4, n5, ... 3 more):")
        let job = JobView(id: "j", command: "c", status: .complete, runTimeout: 1, createdAt: .init(timeIntervalSince1970: 0),
                          updatedAt: .init(timeIntervalSince1970: 0),
                          nodes: [(.succeeded, ["a"]), (.failed, ["b", "c"]), (.skipped, ["d", "e", "f"])],
                          nodeReasons: [("b", "exit 3"), ("c", "exit 3"), ("d", "not launched: x"), ("e", "not launched: x"), ("f", "not launched: x")],
                          statusReason: "stopped launching: x")
        #expect(JobReport.grouped(job) == """
            3 nodes (d, e, f): skipped: not launched: x
            2 nodes (b, c): failed: exit 3
            1 node (a): succeeded
            Job j complete: 1 succeeded, 2 failed, 3 skipped (stopped launching: x)
            """)
    }
}
