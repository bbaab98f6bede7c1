import ArgumentParser
import Foundation
import PushyAPIClient

/// The `pushy` operator CLI: start and watch jobs, inspect nodes, manage node identities.
/// It talks to the server only through `PushyRESTClient` (never imports server modules).
/// The executable only calls `Pushy.main()`; tests parse with `Pushy.parseCommand(_:)`.
public struct Pushy: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "pushy",
        abstract: "Run commands on many nodes through a Pushy server.",
        discussion: """
            Every command needs the server's org URL, a user name and that user's private key. They come \
            from --server-url/--user/--key, else PUSHY_SERVER_URL/PUSHY_USER/PUSHY_KEY, else a JSON config \
            file ({"server_url": ..., "user": ..., "key": ...}) named by --config, else PUSHY_CONFIG, else \
            ~/.pushy/config.json. 'pushy-server init' writes one to DATA_DIR/cli.json.

            Exit codes: 0 success, 1 server or job failure, 2 usage or configuration problem.
            """,
        subcommands: [JobCommand.self, NodeCommand.self, SearchCommand.self, ClientCommand.self, StatusCommand.self,
                      OrgCommand.self, UserCommand.self, GroupCommand.self, TokenCommand.self, AuditCommand.self,
                      TemplateCommand.self, DashboardCommand.self, ScheduleCommand.self, PlanCommand.self])

    /// Runs the command and turns every error into `error: <message>` on stderr with the
    /// documented exit code (2 usage/config, 1 server/job), never a stack trace.
    public static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseCommand(Array(CommandLine.arguments.dropFirst()))
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            Output.stderr(usageMessage(for: error))
            Foundation.exit(CLIFailure.usageCode)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch let failure as CLIFailure {
            Output.stderr("error: \(failure.message)")
            Foundation.exit(failure.code)
        } catch let clientError as PushyClientError {
            Output.stderr("error: \(clientError.description)")
            Foundation.exit(CLIFailure.exitCode(for: clientError))
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // help for a command group
            Output.stderr("error: \(message(for: error))")
            Foundation.exit(CLIFailure.failureCode)
        }
        Foundation.exit(0)
    }
}

extension Pushy {
    /// Parses a command line (without the program name) into the command to run, with
    /// argument checks done (`validate()`); connection flags may come before the subcommand.
    static func parseCommand(_ arguments: [String]) throws -> any ParsableCommand {
        try parseAsRoot(ConnectionOptions.hoisted(arguments))
    }

    /// What a parse failure prints: `error: <message>`, then the usage and where to find help.
    static func usageMessage(for error: any Error) -> String {
        let text = fullMessage(for: error)
        return text.hasPrefix("Error: ") ? "error: " + text.dropFirst("Error: ".count) : text
    }
}
