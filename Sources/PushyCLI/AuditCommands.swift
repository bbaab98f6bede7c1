import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy audit`: the org's audit log (admins only), newest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show who changed what, when and from where (jobs, principals, groups, tokens), newest first.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Option(name: .long, help: ArgumentHelp("How many entries (1-10000).", valueName: "n"))
    var limit = 100

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000") }
    }

    func run() async throws {
        let entries = try await connection.makeClient().audit(limit: limit)
        if output.isJSON {
            return Output.json(.array(entries.map { e in
                [
                    "id": .number(Double(e.id)), "at": .string(e.at), "actor": .string(e.actor),
                    "actor_type": .string(e.actorType), "action": .string(e.action), "target": .string(e.target),
                    "detail": .string(e.detail), "remote_address": .string(e.remoteAddress),
                ]
            }))
        }
        Output.printTable(["TIME", "ACTOR", "ACTION", "TARGET", "FROM", "DETAIL"],
                          entries.map { [$0.at, $0.actor, $0.action, $0.target, $0.remoteAddress, $0.detail] })
    }
}
