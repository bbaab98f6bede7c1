import Foundation
import PushyProtocol
@testable import PushyServer
import PushyTestSupport
import Testing

/// Plans (issue 14) at router level: abort stops the running step's job and runs nothing after
/// it; the feed replays the run's step events; errors say what to fix. (The example plan over
/// real agents is `PlanCLITests` in PushyIntegrationTests.)
@Suite(.timeLimit(.minutes(2))) struct PlanAPITests {
    static let plan: JSONValue = [
        "name": "slow", "steps": [
            ["name": "first", "command": "ok", "nodes": ["web1"]],
            ["name": "long", "command": "sleep", "from_step": "first"],
            ["name": "never", "command": "ok", "nodes": ["web1"]],
        ],
    ]

    @Test func abortStopsTheRunningStepAndRunsNothingAfter() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            try await rig.startAgent("web1")
            try await admin.ok("POST", "pushy/plans", json: Self.plan)
            let run = try await admin.json("POST", "pushy/plans/slow/run", json: [:])
            let id = try #require(run["id"]?.stringValue)
            #expect(run["status"] == "running")
            // Until the second step's job runs (on the nodes that succeeded in the first).
            var jobId: String?
            try await eventually("the second step's job to run") {
                let steps = try await admin.json("GET", "pushy/plan_runs/\(id)")["steps"]?.arrayValue ?? []
                jobId = steps.count == 3 && steps[1]["status"] == "running" ? steps[1]["job"]?.stringValue : nil
                return jobId != nil
            }
            let job = try #require(jobId)
            let aborted = try await admin.json("PUT", "pushy/plan_runs/\(id)/abort", json: [:])
            #expect(aborted["status"] == "aborted", "\(aborted)")
            #expect(aborted["reason"] == "aborted by admin during step 'long'")
            #expect(aborted["steps"]?.arrayValue?.map { $0["status"] } == ["succeeded", "aborted", "skipped"])
            #expect(try await admin.waitFinished(job).status == .aborted)
            // The feed of a finished run: its events, ending with plan_finished.
            let feed = try await admin.send("GET", "pushy/plan_runs/\(id)/feed", accept: "text/event-stream")
            #expect(feed.status == 200)
            let names = feed.text.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            #expect(names.first == "plan_start" && names.last == "plan_finished" && names.contains("step_start"), "\(names)")
            #expect(try await admin.audit().contains { $0["action"] == "plan_run.aborted" })
            #expect(try await admin.json("GET", "pushy/plan_runs").arrayValue?.first?["status"] == "aborted")
        }
    }

    @Test func badPlansAndRunsSayWhatIsWrong() async throws {
        try await RouterRig.run { rig in
            let admin = rig.admin
            let bad = try await admin.send("POST", "pushy/plans", json: ["name": "p", "steps": [["command": "ok"]]])
            #expect(bad.status == 400 && bad.text.contains("a command step needs a target"), "\(bad.text)")
            #expect(try await admin.send("POST", "pushy/plans/nope/run", json: [:]).status == 404)
            #expect(try await admin.send("GET", "pushy/plan_runs/nope").status == 404)
            try await admin.ok("POST", "pushy/plans", json: ["name": "p", "parameters": ["v": ["required": true]],
                                                            "steps": [["command": "ok {{v}}", "nodes": ["web1"]]]])
            let missing = try await admin.send("POST", "pushy/plans/p/run", json: [:])
            #expect(missing.status == 400 && missing.text.contains("missing parameter 'v' for plan 'p'"), "\(missing.text)")
            #expect(try await admin.send("POST", "pushy/plans", json: ["name": "p", "steps": [["command": "ok", "nodes": ["a"]]]]).status == 409)
            let noPlan = try await admin.send("POST", "pushy/plan_runs", json: ["parameters": [:]])
            #expect(noPlan.status == 400 && noPlan.text.contains("the body needs 'plan'"), "\(noPlan.text)")
        }
    }
}
