import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy plan ...`: orchestration plans (issue 14), ordered steps of jobs run by the server.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Create and run orchestration plans (ordered steps of jobs).",
        discussion: """
            A plan is an ordered list of steps; each is a job (a template with parameters, or a \
            command with job settings) on a target: a node list, a search, or the nodes that \
            succeeded in an earlier step (from_step). Each step may set its quorum and rate control, \
            on_failure (stop, the default, or continue) and a wait before it. Plan parameters fill \
            {{name}} slots. Plans are written as JSON or YAML (docs/jobs.md "Plans"; an example: \
            docs/examples/tomcat-rollout.yaml).

            Examples:
              pushy plan create --file docs/examples/tomcat-rollout.yaml
              pushy plan list
              pushy plan show tomcat-rollout
              pushy plan run tomcat-rollout --param tomcat_version=9.0 --follow
              pushy plan run ./my-plan.yaml --follow          # a plan from a file, not stored
              pushy plan status RUN_ID
              pushy plan abort RUN_ID
            """,
        subcommands: [PlanList.self, PlanShow.self, PlanCreate.self, PlanDelete.self, PlanRun.self, PlanStatus.self, PlanAbort.self])

    /// Prints a run: its status and one line per step.
    static func report(_ r: JSONValue) {
        print("Plan run \(r["id"]?.stringValue ?? "") (\(r["plan"]?.stringValue ?? "")): \(r["status"]?.stringValue ?? "")"
            + (r["reason"]?.stringValue.map { " — \($0)" } ?? ""))
        Output.printTable(["STEP", "NAME", "STATUS", "JOB", "SUCCEEDED", "FAILED", "REASON"],
                          (r["steps"]?.arrayValue ?? []).enumerated().map { i, s in
            [String(i + 1), s["name"]?.stringValue ?? "", s["status"]?.stringValue ?? "", s["job"]?.stringValue ?? "-",
             (s["succeeded"]?.arrayValue?.compactMap(\.stringValue) ?? []).joined(separator: ","),
             (s["failed"]?.arrayValue?.compactMap(\.stringValue) ?? []).joined(separator: ","), s["reason"]?.stringValue ?? ""]
        })
    }
}

struct PlanList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored plans, then the recent runs.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let client = try connection.makeClient()
        let plans = try await client.plans(), runs = try await client.planRuns()
        if output.isJSON { return Output.json(["plans": .array(plans), "runs": .array(runs)]) }
        Output.printTable(["PLAN", "STEPS", "DESCRIPTION"], plans.map { p in
            [p["name"]?.stringValue ?? "", String(p["steps"]?.arrayValue?.count ?? 0), p["description"]?.stringValue ?? ""]
        })
        if !runs.isEmpty {
            print("")
            Output.printTable(["RUN", "PLAN", "STATUS", "USER", "STARTED"], runs.map { r in
                [r["id"]?.stringValue ?? "", r["plan"]?.stringValue ?? "", r["status"]?.stringValue ?? "",
                 r["user"]?.stringValue ?? "", r["created_at"]?.stringValue ?? ""]
            })
        }
    }
}

struct PlanShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a stored plan's steps.",
                                                    discussion: "Example: pushy plan show tomcat-rollout --format json")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The plan's name.") var name: String

    func run() async throws {
        let p = try await connection.makeClient().plan(name)
        if output.isJSON { return Output.json(p) }
        print("Plan \(name)" + (p["description"]?.stringValue.map { ": \($0)" } ?? ""))
        let params = p["parameters"]?.objectValue ?? []
        if !params.isEmpty {
            print("Parameters: " + params.map { k, v in
                k + (v["default"].map { "=\($0.stringValue ?? $0.serialized())" } ?? (v["required"]?.boolValue == true ? " (required)" : ""))
            }.joined(separator: ", "))
        }
        Output.printTable(["STEP", "NAME", "RUNS", "TARGET", "ON FAILURE", "WAIT"], (p["steps"]?.arrayValue ?? []).enumerated().map { i, s in
            let runs = s["template"]?.stringValue.map { "template \($0)" } ?? (s["command"]?.stringValue ?? "")
            let target = s["nodes"]?.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ",") }
                ?? s["search"]?.stringValue.map { "search \($0)" }
                ?? s["from_step"].map { "succeeded in \($0.stringValue ?? $0.serialized())" } ?? "the template's"
            return [String(i + 1), s["name"]?.stringValue ?? "step-\(i + 1)", runs, target, s["on_failure"]?.stringValue ?? "stop",
                    s["wait"].map { "\($0.serialized())s" } ?? ""]
        })
    }
}

struct PlanCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Store a plan from a JSON or YAML file (job writers).",
        discussion: "Example: pushy plan create --file docs/examples/tomcat-rollout.yaml")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .long, help: ArgumentHelp("The plan as JSON or YAML ('-' for standard input).", valueName: "path")) var file: String

    func run() async throws {
        let r = try await connection.makeClient().createPlan(try DefinitionFile.read(file, what: "plan"))
        if output.isJSON { return Output.json(r) }
        print("Created plan '\(r["name"]?.stringValue ?? "")' (\(r["steps"]?.intValue ?? 0) steps).")
    }
}

struct PlanDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a stored plan (its runs stay).",
                                                    discussion: "Example: pushy plan delete tomcat-rollout")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The plan's name.") var name: String

    func run() async throws {
        let r = try await connection.makeClient().deletePlan(name)
        if output.isJSON { return Output.json(r) }
        print("Deleted plan '\(name)'.")
    }
}

struct PlanRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a stored plan, or a plan file, with parameter values.",
        discussion: """
            NAME is a stored plan; a path to a .json, .yaml or .yml file (or any existing file) runs \
            that plan without storing it. --follow prints each step's events as they happen and \
            exits 0 when the plan succeeded, 1 otherwise; without it the run's id is printed and the \
            server carries on.

            Examples:
              pushy plan run tomcat-rollout --param tomcat_version=9.0 --follow
              pushy plan run ./tomcat-rollout.yaml --param tomcat_version=9.0
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .customLong("param"), help: ArgumentHelp("A plan parameter value (repeatable).", valueName: "name=value"))
    var params: [String] = []
    @Flag(name: .long, help: "Print the run's step events until it ends; exit 1 unless it succeeded.") var follow = false
    @Argument(help: "A stored plan's name, or a plan file.") var plan: String

    func validate() throws {
        _ = try TemplateRun.parameters(params)
        if follow, output.isJSON { throw ValidationError("--follow cannot be combined with --format json") }
    }

    var isFile: Bool {
        plan.hasSuffix(".json") || plan.hasSuffix(".yaml") || plan.hasSuffix(".yml") || plan.contains("/")
            || FileManager.default.fileExists(atPath: plan)
    }

    func run() async throws {
        let client = try connection.makeClient()
        let parameters = try TemplateRun.parameters(params)
        let r = isFile
            ? try await client.runPlan(definition: try DefinitionFile.read(plan, what: "plan"), parameters: parameters)
            : try await client.runPlan(plan, parameters: parameters)
        let id = r["id"]?.stringValue ?? ""
        guard follow else {
            if output.isJSON { return Output.json(r) }
            return print("Started plan run \(id).  Follow it with: pushy plan status \(id)")
        }
        Output.stderr("Started plan run \(id) (\(r["plan"]?.stringValue ?? "")).")
        for try await e in client.planRunFeed(id: id) {
            let d = e.data
            let step = d["step"]?.intValue.map { "step \($0) " } ?? ""
            let name = d["name"]?.stringValue.map { "'\($0)' " } ?? ""
            switch e.name {
            case "step_waiting": print("\(step)\(name)waits \(d["seconds"]?.serialized() ?? "")s")
            case "step_start":
                print("\(step)\(name)started: job \(d["job"]?.stringValue ?? ""), '\(d["command"]?.stringValue ?? "")' on \(d["node_count"]?.intValue ?? 0) node(s)")
            case "step_finished":
                print("\(step)\(name)\(d["status"]?.stringValue ?? ""): job \(d["job_status"]?.stringValue ?? "not started"), \(d["succeeded"]?.intValue ?? 0) succeeded, \(d["failed"]?.intValue ?? 0) failed"
                    + (d["reason"]?.stringValue.map { " — \($0)" } ?? ""))
            case "plan_finished":
                print("plan \(d["status"]?.stringValue ?? "")" + (d["reason"]?.stringValue.map { ": \($0)" } ?? ""))
            default: break
            }
        }
        let final = try await client.planRun(id)
        PlanCommand.report(final)
        if final["status"]?.stringValue != "succeeded" { throw ExitCode(1) }
    }
}

struct PlanStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a plan run: its status and each step.",
                                                    discussion: "Example: pushy plan status RUN_ID --format json")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The plan run's id.") var id: String

    func run() async throws {
        let r = try await connection.makeClient().planRun(id)
        if output.isJSON { return Output.json(r) }
        PlanCommand.report(r)
    }
}

struct PlanAbort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort", abstract: "Abort a plan run: its running step's job is aborted and no later step runs.",
        discussion: "Example: pushy plan abort RUN_ID")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The plan run's id.") var id: String

    func run() async throws {
        let r = try await connection.makeClient().abortPlanRun(id)
        if output.isJSON { return Output.json(r) }
        PlanCommand.report(r)
    }
}
