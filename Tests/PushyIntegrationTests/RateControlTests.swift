import Foundation
import PushyAPIClient
import PushyProtocol
import Testing

/// Rate control, re-run and grouped output (issue 13), end to end: a real server, in-process
/// agents running real processes.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RateControlTests {
    static func nodes(_ job: JobView, _ status: NodeJobStatus) -> [String] {
        job.nodes?.first { $0.0 == status }?.1 ?? []
    }

    /// 20 nodes, at most 3 at once: each process writes its start and end time; at no moment
    /// do more than 3 of them overlap, and every node runs.
    @Test func maxConcurrencyHoldsOverRealProcesses() async throws {
        let c = try await TestCluster()
        do {
            let stamps = c.dataDir + "/stamps"
            try FileManager.default.createDirectory(atPath: stamps, withIntermediateDirectories: true)
            let stamp = "stamp=/bin/sh -c 'date +%s.%N > \(stamps)/$CHEF_PUSH_NODE_NAME.start; sleep 0.4; date +%s.%N > \(stamps)/$CHEF_PUSH_NODE_NAME.end'"
            let names = (1...20).map { String(format: "rc%02d", $0) }
            for n in names { try await c.startAgent(n, whitelist: [stamp]) }
            try await c.waitAvailable(names)
            let id = try await c.admin.startJob(JobRequest(
                command: "stamp", nodes: names, rateControl: RateControl(maxConcurrency: .count(3))))
            let job = try await c.waitFinished(id, timeout: 90)
            #expect(job.status == .complete)
            #expect(Self.nodes(job, .succeeded).count == 20, "\(job.json)")
            #expect(job.rateControl == RateControl(maxConcurrency: .count(3)))
            var events: [(Double, Int)] = []
            for n in names {
                let start = Double(try String(contentsOfFile: "\(stamps)/\(n).start", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
                let end = Double(try String(contentsOfFile: "\(stamps)/\(n).end", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
                guard let start, let end else { Issue.record("unreadable stamps of \(n)"); continue }
                events += [(start, 1), (end, -1)]
            }
            // Ends before starts at the same instant: a slot freed is a slot taken.
            events.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var running = 0, most = 0
            for e in events {
                running += e.1
                most = max(most, running)
            }
            #expect(most <= 3, "at most 3 processes at once, saw \(most)")
            #expect(most >= 2, "the job did run nodes side by side (saw \(most))")
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

    /// Two failures with max_errors 2: nothing more is launched, the rest are `skipped` with a
    /// reason, and the job says why it stopped. Then a re-run of the failed nodes.
    @Test func maxErrorsStopsTheJobAndFailedNodesRerun() async throws {
        let c = try await TestCluster()
        do {
            let names = (1...8).map { "me\($0)" }
            for n in names { try await c.startAgent(n) }
            try await c.waitAvailable(names)
            let id = try await c.admin.startJob(JobRequest(
                command: "fail", nodes: names,
                rateControl: RateControl(maxConcurrency: .count(2), maxErrors: .count(2))))
            let job = try await c.waitFinished(id, timeout: 60)
            #expect(job.status == .complete)
            // Two run at once; the first failure frees a slot (a third node starts), the second
            // stops launching; the third still runs (and fails); five never start.
            #expect(Self.nodes(job, .failed) == ["me1", "me2", "me3"])
            #expect(Self.nodes(job, .skipped) == Array(names.dropFirst(3)))
            #expect(job.statusReason == "stopped launching: 2 launched node(s) did not succeed (max_errors 2)")
            let reason = job.nodeReasons?.first { $0.0 == "me8" }?.1
            #expect(reason == "not launched: 2 launched node(s) did not succeed (max_errors 2)")
            // Skipped nodes were released: they take the next job.
            try await c.waitAvailable(names)

            let rerun = try await c.admin.rerunJob(id, nodes: .failed)
            let again = try await c.waitFinished(rerun, timeout: 60)
            #expect(again.rerunOf == id)
            #expect(again.nodeCount == 3)
            #expect(Self.nodes(again, .failed).count >= 2)
            #expect(again.rateControl == job.rateControl)
            let rest = try await c.waitFinished(try await c.admin.rerunJob(id, nodes: .notSucceeded), timeout: 60)
            #expect(rest.nodeCount == 8)

            // Nothing to re-run, or a job still running: clear answers.
            try await c.waitAvailable(names)
            let ok = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["me1"]))
            _ = try await c.waitFinished(ok)
            await #expect(throws: PushyClientError.self) { _ = try await c.admin.rerunJob(ok, nodes: .failed) }
            let reply = try await c.admin.send("POST", "pushy/jobs/\(ok)/rerun", json: ["nodes": "some"], allowStatus: [400])
            #expect(reply.status == 400)
            #expect(String(decoding: reply.body, as: UTF8.self).contains("failed"))
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }

    /// Identical output is shown once with its nodes, the largest group first.
    @Test func outputIsGroupedAcrossNodes() async throws {
        let c = try await TestCluster()
        do {
            for n in ["go1", "go2", "go3"] { try await c.startAgent(n, whitelist: ["say=echo hello"]) }
            try await c.startAgent("go4", whitelist: ["say=echo other"])
            let names = ["go1", "go2", "go3", "go4"]
            try await c.waitAvailable(names)
            let id = try await c.admin.startJob(JobRequest(command: "say", nodes: names, captureOutput: true))
            _ = try await c.waitFinished(id)
            let grouped = try await c.admin.groupedOutput(id)
            let stdout = grouped["stdout"]?.arrayValue ?? []
            #expect(stdout.count == 2)
            #expect(stdout.first?["count"]?.intValue == 3)
            #expect(stdout.first?["data"]?.stringValue == "hello\n")
            #expect(stdout.last?["nodes"]?.arrayValue?.compactMap(\.stringValue) == ["go4"])
            #expect(grouped["stderr"]?.arrayValue?.first?["count"]?.intValue == 4)
            #expect(grouped["no_output"]?.arrayValue?.isEmpty == true)
        } catch {
            await c.shutdown()
            throw error
        }
        await c.shutdown()
    }
}
