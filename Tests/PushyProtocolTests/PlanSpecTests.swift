import Foundation
import PushyProtocol
import Testing

/// Plans as written (issue 14): steps, targets, parameters, and errors that name the step.
@Suite(.timeLimit(.minutes(1))) struct PlanSpecTests {
    static let rollout: JSONValue = [
        "name": "tomcat-rollout",
        "parameters": ["tomcat_version": ["default": "9.0"], "lb": ["required": true]],
        "steps": [
            ["name": "provision", "command": "provision", "search": "role:new", "quorum": "100%"],
            ["name": "install-tomcat", "command": "install-tomcat {{tomcat_version}}", "from_step": "provision", "wait": 2,
             "max_concurrency": 2],
            ["name": "haproxy", "template": "reload-haproxy", "parameters": ["host": "{{lb}}"], "on_failure": "continue"],
        ],
    ]

    @Test func theRolloutParses() throws {
        let p = try PlanSpec.parse(Self.rollout)
        #expect(p.name == "tomcat-rollout" && p.steps.map(\.name) == ["provision", "install-tomcat", "haproxy"])
        #expect(p.steps[0].target == .search("role:new"))
        #expect(p.steps[1].target == .fromStep("provision") && p.steps[1].wait == 2)
        if case .job(let j) = p.steps[1].run {
            #expect(j.command == "install-tomcat {{tomcat_version}}" && j.rateControl?.json["max_concurrency"] == 2)
        } else { Issue.record("a command step") }
        #expect(p.steps[2].run == .template(name: "reload-haproxy", parameters: [("host", "{{lb}}")]))
        #expect(p.steps[2].target == .template && p.steps[2].continueOnFailure)
        let values = try p.values([("lb", "lb1")])
        #expect(values == ["tomcat_version": "9.0", "lb": "lb1"])
        #expect(PlanSpec.fill("install-tomcat {{tomcat_version}} on {{ lb }}", values) == "install-tomcat 9.0 on lb1")
        #expect(throws: JobValidationError("missing parameter 'lb' for plan 'tomcat-rollout'")) { try p.values([]) }
        #expect(throws: JobValidationError("unknown parameter 'x' for plan 'tomcat-rollout' (its parameters: tomcat_version, lb)")) {
            try p.values([("lb", "a"), ("x", "1")])
        }
        // A step given by number: from_step 1 is the first step.
        var byNumber = Self.rollout.objectValue!
        byNumber[2].1 = [["name": "a", "command": "ok", "nodes": ["web1"]], ["name": "b", "command": "ok", "from_step": 1]]
        #expect(try PlanSpec.parse(.object(byNumber)).steps[1].target == .fromStep("a"))
    }

    static let bad: [(JSONValue, String)] = [
        (["name": "p"], "a plan needs 'steps'"),
        (["name": "p", "steps": [["command": "ok"]]], "step 1 ('step-1'): a command step needs a target: nodes, search or from_step"),
        (["name": "p", "steps": [["command": "ok", "nodes": ["a"], "template": "t"]]], "give either 'template' or 'command'"),
        (["name": "p", "steps": [["command": "ok", "nodes": ["a"], "search": "x:y"]]], "give at most one of nodes, search and from_step"),
        (["name": "p", "steps": [["command": "ok", "from_step": "later"]]], "from_step 'later' is not an earlier step"),
        (["name": "p", "steps": [["command": "ok", "nodes": ["a"], "on_failure": "retry"]]], "on_failure must be stop or continue"),
        (["name": "p", "steps": [["command": "ok", "nodes": ["a"], "wait": -1]]], "wait must be a number of seconds"),
        (["name": "p", "steps": [["command": "ok", "nodes": ["a"], "colour": "red"]]], "step 1 ('step-1'): invalid key 'colour'"),
        (["name": "p", "steps": [["command": "ok {{v}}", "nodes": ["a"]]]], "step 'step-1' uses {{v}}, which is not a plan parameter"),
        (["name": "p", "steps": [["name": "a", "command": "ok", "nodes": ["a"]], ["name": "a", "command": "ok", "nodes": ["a"]]]], "two steps are named 'a'"),
        (["name": "p", "steps": [["template": "t", "run_timeout": 5]]], "'run_timeout' comes from the template"),
        (["name": "p", "steps": [["command": "ok", "nodes": ["a"], "quorum": -1]]], "invalid quorum supplied"),
        // A template step's own quorum and rate control are checked when the plan is made.
        (["name": "p", "steps": [["template": "t", "quorum": -1]]], "step 1 ('step-1'): invalid quorum supplied"),
        (["name": "p", "steps": [["template": "t", "max_concurrency": 0]]], "step 1 ('step-1'): invalid max_concurrency supplied"),
        (["name": "bad name", "steps": [["command": "ok", "nodes": ["a"]]]], "invalid name supplied: 'bad name'"),
    ]

    @Test(arguments: bad)
    func badPlansNameTheStep(_ v: JSONValue, _ message: String) {
        do {
            _ = try PlanSpec.parse(v)
            Issue.record("parsed: \(v.serialized())")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
