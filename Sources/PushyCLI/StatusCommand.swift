import ArgumentParser
import PushyAPIClient
import PushyProtocol

/// `pushy status`: is the server up (GET /pushy/_status)?
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Check that the server is up.",
        discussion: "Shows the server's health answer: its incarnation id, connected node count, active jobs, its ZeroMQ connection budget, messages it had to reconcile or store writes it retried, and which libzmq it runs.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let client = try connection.makeClient()
        let status = try await client.status()
        if output.isJSON { return Output.json(status) }
        for line in Self.lines(status, orgURL: client.orgURL) { print(line) }
    }

    /// The health answer in words: one line for the server, one indented line per other field.
    static func lines(_ status: JSONValue, orgURL: String) -> [String] {
        var lines = ["Server \(orgURL): \(status["status"]?.stringValue ?? "up")"]
        for (k, v) in status.objectValue ?? [] where k != "status" {
            if k == "connections", let open = v["open"]?.intValue, let budget = v["budget"]?.intValue {
                // The descriptor budget (issue 5), in words.
                let state = v["refusing"]?.boolValue == true ? " — at budget, refusing new agents" : ""
                lines.append("  connections: \(open) open of \(budget) budgeted (2 per agent)\(state); "
                    + "\(v["refused_total"]?.intValue ?? 0) refused, \(v["accept_failures"]?.intValue ?? 0) accept failures")
                continue
            }
            if k == "reliability", let reconciled = v["reconciliations"]?.intValue {
                // Lost messages put right and store writes retried (issue 11): non-zero means trouble was absorbed.
                lines.append("  reliability: \(reconciled) node(s) reconciled (a lost result), \(v["runs_resent"]?.intValue ?? 0) run(s) resent; "
                    + "\(v["store_write_failures"]?.intValue ?? 0) store write failure(s), \(v["store_writes_pending"]?.intValue ?? 0) pending")
                continue
            }
            if k == "libzmq", let version = v["version"]?.stringValue {
                let builtIn = v["built_in"]?.boolValue == true
                lines.append("  libzmq: \(version)" + (builtIn ? " (built in, lean pipes and buffers)"
                                                            : " (system library: about 4x the memory per agent, see docs/decisions.md)"))
                continue
            }
            let text = v.stringValue ?? (v.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ", ") })
                ?? v.serialized()
            lines.append("  \(k): \(text.isEmpty ? "(none)" : text)")
        }
        return lines
    }
}
