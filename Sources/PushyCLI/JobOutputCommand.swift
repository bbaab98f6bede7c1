import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// Which captured stream `job output` reads.
enum OutputChannel: String, ExpressibleByArgument, CaseIterable {
    case stdout, stderr
}

/// `pushy job output JOB_ID NODE [--channel stdout|stderr]` (knife job output).
struct JobOutputCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "output",
        abstract: "Print what a node's command wrote, for a job started with --capture (or --follow).",
        discussion: """
            Writes the exact captured bytes to stdout (binary output included, nothing added), so it can \
            be redirected to a file. When the node's agent had to cut the output to fit its message \
            limit, only the tail is kept and a warning is printed on stderr. Exits 1 when nothing was \
            captured for that node.

            Example:
              pushy job output 5f2c...e9 web1 --channel stderr > web1.err
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The job id.", valueName: "job-id"))
    var jobId: String

    @Argument(help: ArgumentHelp("The node whose output to print.", valueName: "node"))
    var node: String

    @Option(name: .long, help: "Which stream to print: stdout or stderr.")
    var channel: OutputChannel = .stdout

    func run() async throws {
        let client = try connection.makeClient()
        let out: JobOutput
        do { out = try await client.jobOutput(id: jobId, node: node, channel: channel.rawValue) } catch {
            guard error.status == 404 else { throw error }
            throw CLIFailure.failure(
                "no output captured for \(node) in job \(jobId) (was the job started with --capture?)")
        }
        Output.stdoutBytes(out.bytes)
        if out.truncated {
            Output.stderr("warning: the \(channel.rawValue) of \(node) was longer than the node could send; "
                + "these are its last \(out.bytes.count) bytes")
        }
    }
}
