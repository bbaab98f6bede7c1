import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy org ...`: organizations (tenants). Needs a superuser: the `admin` user that
/// `pushy-server init` creates. A superuser also acts as an admin of every org, so
/// `pushy --server-url .../organizations/NEW user create alice --admin` gives a new org its first admin.
struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Create, list and delete organizations (superuser only).",
        subcommands: [OrgCreate.self, OrgList.self, OrgDelete.self])
}

struct OrgCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an organization (with an empty 'admins' group).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The organization name.", valueName: "name"))
    var name: String

    func run() async throws {
        let guid = try await connection.makeClient().createOrganization(name: name)
        if output.isJSON { return Output.json(["name": .string(name), "guid": .string(guid)]) }
        print("Created organization '\(name)'")
    }
}

struct OrgList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List organizations, one per line.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let names = try await connection.makeClient().organizations().sorted()
        if output.isJSON { return Output.json(.array(names.map(JSONValue.string))) }
        for n in names { print(n) }
    }
}

struct OrgDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete an organization and everything in it (users, clients, groups, nodes, jobs, audit log).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The organization name.", valueName: "name"))
    var name: String

    func run() async throws {
        try await connection.makeClient().deleteOrganization(name: name)
        print("Deleted organization '\(name)'")
    }
}
