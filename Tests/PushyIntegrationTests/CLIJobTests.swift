import Foundation
import PushyTestSupport
@testable import PushyAPIClient
import PushyProtocol
import Synchronization
import Testing

/// The real `pushy` binary running issue 4's job features against a real server and agents:
/// capture and `job output`, --with-env, --file, --follow, Ctrl-C, and their error messages.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CLIJobTests {
    /// Commands the test agents allow (run with /bin/sh -c).
    static let whitelist = TestCluster.whitelist + [
        #"bytes=printf 'caf\303\251 \377\000end'"#,
        "printenv=printenv A",
        "lines=printf 'one\\ntwo\\n'; printf 'oops\\n' >&2",
        #"catfile=cat "$CHEF_PUSH_JOB_FILE""#,
    ]

    /// Exactly what `bytes` prints: UTF-8, a non-UTF-8 byte and a NUL.
    static let expectedBytes = Data("caf".utf8) + Data([0xC3, 0xA9, 0x20, 0xFF, 0x00]) + Data("end".utf8)

    struct Run {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }

        /// The id from the "Started.  Job ID: ..." line.
        var jobID: String? {
            (stderr + text).split(separator: "\n").compactMap { line -> String? in
                guard let r = line.range(of: "Job ID: ") else { return nil }
                return String(line[r.upperBound...]).trimmingCharacters(in: .whitespaces)
            }.first
        }
    }

    func launch(_ c: TestCluster, _ args: [String]) throws -> ProcessRun {
        try ProcessRun(c.cliProcess(args), name: "pushy " + args.joined(separator: " "))
    }

    func pushy(_ c: TestCluster, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Run {
        let r = try await launch(c, args).wait(sourceLocation: sourceLocation)
        return Run(status: r.status, stdout: r.stdout, stderr: r.stderrText)
    }

    /// Runs `body` against a fresh cluster with agents `nodes`, shutting it down however `body` ends.
    func withCluster(_ nodes: [String], _ body: (TestCluster) async throws -> Void) async throws {
        let c = try await TestCluster()
        do {
            for n in nodes { try await c.startAgent(n, whitelist: Self.whitelist) }
            if !nodes.isEmpty { try await c.waitAvailable(nodes) }
            try await body(c)
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

    @Test func captureThenJobOutputReturnsTheExactBytes() async throws {
        try await withCluster(["n1"]) { c in
            let run = try await pushy(c, ["job", "start", "bytes", "n1", "--capture", "--poll-interval", "0.1"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            let id = try #require(run.jobID)

            let out = try await pushy(c, ["job", "output", id, "n1"])
            #expect(out.status == 0, "stderr: \(out.stderr)")
            #expect(out.stdout == Self.expectedBytes)
            #expect(!out.stderr.contains("warning"))

            let err = try await pushy(c, ["job", "output", id, "n1", "--channel", "stderr"])
            #expect(err.status == 0, "stderr: \(err.stderr)")
            #expect(err.stdout.isEmpty)

            // Empty output is output too: an empty body, not an error.
            let empty = try await pushy(c, ["job", "start", "ok", "n1", "--capture", "--poll-interval", "0.1"])
            #expect(empty.status == 0, "stderr: \(empty.stderr)")
            let emptyOut = try await pushy(c, ["job", "output", try #require(empty.jobID), "n1"])
            #expect(emptyOut.status == 0, "stderr: \(emptyOut.stderr)")
            #expect(emptyOut.stdout.isEmpty)

            // The job's feed replays its events (or a summary once the job process is gone).
            let feed = try await pushy(c, ["job", "feed", id])
            #expect(feed.status == 0, "stderr: \(feed.stderr)")
            #expect(feed.text.contains("event: job_complete") || feed.text.contains("event: summary"))
        }
    }

    @Test func jobOutputWithoutCaptureSaysWhy() async throws {
        try await withCluster(["n1"]) { c in
            let run = try await pushy(c, ["job", "start", "bytes", "n1", "--poll-interval", "0.1"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            let id = try #require(run.jobID)

            let out = try await pushy(c, ["job", "output", id, "n1"])
            #expect(out.status == 1)
            #expect(out.stderr.contains("no output captured for n1 in job \(id) (was the job started with --capture?)"))
            #expect(out.stdout.isEmpty)
        }
    }

    @Test func withEnvReachesTheProcessAndEnvWins() async throws {
        try await withCluster(["n1"]) { c in
            let run = try await pushy(c, ["job", "start", "printenv", "n1", "--with-env", #"{"A":"1"}"#, "--capture",
                                    "--poll-interval", "0.1"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            let out = try await pushy(c, ["job", "output", try #require(run.jobID), "n1"])
            #expect(out.text == "1\n")

            let both = try await pushy(c, ["job", "start", "printenv", "n1", "--with-env", #"{"A":"1"}"#, "--env", "A=2",
                                     "--capture", "--poll-interval", "0.1"])
            #expect(both.status == 0, "stderr: \(both.stderr)")
            #expect(try await pushy(c, ["job", "output", try #require(both.jobID), "n1"]).text == "2\n")
        }
    }

    @Test func badWithEnvIsAUsageError() async throws {
        try await withCluster([]) { c in
            let before = try await c.admin.jobs().count
            for bad in ["{not json", #"["A"]"#, #"{"A":1}"#] {
                let r = try await pushy(c, ["job", "start", "ok", "n1", "--with-env", bad])
                #expect(r.status == 2, "--with-env \(bad): \(r.stderr)")
                #expect(r.stderr.contains("--with-env"))
            }
            #expect(try await c.admin.jobs().count == before)
        }
    }

    @Test func binaryFileArrivesByteForByte() async throws {
        try await withCluster(["n1"]) { c in
            let path = c.dataDir + "/payload.bin"
            let payload = Data((0...255).map { UInt8($0) }) + Self.expectedBytes
            try payload.write(to: URL(fileURLWithPath: path))

            let run = try await pushy(c, ["job", "start", "catfile", "n1", "--file", path, "--capture", "--poll-interval", "0.1"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            let out = try await pushy(c, ["job", "output", try #require(run.jobID), "n1"])
            #expect(out.stdout == payload)
        }
    }

    @Test func followPrintsEachNodesLinesLive() async throws {
        try await withCluster(["n1", "n2"]) { c in
            let run = try await pushy(c, ["job", "start", "lines", "n1", "n2", "--follow"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            for n in ["n1", "n2"] {
                #expect(run.text.contains("\(n): one\n\(n): two\n"), "stdout: \(run.text)")
                #expect(run.stderr.contains("\(n): oops\n"), "stderr: \(run.stderr)")
            }
            #expect(!run.stderr.contains("polling every"), "the live feed should not have failed: \(run.stderr)")
            #expect(run.text.contains("complete"))

            // Output was captured on the way.
            let out = try await pushy(c, ["job", "output", try #require(run.jobID), "n2", "--channel", "stderr"])
            #expect(out.text == "oops\n")
        }
    }

    /// The client's signed feed reader: the whole history, the end after job_complete, and a
    /// resume with Last-Event-ID that yields exactly the later events.
    @Test func feedReaderReplaysAndResumes() async throws {
        try await withCluster(["n1"]) { c in
            let id = try await c.admin.startJob(JobRequest(command: "lines", nodes: ["n1"], captureOutput: true))
            var all: [FeedEvent] = []
            for try await e in c.admin.jobFeed(id: id) { all.append(e) }
            #expect(all.first?.name == "start")
            #expect(all.last?.name == "job_complete")
            #expect(all.contains { $0.name == "output" && $0.data["node"]?.stringValue == "n1" })
            let third = try #require(all.count > 3 ? all[2].id : nil)
            var rest: [FeedEvent] = []
            for try await e in c.admin.jobFeed(id: id, lastEventID: third) { rest.append(e) }
            #expect(rest == Array(all.dropFirst(3)))

            await #expect(throws: PushyClientError.self) {
                for try await _ in c.admin.jobFeed(id: String(repeating: "0", count: 32)) {}
            }
        }
    }

    /// Ctrl-C with no terminal to ask on: exit 130, the job keeps running, `job abort` stops it.
    /// (Only checked when the test itself has no terminal, else the CLI would ask on it.)
    @Test func interruptWithoutATerminalLeavesTheJobRunning() async throws {
        let tty = open("/dev/tty", O_RDWR)
        if tty >= 0 {
            close(tty)
            return
        }
        try await withCluster(["n1"]) { c in
            let p = try launch(c, ["job", "start", "sleep", "n1", "--poll-interval", "0.1"])
            try await c.eventually("the CLI to wait for the job") { p.stderr.text.contains("Job ID: ") }
            p.interrupt()
            let r = await p.wait()
            let stderr = r.stderrText
            #expect(r.status == 130, "stderr: \(stderr)")
            let id = try #require(Run(status: 0, stdout: Data(), stderr: stderr).jobID)
            #expect(stderr.contains("job \(id) is still running; abort it with: pushy job abort \(id)"))
            #expect(try await c.admin.job(id).status.isTerminal == false)

            let abort = try await pushy(c, ["job", "abort", id])
            #expect(abort.status == 0, "stderr: \(abort.stderr)")
            #expect(abort.text.contains("aborted"))
        }
    }
}

/// The SSE parser behind `PushyRESTClient.jobFeed`, fed awkward but valid streams.
@Suite(.timeLimit(.minutes(1))) struct FeedParserTests {
    @Test func parsesEventsSplitAnywhereWithCommentsAndCRLF() throws {
        let text = ":keepalive\r\nevent: start\r\nid: job-1\r\ndata: {\"a\":1}\r\n\r\n"
            + ": another comment\nevent: output\nid: job-2\ndata:{\"b\":\ndata: 2}\nretry: 10\n\n"
            + "data: not json\n\nevent: cut\nid: job-9\ndata: {}"
        let bytes = Array(text.utf8)
        // Every split point gives the same events.
        for split in 0...bytes.count {
            var p = ServerSentEventParser()
            let events = p.feed(bytes[..<split]) + p.feed(bytes[split...]) + p.finish()
            #expect(events == [
                FeedEvent(name: "start", id: "job-1", data: ["a": 1]),
                FeedEvent(name: "output", id: "job-2", data: ["b": 2]),
                FeedEvent(name: "message", id: "job-2", data: .string("not json")),
            ], "split at \(split)")
        }
    }
}
