import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy group ...`: the groups authorization uses (`admins`, `pushy_job_writers`,
/// `pushy_job_readers`, or any other nested in them).
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Show and change groups (who may read, start jobs, administer).",
        discussion: """
            Rules: if 'pushy_job_readers' exists only its members may read jobs and nodes, else every \
            member of the org may; if 'pushy_job_writers' exists only its members may start or abort \
            jobs, else members of 'admins' may. Membership counts through nested groups. Adding to a \
            group that does not exist creates it.
            """,
        subcommands: [GroupList.self, GroupShow.self, GroupAdd.self, GroupRemove.self, GroupDelete.self])
}

/// `user`, `client` or `group`.
enum MemberKind: String, ExpressibleByArgument, CaseIterable {
    case user, client, group
}

struct GroupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the organization's groups.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let names = try await connection.makeClient().groups().sorted()
        if output.isJSON { return Output.json(.array(names.map(JSONValue.string))) }
        for n in names { print(n) }
    }
}

struct GroupShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a group's direct members.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The group name.", valueName: "group"))
    var group: String

    func run() async throws {
        GroupShow.print(try await connection.makeClient().group(group), json: output.isJSON)
    }

    static func print(_ g: GroupInfo, json: Bool) {
        if json {
            return Output.json([
                "groupname": .string(g.name), "users": .array(g.users.map(JSONValue.string)),
                "clients": .array(g.clients.map(JSONValue.string)), "groups": .array(g.groups.map(JSONValue.string)),
            ])
        }
        Swift.print(text(g))
    }

    /// The TYPE NAME table of the direct members (users, then clients, then groups).
    static func text(_ g: GroupInfo) -> String {
        let rows = g.users.map { ["user", $0] } + g.clients.map { ["client", $0] } + g.groups.map { ["group", $0] }
        if rows.isEmpty { return "Group '\(g.name)' has no members" }
        return Output.table(["TYPE", "NAME"], rows)
    }
}

/// `GROUP TYPE NAME`, shared by `group add` and `group remove`.
struct GroupMemberArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The group to change.", valueName: "group"))
    var group: String
    @Argument(help: ArgumentHelp("The member's kind: user, client or group.", valueName: "type"))
    var type: MemberKind
    @Argument(help: ArgumentHelp("The member's name.", valueName: "name"))
    var name: String
}

struct GroupAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a user, client or group to a group (creating the group if needed).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @OptionGroup var member: GroupMemberArguments

    func run() async throws {
        let m = member
        let g = try await connection.makeClient().addGroupMember(group: m.group, type: m.type.rawValue, name: m.name)
        if output.isJSON { return GroupShow.print(g, json: true) }
        print("Added \(m.type.rawValue) '\(m.name)' to group '\(m.group)'")
    }
}

struct GroupRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a member from a group.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @OptionGroup var member: GroupMemberArguments

    func run() async throws {
        let m = member
        let g = try await connection.makeClient().removeGroupMember(group: m.group, type: m.type.rawValue, name: m.name)
        if output.isJSON { return GroupShow.print(g, json: true) }
        print("Removed \(m.type.rawValue) '\(m.name)' from group '\(m.group)'")
    }
}

struct GroupDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a group (not 'admins'); deleting a pushy_job_* group restores the fallback rule.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The group name.", valueName: "group"))
    var group: String

    func run() async throws {
        try await connection.makeClient().deleteGroup(group)
        print("Deleted group '\(group)'")
    }
}
