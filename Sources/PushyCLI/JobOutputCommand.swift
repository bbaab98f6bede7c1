import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// Which captured stream `job output` reads.
enum OutputChannel: String, ExpressibleByArgument, CaseIterable {
    case stdout, stderr
}

/// `pushy job output JOB_ID NODE [--channel stdout|stderr]` (knife job output), or
/// `pushy job output JOB_ID --group`: each distinct output once with its nodes (issue 13).
struct JobOutputCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "output",
        abstract: "Print what a node's command wrote, for a job started with --capture (or --follow).",
        discussion: """
            Writes the exact captured bytes to stdout (binary output included, nothing added), so it can \
            be redirected to a file. When the node's agent had to cut the output to fit its message \
            limit, only the tail is kept and a warning is printed on stderr. Exits 1 when nothing was \
            captured for that node.

            With --group (and no NODE), every node's output is compared byte for byte and each distinct \
            output is printed once under a line naming how many nodes, and which, produced it, the largest \
            group first: stdout, then stderr (only one with --channel). Nodes with nothing captured are \
            listed last.

            Examples:
              pushy job output 5f2c...e9 web1 --channel stderr > web1.err
              pushy job output 5f2c...e9 --group
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The job id.", valueName: "job-id"))
    var jobId: String

    @Argument(help: ArgumentHelp("The node whose output to print (omit with --group).", valueName: "node"))
    var node: String?

    @Option(name: .long, help: "Which stream to print: stdout or stderr (with --group: both unless given).")
    var channel: OutputChannel?

    @Flag(name: .long, help: "Print each distinct output once, with the nodes that produced it.")
    var group = false

    @OptionGroup var output: FormatOptions

    func validate() throws {
        if group, node != nil { throw ValidationError("--group shows every node's output: leave out the node name") }
        if !group, node == nil { throw ValidationError("name the node whose output to print, or use --group for all of them") }
        if !group, output.isJSON { throw ValidationError("--format json goes with --group (one node's output is printed as bytes)") }
    }

    func run() async throws {
        let client = try connection.makeClient()
        guard let node else {
            let grouped = try await client.groupedOutput(jobId)
            if output.isJSON { return Output.json(grouped) }
            let streams = channel.map { [$0] } ?? OutputChannel.allCases
            return print(Self.groupedText(grouped, streams: streams), terminator: "")
        }
        let channel = channel ?? .stdout
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

    /// The text of `--group`: per stream, "== stdout: 998 nodes (web1, ...):" then the bytes.
    static func groupedText(_ grouped: JSONValue, streams: [OutputChannel]) -> String {
        var text = ""
        for stream in streams {
            for g in grouped[stream.rawValue]?.arrayValue ?? [] {
                let nodes = g["nodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
                var head = "== \(stream.rawValue): \(JobReport.nodeList(nodes))"
                if g["truncated"]?.boolValue == true { head += " (the tail of a longer output)" }
                var body = g["data"]?.stringValue ?? ""
                if g["encoding"]?.stringValue == "base64" {
                    body = "(\(Data(base64Encoded: body)?.count ?? 0) bytes of binary output; print one with 'pushy job output ID NODE')\n"
                } else if body.isEmpty {
                    body = "(empty)\n"
                } else if !body.hasSuffix("\n") {
                    body += "\n"
                }
                text += head + "\n" + body
            }
        }
        let none = grouped["no_output"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if !none.isEmpty { text += "== nothing captured: \(JobReport.nodeList(none))\n" }
        return text
    }
}
