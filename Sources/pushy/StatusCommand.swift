import ArgumentParser
import PushyAPIClient
import PushyProtocol

/// `pushy status`: is the server up (GET /pushy/_status)?
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Check that the server is up.",
        discussion: "Shows the server's health answer: its incarnation id, connected node count and active jobs.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let client = try connection.makeClient()
        let status = try await client.status()
        if output.isJSON { return Output.json(status) }
        print("Server \(client.orgURL): \(status["status"]?.stringValue ?? "up")")
        for (k, v) in status.objectValue ?? [] where k != "status" {
            let text = v.stringValue ?? (v.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ", ") })
                ?? v.serialized()
            print("  \(k): \(text.isEmpty ? "(none)" : text)")
        }
    }
}
