import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy job rerun JOB_ID [--failed | --all]` (issue 13).
struct JobRerun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerun",
        abstract: "Run a finished job again on its nodes that did not succeed (or only the failed ones, or all).",
        discussion: """
            Starts the same job (command, user, directory, environment, file, capture, run timeout and rate \
            control) on some nodes of a finished job, and waits for it like 'job start'. By default the nodes \
            that did not succeed (failed, crashed, timed out, nacked, unavailable, skipped, ...); --failed \
            takes only those whose command ran and failed (failed, crashed, timed out); --all takes every \
            node. The new job's quorum keeps the original's share of its nodes. The new job records the \
            original as 'rerun_of'. Exit code as for 'job start'.

            Examples:
              pushy job rerun 5f2c...e9
              pushy job rerun 5f2c...e9 --failed --follow
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var wait: WaitOptions

    @Flag(name: .long, help: "Only the nodes whose command failed, crashed or timed out.") var failed = false
    @Flag(name: .long, help: "Every node of the job.") var all = false
    @Flag(name: [.customShort("b"), .long], help: "Print the new job id and exit right after creating it.")
    var nowait = false
    @Flag(name: .long, help: "Show each node's output live (the job must capture output).") var follow = false
    @Option(name: .long, help: ArgumentHelp("Seconds between job status polls (without --follow).", valueName: "seconds"))
    var pollInterval: Double = 1.0

    @Argument(help: ArgumentHelp("The finished job to run again.", valueName: "job-id"))
    var jobId: String

    func validate() throws {
        if failed, all { throw ValidationError("give --failed or --all, not both") }
        guard pollInterval > 0, pollInterval.isFinite else {
            throw ValidationError("--poll-interval must be a positive number of seconds")
        }
        if follow, nowait { throw ValidationError("--follow and --nowait do not go together") }
        if follow, output.isJSON { throw ValidationError("--follow cannot be combined with --format json") }
    }

    var selection: RerunSelection { failed ? .failed : all ? .all : .notSucceeded }

    func run() async throws {
        let client = try connection.makeClient()
        let id = try await client.rerunJob(jobId, nodes: selection)
        if nowait {
            if output.isJSON { Output.json(["id": .string(id), "rerun_of": .string(jobId)]) } else { print("Started.  Job ID: \(id)") }
            return
        }
        let watch = JobWatch(jobID: id, options: wait)
        try await JobStart.waitAndReport(id, client: client, watch: watch, follow: follow, pollInterval: pollInterval,
                                         stall: wait.stall, json: output.isJSON)
    }
}
