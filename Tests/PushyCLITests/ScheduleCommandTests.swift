import ArgumentParser
import Foundation
import PushyProtocol
import Testing
@testable import PushyCLI

/// `pushy schedule ...` (issue 14): what each line parses to, the body it sends, and the
/// messages of bad lines.
@Suite(.timeLimit(.minutes(1))) struct ScheduleCommandTests {
    @Test func subcommandsParse() throws {
        #expect(try parse(["schedule", "list", "--format", "json"], as: ScheduleList.self).output.isJSON)
        #expect(try parse(["schedule", "show", "nightly"], as: ScheduleShow.self).name == "nightly")
        #expect(try parse(["schedule", "pause", "nightly"], as: SchedulePause.self).name == "nightly")
        #expect(try parse(["schedule", "resume", "nightly"], as: ScheduleResume.self).name == "nightly")
        #expect(try parse(["schedule", "delete", "nightly"], as: ScheduleDelete.self).name == "nightly")
        let h = try parse(["schedule", "history", "nightly", "--limit", "50"], as: ScheduleHistory.self)
        #expect(h.name == "nightly" && h.limit == 50)
        #expect(try parse(["schedule", "create", "--file", "s.yaml"], as: ScheduleCreate.self).file == "s.yaml")
    }

    @Test func flagsMakeTheBody() throws {
        let cron = try parse(["schedule", "create", "nightly", "--cron", "0 3 * * *", "--time-zone", "Europe/Berlin",
                              "--template", "restart-app", "--param", "version=1.2.3", "--missed-runs", "run_once",
                              "--overlap", "queue"], as: ScheduleCreate.self)
        #expect(try cron.definition() == [
            "name": "nightly", "cron": "0 3 * * *", "time_zone": "Europe/Berlin", "template": "restart-app",
            "parameters": ["version": "1.2.3"], "missed_runs": "run_once", "overlap": "queue",
        ])
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let soon = try parse(["schedule", "create", "soon", "--in", "90s", "--command", "uptime", "--node", "web1", "--node", "web2"],
                             as: ScheduleCreate.self)
        #expect(try soon.definition(now: now) == [
            "name": "soon", "at": .string(WireTime.iso8601(now.addingTimeInterval(90))),
            "job": ["command": "uptime", "nodes": ["web1", "web2"]],
        ])
        let at = try parse(["schedule", "create", "x", "--at", "2026-12-24T18:00:00Z", "--template", "t"], as: ScheduleCreate.self)
        #expect(try at.definition()["at"] == "2026-12-24T18:00:00Z")
        #expect(ScheduleCommand.duration("10m") == 600 && ScheduleCommand.duration("2h") == 7200 && ScheduleCommand.duration("1d") == 86400)
        #expect(ScheduleCommand.duration("45") == 45 && ScheduleCommand.duration("soon") == nil && ScheduleCommand.duration("-5s") == nil)
    }

    static let badLines: [([String], String)] = [
        (["schedule", "create", "x", "--template", "t"], "give exactly one of --cron, --at and --in"),
        (["schedule", "create", "x", "--cron", "@daily", "--at", "2026-12-24T18:00:00Z", "--template", "t"], "give exactly one of --cron, --at and --in"),
        (["schedule", "create", "x", "--in", "soon", "--template", "t"], "--in must be a duration such as 30s, 10m, 2h or 1d, not 'soon'"),
        (["schedule", "create", "x", "--cron", "@daily"], "give exactly one of --template and --command"),
        (["schedule", "create", "x", "--cron", "@daily", "--command", "ok"], "--command needs at least one --node"),
        (["schedule", "create", "x", "--at", "2026-12-24T18:00:00Z", "--time-zone", "UTC", "--template", "t"], "--time-zone goes with --cron"),
        (["schedule", "create", "--cron", "@daily", "--template", "t"], "give the schedule a NAME (or use --file)"),
        (["schedule", "create", "--file", "s.yaml", "--cron", "@daily"], "--file gives the whole schedule"),
        (["schedule", "create", "x", "--cron", "@daily", "--template", "t", "--param", "novalue"], "--param must be NAME=VALUE, not 'novalue'"),
        (["schedule", "history", "x", "--limit", "0"], "--limit must be from 1 to 200"),
    ]

    @Test(arguments: badLines)
    func badLinesSayWhatIsWrong(_ args: [String], _ message: String) {
        let error = parseError(args)
        #expect(error?.contains(message) == true, "\(error ?? "parsed")")
    }
}
