import Foundation
import PushyTestSupport
import PushyAPIClient
import PushyProtocol
import Testing

/// Issue 11 point 3, "nothing waits forever", for the real `pushy` binary: a live feed that goes
/// silent while the job ends is resumed (job start --follow and job feed), and a server that
/// stops answering ends the wait at the job's run timeout plus the margin, with a message that
/// says how to look at the job later. A `StallingProxy` between the CLI and the server makes
/// the silence.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CLIWaitTests {
    /// `gate` waits for the file named by $GATE, then prints `passed`.
    static let whitelist = TestCluster.whitelist + [#"gate=while [ ! -e "$GATE" ]; do sleep 0.05; done; echo passed"#]

    func pushy(_ c: TestCluster, via proxy: StallingProxy, _ args: [String]) throws -> ProcessRun {
        try ProcessRun(c.cliProcess(args + ["--server-url", proxy.orgURL]), name: "pushy " + args.joined(separator: " "))
    }

    /// The id from the "Started.  Job ID: ..." line.
    static func jobID(_ text: String) -> String? {
        text.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: "Job ID: ") else { return nil }
            return String(line[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }.first
    }

    @Test func aFeedThatStallsWhileTheJobEndsIsResumed() async throws {
        // Keep-alives every 0.25 s, so only the proxy can make the feed silent for the 3 s limit
        // (1 s was too short for a new TLS connection on a loaded machine: the resumed feed was
        // judged stalled too, and the CLI fell back to polling, which shows no live output);
        // the ended job stays in memory long enough for the resumed feed to replay its end.
        let c = try await TestCluster {
            $0.keepAliveTime = 0.25
            $0.waitCompleteTime = 60
        }
        let proxy = try StallingProxy(to: c.apiPort)
        defer { proxy.stop() }
        do {
            try await c.startAgent("n1", whitelist: Self.whitelist)
            try await c.waitAvailable(["n1"])
            let gate = c.dataDir + "/gate"
            let follow = try pushy(c, via: proxy, ["job", "start", "gate", "n1", "--env", "GATE=\(gate)", "--follow",
                                                   "--stall-limit", "3", "--poll-interval", "0.2"])
            try await c.eventually("the CLI to see n1 start", timeout: 60, saw: { follow.stderr.text }) {
                follow.stderr.text.contains("-- n1 started")
            }
            let id = try #require(Self.jobID(follow.stderr.text))
            let feed = try pushy(c, via: proxy, ["job", "feed", id, "--stall-limit", "3"])
            try await c.eventually("job feed to print run_start", timeout: 60,
                                   saw: { "stdout:\n\(feed.stdout.text)\nstderr:\n\(feed.stderr.text)" }) {
                feed.stdout.text.contains("event: run_start")
            }

            // Both feeds go silent; the job ends meanwhile.
            proxy.freeze()
            _ = FileManager.default.createFile(atPath: gate, contents: Data())
            #expect(try await c.waitFinished(id).status == .complete)

            let f = await follow.wait()
            #expect(f.status == 0, "stderr: \(f.stderrText)")
            #expect(f.stderrText.contains("went silent (no event and no keep-alive for 3 s)"), "stderr: \(f.stderrText)")
            #expect(f.stderrText.contains("resuming after event job-"), "stderr: \(f.stderrText)")
            #expect(f.stdoutText.contains("n1: passed\n"), "stdout: \(f.stdoutText)")
            #expect(f.stdoutText.contains("complete"))

            let e = await feed.wait()
            #expect(e.status == 0, "stderr: \(e.stderrText)")
            #expect(e.stderrText.contains("went silent"), "stderr: \(e.stderrText)")
            #expect(e.stdoutText.contains("event: job_complete"), "stdout: \(e.stdoutText)")
            // Resumed after the last event printed: nothing twice.
            #expect(e.stdoutText.components(separatedBy: "event: run_start").count == 2, "stdout: \(e.stdoutText)")
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

    @Test func aServerThatStopsAnsweringEndsTheWaitAtTheRunTimeoutPlusTheMargin() async throws {
        let c = try await TestCluster()
        let proxy = try StallingProxy(to: c.apiPort)
        defer { proxy.stop() }
        do {
            try await c.startAgent("n1")
            try await c.waitAvailable(["n1"])
            // A 2 s run timeout and a 1 s margin: the CLI gives up 3 s after it starts waiting.
            let run = try pushy(c, via: proxy, ["job", "start", "sleep", "n1", "--timeout", "2", "--wait-margin", "1",
                                                "--poll-interval", "0.2"])
            try await c.eventually("the CLI to wait for the job") { run.stderr.text.contains("Job ID: ") }
            let id = try #require(Self.jobID(run.stderr.text))
            proxy.blackhole()
            let r = await run.wait(within: .seconds(30))
            #expect(r.status == 1, "stderr: \(r.stderrText)")
            #expect(r.stderrText.contains("error: gave up waiting for job \(id) after "), "stderr: \(r.stderrText)")
            #expect(r.stderrText.contains("(its run timeout 2 s + 1 s; --wait-timeout sets another limit)"),
                    "stderr: \(r.stderrText)")
            #expect(r.stderrText.contains("check it later with 'pushy job status \(id)'"), "stderr: \(r.stderrText)")

            // `job feed` is bounded too; --wait-timeout sets the bound outright.
            let feed = try pushy(c, via: proxy, ["job", "feed", id, "--wait-timeout", "1"])
            let e = await feed.wait(within: .seconds(30))
            #expect(e.status == 1, "stderr: \(e.stderrText)")
            #expect(e.stderrText.contains("gave up waiting for job \(id) after 1 s (--wait-timeout 1); its status never "
                                          + "reached the CLI"), "stderr: \(e.stderrText)")
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

    @Test func waitOptionsMustBePositive() async throws {
        let c = try await TestCluster()
        for bad in [["--wait-timeout", "0"], ["--stall-limit", "-1"], ["--wait-timeout", "nan"]] {
            let r = try await ProcessRun(c.cliProcess(["job", "start", "ok", "n1"] + bad)).wait()
            #expect(r.status == 2, "\(bad): \(r.stderrText)")
            #expect(r.stderrText.contains(bad[0]), "\(bad): \(r.stderrText)")
        }
        #expect(try await c.admin.jobs().isEmpty)
        await c.shutdown()
    }
}
