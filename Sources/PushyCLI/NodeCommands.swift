import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy node ...`: node availability as the server sees it.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Inspect nodes.", subcommands: [NodeStatus.self])
}

/// `pushy node status [NODE|QUERY ...]` (knife node status).
struct NodeStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether nodes are online and available for jobs.",
        discussion: """
            With no arguments, lists every node the server knows. Each argument is a node name, or a \
            search query if it contains ':' (e.g. 'role:webapp'). Prints NODE, AVAILABILITY, STATUS; \
            exits 1 if any named node or query could not be found.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("Node names or search queries (containing ':').", valueName: "node|query"))
    var targets: [String] = []

    func run() async throws {
        let client = try connection.makeClient()
        var states: [NodeStateView] = []
        var problems: [String] = []
        if targets.isEmpty {
            states = try await client.nodeStates().sorted { $0.nodeName < $1.nodeName }
        } else {
            var names: [String] = []
            for t in targets {
                if t.contains(":") {
                    let found = try await client.searchNodes(t).compactMap { $0["name"]?.stringValue }
                    if found.isEmpty { problems.append("search '\(t)' matched no nodes") }
                    names += found
                } else {
                    names.append(t)
                }
            }
            var seen = Set<String>()
            for name in names where seen.insert(name).inserted {
                do { states.append(try await client.nodeState(name)) } catch {
                    guard error.status == 404 else { throw error }
                    problems.append("node '\(name)' not found")
                }
            }
        }
        if output.isJSON {
            Output.json(.array(states.map(\.json)))
        } else if !states.isEmpty {
            Output.printTable(["NODE", "AVAILABILITY", "STATUS"], states.map {
                [$0.nodeName, $0.availability.rawValue, $0.status.rawValue]
            })
        } else if problems.isEmpty {
            Output.stderr("no nodes")
        }
        for p in problems { Output.stderr("error: \(p)") }
        if !problems.isEmpty { throw ExitCode(CLIFailure.failureCode) }
    }
}

/// `pushy search node QUERY`
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search the node inventory.", subcommands: [SearchNode.self])
}

struct SearchNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Print the names of the nodes matching a query.",
        discussion: """
            Chef query syntax: 'role:webapp AND NOT chef_environment:dev', wildcards (name:web*), quoted \
            phrases, ranges; nested attributes are flattened with '_'. With --format json prints the \
            matching node objects.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The search query (default: every node).", valueName: "query"))
    var query: String = "*:*"

    func run() async throws {
        let rows = try await connection.makeClient().searchNodes(query)
        if output.isJSON { return Output.json(.array(rows)) }
        for row in rows { if let name = row["name"]?.stringValue { print(name) } }
        if rows.isEmpty { Output.stderr("no nodes matched '\(query)'") }
    }
}
