import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy template ...`: stored, versioned job definitions with typed parameters and their own
/// access rules (issue 13).
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "Create, show, edit and run job templates (stored jobs with typed parameters).",
        discussion: """
            A template names a whitelist command (which may have {{param}} slots), typed parameters \
            (string with a pattern, integer with min/max, enum, boolean), a target (nodes or a search), \
            and the job's other settings, including rate control. Its 'access' says who may run, edit \
            and read it: a user who may not start arbitrary jobs can run exactly the templates that \
            grant it 'run'. Editing makes a new version; jobs record the template and version.
            Templates are written as JSON or YAML (the same keys; docs/jobs.md "Templates").

            Examples:
              pushy template create --file restart-app.json
              pushy template list
              pushy template show restart-app --version 1
              pushy template run restart-app --param version=1.2.3
              pushy template run restart-app --param version=1.2.3 --param role=worker --follow
            """,
        subcommands: [TemplateList.self, TemplateShow.self, TemplateCreate.self, TemplateEdit.self, TemplateDelete.self,
                      TemplateRun.self])

    /// Reads a template written as JSON or YAML from `path` (`-` for standard input).
    static func readDefinition(_ path: String) throws -> JSONValue {
        try DefinitionFile.read(path, what: "template")
    }

    /// One line per parameter: name, type and constraints, required/default, description.
    static func describe(_ name: String, _ p: JSONValue) -> [String] {
        var type = p["type"]?.stringValue ?? "?"
        if let pattern = p["pattern"]?.stringValue { type += " /\(pattern)/" }
        if let values = p["values"]?.arrayValue { type += " " + values.compactMap(\.stringValue).joined(separator: "|") }
        if p["min"] != nil || p["max"] != nil {
            type += " \(p["min"]?.intValue.map(String.init) ?? "")..\(p["max"]?.intValue.map(String.init) ?? "")"
        }
        let need = p["required"]?.boolValue == true ? "required" : p["default"].map { "default \($0.stringValue ?? $0.serialized())" } ?? "optional"
        return [name, type, need, p["description"]?.stringValue ?? ""]
    }
}

struct TemplateList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the templates you may read (latest versions).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let items = try await connection.makeClient().templates()
        if output.isJSON { return Output.json(.array(items)) }
        Output.printTable(["NAME", "VERSION", "COMMAND", "TARGET", "DESCRIPTION"], items.map { t in
            [t["name"]?.stringValue ?? "", t["version"]?.intValue.map(String.init) ?? "", t["command"]?.stringValue ?? "",
             t["search"]?.stringValue.map { "search \($0)" } ?? (t["nodes"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? ""),
             t["description"]?.stringValue ?? ""]
        })
    }
}

struct TemplateShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a template (the latest version, or --version N).",
        discussion: "Example: pushy template show restart-app --version 2 --format json")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .long, help: "A version other than the latest.") var version: Int?
    @Argument(help: "The template's name.") var name: String

    func run() async throws {
        let t = try await connection.makeClient().template(name, version: version)
        if output.isJSON { return Output.json(t) }
        var rows: [(String, String)] = [
            ("Name", name), ("Version", "\(t["version"]?.intValue ?? 0) of \(t["latest_version"]?.intValue ?? 0)"),
            ("Command", t["command"]?.stringValue ?? ""),
            ("Target", t["search"]?.stringValue.map { "search \($0)" } ?? (t["nodes"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? "")),
            ("Created by", t["created_by"]?.stringValue ?? ""), ("This version by", t["author"]?.stringValue ?? ""),
            ("Updated", t["updated_at"]?.stringValue ?? ""),
        ]
        if let d = t["description"]?.stringValue { rows.insert(("Description", d), at: 1) }
        for k in ["quorum", "run_timeout", "user", "dir", "capture_output"] + RateControl.keys.sorted() {
            if let v = t[k] { rows.append((k, v.stringValue ?? v.serialized())) }
        }
        if let env = t["env"] { rows.append(("env", env.serialized())) }
        for rule in ["run", "edit", "read"] {
            let r = t["access"]?[rule]
            let users = r?["users"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let groups = r?["groups"]?.arrayValue?.compactMap(\.stringValue).map { "group:\($0)" } ?? []
            rows.append(("May \(rule)", (users + groups).isEmpty ? "-" : (users + groups).joined(separator: ", ")))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
        let params = t["parameters"]?.objectValue ?? []
        if !params.isEmpty {
            print("")
            Output.printTable(["PARAMETER", "TYPE", "VALUE", "DESCRIPTION"], params.map { TemplateCommand.describe($0.0, $0.1) })
        }
    }
}

struct TemplateCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a template from a JSON or YAML file (job writers).",
        discussion: """
            Example file (restart-app.yaml):
              name: restart-app
              command: deploy {{version}}
              parameters:
                version: {type: string, pattern: '[0-9]+\\.[0-9]+\\.[0-9]+', required: true}
              search: role:webapp
              batch_size: 10%
              max_errors: 2
              access:
                run: {users: [rob]}

            The same as JSON (restart-app.json):
              {"name": "restart-app", "command": "deploy {{version}}",
               "parameters": {"version": {"type": "string", "pattern": "[0-9]+\\\\.[0-9]+\\\\.[0-9]+", "required": true}},
               "search": "role:webapp", "batch_size": "10%", "max_errors": 2,
               "access": {"run": {"users": ["rob"]}}}

            Examples:
              pushy template create --file restart-app.yaml
              pushy template create --file restart-app.json
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .long, help: ArgumentHelp("The template as JSON or YAML ('-' for standard input).", valueName: "path")) var file: String

    func run() async throws {
        let r = try await connection.makeClient().createTemplate(try TemplateCommand.readDefinition(file))
        if output.isJSON { return Output.json(r) }
        print("Created template '\(r["name"]?.stringValue ?? "")' version \(r["version"]?.intValue ?? 1).")
    }
}

struct TemplateEdit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "Replace a template's definition, making a new version (admins, its creator, its editors).",
        discussion: "Example: pushy template show restart-app --format json > t.json; (edit t.json); pushy template edit restart-app --file t.json")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .long, help: ArgumentHelp("The new definition as JSON or YAML ('-' for standard input).", valueName: "path")) var file: String
    @Argument(help: "The template's name.") var name: String

    func run() async throws {
        var definition = try TemplateCommand.readDefinition(file)
        // What `show --format json` printed may be fed back: drop the read-only keys it adds.
        if let pairs = definition.objectValue {
            let readOnly: Set<String> = ["version", "latest_version", "created_by", "author", "updated_at"]
            definition = .object(pairs.filter { !readOnly.contains($0.0) })
        }
        let r = try await connection.makeClient().editTemplate(name, definition)
        if output.isJSON { return Output.json(r) }
        print("Template '\(name)' is now at version \(r["version"]?.intValue ?? 0).")
    }
}

struct TemplateDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a template and all its versions (admins, its creator, its editors).",
        discussion: "Example: pushy template delete restart-app")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The template's name.") var name: String

    func run() async throws {
        let r = try await connection.makeClient().deleteTemplate(name)
        if output.isJSON { return Output.json(r) }
        print("Deleted template '\(name)'.")
    }
}

struct TemplateRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a template with parameter values, and wait for the job like 'job start'.",
        discussion: """
            Each --param is NAME=VALUE; integers and booleans are written as text (--param wait=30 \
            --param drain=true). The server checks every value against its type and pattern and fills \
            the template's slots; values never pass through a shell on the server, and reach the nodes \
            as CHEF_PUSH_PARAM_<NAME>. --node narrows the template's target. Exit code as for 'job start'.

            Examples:
              pushy template run restart-app --param version=1.2.3
              pushy template run restart-app --param version=1.2.3 --node web7 --follow
              pushy template run restart-app --param version=1.2.3 --nowait --format json
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var wait: WaitOptions

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter value (repeatable).", valueName: "name=value"))
    var params: [String] = []
    @Option(name: .customLong("node"), help: ArgumentHelp("Run only on this node of the target (repeatable).", valueName: "node"))
    var nodes: [String] = []
    @Flag(name: [.customShort("b"), .long], help: "Print the new job id and exit right after creating it.")
    var nowait = false
    @Flag(name: .long, help: "Show each node's output live (the template must capture output).") var follow = false
    @Option(name: .long, help: ArgumentHelp("Seconds between job status polls (without --follow).", valueName: "seconds"))
    var pollInterval: Double = 1.0
    @Argument(help: "The template's name.") var name: String

    /// `--param` values as (name, value) pairs; a usage error for anything but NAME=VALUE.
    static func parameters(_ params: [String]) throws -> [(String, JSONValue)] {
        try params.map { p in
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                throw ValidationError("--param must be NAME=VALUE, not '\(p)'")
            }
            return (String(p[..<eq]), .string(String(p[p.index(after: eq)...])))
        }
    }

    func validate() throws {
        _ = try Self.parameters(params)
        guard pollInterval > 0, pollInterval.isFinite else { throw ValidationError("--poll-interval must be a positive number of seconds") }
        if follow, nowait { throw ValidationError("--follow and --nowait do not go together") }
        if follow, output.isJSON { throw ValidationError("--follow cannot be combined with --format json") }
    }

    func run() async throws {
        let client = try connection.makeClient()
        let request = TemplateRunRequest(parameters: try Self.parameters(params), nodes: nodes.isEmpty ? nil : nodes)
        let r = try await client.runTemplate(name, request)
        let id = r["id"]?.stringValue ?? ""
        if nowait {
            if output.isJSON { Output.json(r) } else { print("Started.  Job ID: \(id)") }
            return
        }
        if !output.isJSON {
            Output.stderr("Running template '\(name)' version \(r["template_version"]?.intValue ?? 0): '\(r["command"]?.stringValue ?? "")' on \(r["node_count"]?.intValue ?? 0) node(s).")
        }
        let watch = JobWatch(jobID: id, options: wait)
        try await JobStart.waitAndReport(id, client: client, watch: watch, follow: follow, pollInterval: pollInterval,
                                         stall: wait.stall, json: output.isJSON)
    }
}
