import ArgumentParser
import Foundation
import PushyProtocol
import Testing
@testable import PushyCLI

/// `pushy template ...` (issue 13): what each line parses to, and the messages of bad lines.
@Suite(.timeLimit(.minutes(1))) struct TemplateCommandTests {
    @Test func subcommandsParse() throws {
        #expect(try parse(["template", "list", "--format", "json"], as: TemplateList.self).output.isJSON)
        let show = try parse(["template", "show", "restart-app", "--version", "2"], as: TemplateShow.self)
        #expect(show.name == "restart-app" && show.version == 2)
        #expect(try parse(["template", "show", "restart-app"], as: TemplateShow.self).version == nil)
        #expect(try parse(["template", "create", "--file", "t.json"], as: TemplateCreate.self).file == "t.json")
        let edit = try parse(["template", "edit", "restart-app", "--file", "-"], as: TemplateEdit.self)
        #expect(edit.name == "restart-app" && edit.file == "-")
        #expect(try parse(["template", "delete", "restart-app"], as: TemplateDelete.self).name == "restart-app")
    }

    @Test func runTakesParametersAndNodes() throws {
        let run = try parse(["template", "run", "restart-app", "--param", "version=1.2.3", "--param", "note=a=b",
                             "--node", "web1", "--node", "web2", "--nowait"], as: TemplateRun.self)
        #expect(run.name == "restart-app" && run.nowait && run.nodes == ["web1", "web2"])
        let params = try TemplateRun.parameters(run.params)
        #expect(params.map(\.0) == ["version", "note"])
        #expect(params.map(\.1) == ["1.2.3", "a=b"])
        let follow = try parse(["template", "run", "restart-app", "--follow", "--wait-timeout", "600"], as: TemplateRun.self)
        #expect(follow.follow && follow.wait.waitTimeout == 600 && follow.params.isEmpty)
    }

    @Test func badLinesSayWhy() {
        #expect(parseError(["template", "run", "t", "--param", "version"])?.contains("--param must be NAME=VALUE, not 'version'") == true)
        #expect(parseError(["template", "run", "t", "--param", "=1"])?.contains("--param must be NAME=VALUE") == true)
        #expect(parseError(["template", "run", "t", "--follow", "--nowait"])?.contains("--follow and --nowait do not go together") == true)
        #expect(parseError(["template", "create"])?.contains("--file") == true)
    }

    @Test func yamlIsRefusedWithAReason() throws {
        #expect(throws: CLIFailure.self) { try TemplateCommand.readDefinition("t.yaml") }
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let path = try dir.write("t.json", #"{"name":"t","command":"ok","nodes":["a"]}"#)
        #expect(try TemplateCommand.readDefinition(path)["name"] == "t")
        let broken = try dir.write("b.json", "{")
        #expect(throws: CLIFailure.self) { try TemplateCommand.readDefinition(broken) }
    }
}
