import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy job ...`: start, watch, list and abort jobs.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Start, list, inspect and abort jobs.",
        subcommands: [JobStart.self, JobList.self, JobStatusCommand.self, JobOutputCommand.self, JobAbort.self,
                      JobFeedCommand.self, JobRerun.self])
}

/// `pushy job list`
struct JobList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the organization's jobs.",
        discussion: "Prints ID, STATUS, CREATED and COMMAND for each job, or with --format json the job objects.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let jobs = try await connection.makeClient().jobs()
        if output.isJSON { return Output.json(.array(jobs.map(\.json))) }
        if jobs.isEmpty { return Output.stderr("no jobs") }
        Output.printTable(["ID", "STATUS", "CREATED", "COMMAND"], jobs.map {
            [$0.id, $0.status.rawValue, WireTime.iso8601($0.createdAt), $0.command]
        })
    }
}

/// `pushy job status JOB_ID`
struct JobStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show one job and the status of each of its nodes.",
        discussion: """
            Always exits 0 when the job could be read, whatever its outcome; see 'job start' for the job \
            exit rule. --group prints, instead of one line per node, each distinct status and reason once \
            with the nodes that share it, largest group first (for jobs over many nodes).

            Examples:
              pushy job status 5f2c...e9
              pushy job status 5f2c...e9 --group
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Flag(name: .long, help: "Group the nodes by status and reason instead of listing each one.")
    var group = false

    @Argument(help: ArgumentHelp("The job id (printed by 'job start' and 'job list').", valueName: "job-id"))
    var jobId: String

    func run() async throws {
        let job = try await connection.makeClient().job(jobId)
        if output.isJSON { return Output.json(job.json) }
        JobReport.printDetails(job)
        print("")
        print(group ? JobReport.grouped(job) : JobReport.result(job))
    }
}

/// `pushy job abort JOB_ID`
struct JobAbort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort", abstract: "Abort a job that is still voting or running.",
        discussion: """
            The job ends 'aborted' at once; nodes still voting or running are told to stop, and each \
            node's agent kills the command's whole process group (SIGTERM, then SIGKILL after a grace \
            period). Aborting a job that has already finished changes nothing and shows it as it is. \
            Prints the per-node table and summary (with --format json: the job object).
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The job id to abort.", valueName: "job-id"))
    var jobId: String

    func run() async throws {
        let job = try await connection.makeClient().abortJob(jobId)
        if output.isJSON { return Output.json(job.json) }
        JobReport.printResult(job)
    }
}
