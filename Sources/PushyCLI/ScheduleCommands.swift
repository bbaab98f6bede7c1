import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy schedule ...`: templates or jobs run by the server on a cron expression or once
/// (issue 14).
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Create, list, pause and inspect scheduled jobs (cron or one-shot).",
        discussion: """
            A schedule runs a template (with parameter values) or a job on a cron expression in a \
            time zone, or once at a given time, as its owner (who created it). The owner's rights and \
            the template's rules are checked again at every run; a refused run is recorded in the \
            history with the reason. Missed runs (the server was down) are skipped unless \
            --missed-runs run_once; a run due while the previous job still runs is skipped unless \
            --overlap queue. Cron: 5 fields (minute hour day-of-month month day-of-week), ranges, \
            steps, lists, names, @hourly/@daily/@weekly/@monthly/@yearly (docs/jobs.md "Schedules").

            Examples:
              pushy schedule create nightly-restart --cron '0 3 * * *' --time-zone Europe/Berlin \\
                  --template restart-app --param version=1.2.3
              pushy schedule create uptime-once --in 10m --command uptime --node web1 --node web2
              pushy schedule create --file nightly.yaml
              pushy schedule list
              pushy schedule show nightly-restart
              pushy schedule history nightly-restart
              pushy schedule pause nightly-restart
              pushy schedule resume nightly-restart
              pushy schedule delete nightly-restart
            """,
        subcommands: [ScheduleList.self, ScheduleShow.self, ScheduleCreate.self, SchedulePause.self, ScheduleResume.self,
                      ScheduleDelete.self, ScheduleHistory.self])

    /// "cron '0 3 * * *' Europe/Berlin" or "once at 2026-…".
    static func when(_ s: JSONValue) -> String {
        if let c = s["cron"]?.stringValue { return "\(c) (\(s["time_zone"]?.stringValue ?? "UTC"))" }
        return "once at \(s["at"]?.stringValue ?? "?")"
    }

    static func what(_ s: JSONValue) -> String {
        if let t = s["template"]?.stringValue {
            let p = (s["parameters"]?.objectValue ?? []).map { "\($0.0)=\($0.1.stringValue ?? $0.1.serialized())" }
            return "template \(t)" + (p.isEmpty ? "" : " " + p.joined(separator: " "))
        }
        let job = s["job"]
        let nodes = job?["nodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return "\(job?["command"]?.stringValue ?? "?") on \(nodes.joined(separator: ","))"
    }

    /// Parses `30s`, `10m`, `2h`, `1d` (or plain seconds).
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let n = Double(text), n > 0 { return n }
        guard let unit = text.last, let mult = units[unit], let n = Double(text.dropLast()), n > 0 else { return nil }
        return n * mult
    }
}

struct ScheduleList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the schedules with their next run time.",
        discussion: "Example: pushy schedule list --format json")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let items = try await connection.makeClient().schedules()
        if output.isJSON { return Output.json(.array(items)) }
        Output.printTable(["NAME", "WHEN", "RUNS", "OWNER", "STATE", "NEXT RUN (UTC)"], items.map { s in
            [s["name"]?.stringValue ?? "", ScheduleCommand.when(s), ScheduleCommand.what(s), s["owner"]?.stringValue ?? "",
             s["paused"]?.boolValue == true ? "paused" : "active",
             s["next_runs"]?.arrayValue?.first?["at"]?.stringValue ?? "-"]
        })
    }
}

struct ScheduleShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a schedule, its next run times and its last run.",
        discussion: "Example: pushy schedule show nightly-restart")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        let s = try await connection.makeClient().schedule(name)
        if output.isJSON { return Output.json(s) }
        var rows: [(String, String)] = [
            ("Name", name), ("When", ScheduleCommand.when(s)), ("Runs", ScheduleCommand.what(s)),
            ("Owner", s["owner"]?.stringValue ?? ""), ("State", s["paused"]?.boolValue == true ? "paused" : "active"),
            ("Missed runs", s["missed_runs"]?.stringValue ?? "skip"), ("Overlap", s["overlap"]?.stringValue ?? "skip"),
            ("Created", s["created_at"]?.stringValue ?? ""), ("Updated", s["updated_at"]?.stringValue ?? ""),
        ]
        if let d = s["description"]?.stringValue { rows.insert(("Description", d), at: 1) }
        if let q = s["queued"]?.stringValue { rows.append(("Queued", "run time \(q) waits for the previous job")) }
        if let last = s["last_run"] {
            rows.append(("Last run", ScheduleHistory.line(last)))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
        let next = s["next_runs"]?.arrayValue ?? []
        print("")
        if next.isEmpty {
            print(s["paused"]?.boolValue == true ? "No run times while paused." : "No more run times.")
        } else {
            Output.printTable(["NEXT RUN (UTC)", "LOCAL", "NOTE"], next.map { r in
                [r["at"]?.stringValue ?? "", r["local"]?.stringValue ?? "", r["note"]?.stringValue ?? ""]
            })
        }
    }
}

struct ScheduleCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a schedule (job writers, or those who may run its template).",
        discussion: """
            Give the schedule as flags or as a JSON or YAML file (--file). Exactly one of --cron, --at \
            and --in; exactly one of --template (with --param) and --command (with --node).

            Example file (nightly.yaml):
              name: nightly-restart
              cron: '0 3 * * *'
              time_zone: Europe/Berlin
              template: restart-app
              parameters: {version: 1.2.3}
              missed_runs: run_once
              overlap: skip

            Examples:
              pushy schedule create --file nightly.yaml
              pushy schedule create nightly-restart --cron '0 3 * * *' --time-zone Europe/Berlin --template restart-app --param version=1.2.3
              pushy schedule create every-15 --cron '*/15 8-18 * * mon-fri' --command chef-client --node web1 --overlap queue
              pushy schedule create once --at 2026-12-24T18:00:00Z --template restart-app --param version=1.2.4
              pushy schedule create soon --in 30s --command uptime --node web1
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .long, help: ArgumentHelp("The schedule as JSON or YAML ('-' for standard input).", valueName: "path"))
    var file: String?
    @Option(name: .long, help: ArgumentHelp("A cron expression (5 fields or @daily, ...).", valueName: "expr")) var cron: String?
    @Option(name: .long, help: ArgumentHelp("The cron's IANA time zone (default UTC).", valueName: "zone")) var timeZone: String?
    @Option(name: .long, help: ArgumentHelp("Run once at this UTC time.", valueName: "YYYY-MM-DDTHH:MM:SSZ")) var at: String?
    @Option(name: .customLong("in"), help: ArgumentHelp("Run once after this long (30s, 10m, 2h, 1d).", valueName: "duration"))
    var after: String?
    @Option(name: .long, help: ArgumentHelp("The template to run.", valueName: "name")) var template: String?
    @Option(name: .customLong("param"), help: ArgumentHelp("A template parameter value (repeatable).", valueName: "name=value"))
    var params: [String] = []
    @Option(name: .long, help: ArgumentHelp("The whitelist command to run (instead of a template).", valueName: "command"))
    var command: String?
    @Option(name: .customLong("node"), help: ArgumentHelp("With --command: a node to run on; with --template: narrow its target (repeatable).", valueName: "node"))
    var nodes: [String] = []
    @Option(name: .long, help: ArgumentHelp("skip (default) or run_once: what to do with run times missed while the server was down.", valueName: "policy"))
    var missedRuns: String?
    @Option(name: .long, help: ArgumentHelp("skip (default) or queue: a run due while the previous job still runs.", valueName: "policy"))
    var overlap: String?
    @Option(name: .long, help: "A description.") var description: String?
    @Argument(help: "The schedule's name (or give it in --file).") var name: String?

    func validate() throws {
        _ = try TemplateRun.parameters(params)
        if file != nil {
            guard cron == nil, at == nil, after == nil, template == nil, command == nil, params.isEmpty, nodes.isEmpty else {
                throw ValidationError("--file gives the whole schedule: leave out --cron/--at/--in/--template/--command/--param/--node")
            }
            return
        }
        guard name != nil else { throw ValidationError("give the schedule a NAME (or use --file)") }
        guard [cron, at, after].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --cron, --at and --in")
        }
        if let after, ScheduleCommand.duration(after) == nil {
            throw ValidationError("--in must be a duration such as 30s, 10m, 2h or 1d, not '\(after)'")
        }
        if timeZone != nil, cron == nil { throw ValidationError("--time-zone goes with --cron (--at is in UTC)") }
        guard (template == nil) != (command == nil) else { throw ValidationError("give exactly one of --template and --command") }
        if command != nil, nodes.isEmpty { throw ValidationError("--command needs at least one --node") }
        if command != nil, !params.isEmpty { throw ValidationError("--param goes with --template") }
    }

    /// The request body the flags describe.
    func definition(now: Date = Date()) throws -> JSONValue {
        if let file {
            var d = try DefinitionFile.read(file, what: "schedule")
            if let name, d["name"] == nil, let pairs = d.objectValue { d = .object([("name", .string(name))] + pairs) }
            return d
        }
        var o: [(String, JSONValue)] = [("name", .string(name ?? ""))]
        if let description { o.append(("description", .string(description))) }
        if let cron {
            o.append(("cron", .string(cron)))
            if let timeZone { o.append(("time_zone", .string(timeZone))) }
        } else if let at {
            o.append(("at", .string(at)))
        } else if let after, let seconds = ScheduleCommand.duration(after) {
            o.append(("at", .string(WireTime.iso8601(now.addingTimeInterval(seconds.rounded(.up))))))
        }
        if let template {
            o += [("template", .string(template)), ("parameters", .object(try TemplateRun.parameters(params)))]
            if !nodes.isEmpty { o.append(("nodes", .array(nodes.map(JSONValue.string)))) }
        } else if let command {
            o.append(("job", .object([("command", .string(command)), ("nodes", .array(nodes.map(JSONValue.string)))])))
        }
        if let missedRuns { o.append(("missed_runs", .string(missedRuns))) }
        if let overlap { o.append(("overlap", .string(overlap))) }
        return .object(o)
    }

    func run() async throws {
        let s = try await connection.makeClient().createSchedule(try definition())
        if output.isJSON { return Output.json(s) }
        print("Created schedule '\(s["name"]?.stringValue ?? "")': \(ScheduleCommand.when(s)), \(ScheduleCommand.what(s)).")
        let next = s["next_runs"]?.arrayValue ?? []
        if let first = next.first?["at"]?.stringValue { print("Next run: \(first)") }
    }
}

struct SchedulePause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Pause a schedule: nothing runs until it is resumed.",
        discussion: "Run times passing while paused are dropped, not missed. Example: pushy schedule pause nightly-restart")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        let s = try await connection.makeClient().setSchedulePaused(name, true)
        if output.isJSON { return Output.json(s) }
        print("Paused schedule '\(name)'.")
    }
}

struct ScheduleResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Resume a paused schedule from its next run time.",
        discussion: "Example: pushy schedule resume nightly-restart")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        let s = try await connection.makeClient().setSchedulePaused(name, false)
        if output.isJSON { return Output.json(s) }
        print("Resumed schedule '\(name)'. Next run: \(s["next_runs"]?.arrayValue?.first?["at"]?.stringValue ?? "none")")
    }
}

struct ScheduleDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a schedule and its history (its jobs stay).",
        discussion: "Example: pushy schedule delete nightly-restart")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        let r = try await connection.makeClient().deleteSchedule(name)
        if output.isJSON { return Output.json(r) }
        print("Deleted schedule '\(name)'.")
    }
}

struct ScheduleHistory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Show a schedule's runs, newest first, with their jobs' status.",
        discussion: """
            Outcomes: started (see the job's status), skipped (missed, overlapping, ...), refused (the \
            owner may no longer run it), failed (the job could not start), starting (the server stopped \
            while starting it).

            Examples:
              pushy schedule history nightly-restart
              pushy schedule history nightly-restart --limit 50 --format json
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .long, help: "How many runs to show (1-200, default 20).") var limit: Int?
    @Argument(help: "The schedule's name.") var name: String

    func validate() throws {
        if let limit, !(1...200).contains(limit) { throw ValidationError("--limit must be from 1 to 200") }
    }

    static func line(_ r: JSONValue) -> String {
        var parts = ["\(r["tick"]?.stringValue ?? "") \(r["outcome"]?.stringValue ?? "")"]
        if let job = r["job"]?.stringValue { parts.append("job \(job) \(r["job_status"]?.stringValue ?? "")") }
        if let reason = r["reason"]?.stringValue { parts.append(reason) }
        return parts.joined(separator: ": ")
    }

    func run() async throws {
        let h = try await connection.makeClient().scheduleHistory(name, limit: limit)
        if output.isJSON { return Output.json(h) }
        let runs = h["runs"]?.arrayValue ?? []
        if runs.isEmpty { return print("Schedule '\(name)' has not run yet.") }
        Output.printTable(["RUN TIME (UTC)", "OUTCOME", "JOB", "JOB STATUS", "REASON"], runs.map { r in
            [r["tick"]?.stringValue ?? "", r["outcome"]?.stringValue ?? "", r["job"]?.stringValue ?? "-",
             r["job_status"]?.stringValue ?? "-", r["reason"]?.stringValue ?? ""]
        })
    }
}
