import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy job ...`: start, watch, list and abort jobs.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Start, list, inspect and abort jobs.",
        subcommands: [JobStart.self, JobList.self, JobStatusCommand.self, JobAbort.self])
}

/// `pushy job start COMMAND [NODE ...] | --search QUERY`
struct JobStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run a command on a set of nodes and wait for the result.",
        discussion: """
            Name the nodes after the command, or select them with --search (Chef query syntax, e.g. \
            'role:webapp AND chef_environment:prod'); not both. While the job runs, a progress line is \
            shown on stderr; at the end a per-node table (NODE, STATUS, REASON) and a summary line are \
            printed on stdout (with --format json: the final job object).

            Exit code: 0 only when the job ends 'complete' AND every node 'succeeded'; otherwise 1. This \
            is stricter than knife-push, which also exited 0 when nodes were 'nacked' or 'unavailable': \
            a node that never ran the command is a failure for a script that relies on the exit code. \
            With --nowait the exit code only says the job was created.

            Examples:
              pushy job start chef-client --quorum 90% --search 'role:webapp'
              pushy job start echo web1 web2
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Option(name: [.short, .long], help: ArgumentHelp(
        "How many nodes must agree to run before the job starts: a count (3) or a percentage of the nodes (90%).",
        valueName: "N|N%"))
    var quorum: String = "100%"

    @Option(name: [.short, .long], help: ArgumentHelp(
        "Select the nodes with a search query instead of naming them.", valueName: "query"))
    var search: String?

    @Option(name: .long, help: ArgumentHelp(
        "Run timeout in seconds for the command on each node (server default if omitted).", valueName: "seconds"))
    var timeout: Int?

    @Flag(name: [.customShort("b"), .long], help: "Print the job id and exit right after creating the job.")
    var nowait = false

    @Option(name: .long, help: ArgumentHelp("Seconds between job status polls.", valueName: "seconds"))
    var pollInterval: Double = 1.0

    @Flag(name: .long, help: "Ask the nodes to capture the command's stdout and stderr.")
    var capture = false

    @Option(name: .customLong("env"), help: ArgumentHelp(
        "Environment variable for the command (repeatable).", valueName: "KEY=VALUE"))
    var env: [String] = []

    @Option(name: .customLong("in-dir"), help: ArgumentHelp("Working directory for the command on the nodes.", valueName: "dir"))
    var dir: String?

    @Option(name: .customLong("as-user"), help: ArgumentHelp("User to run the command as on the nodes.", valueName: "user"))
    var asUser: String?

    @Option(name: .long, help: ArgumentHelp(
        "Local file sent with the job (at most 100000 bytes); the nodes get its path in CHEF_PUSH_JOB_FILE.",
        valueName: "path"))
    var file: String?

    @Argument(help: ArgumentHelp("The command to run (one argument; quote it if it has spaces).", valueName: "command"))
    var command: String

    @Argument(help: ArgumentHelp("Node names (omit when using --search).", valueName: "node"))
    var nodes: [String] = []

    func run() async throws {
        guard let quorumValue = Quorum.parse(quorum) else {
            throw CLIFailure.usage("Invalid quorum '\(quorum)': use a count like 3 or a percentage like 90%")
        }
        guard pollInterval > 0, pollInterval.isFinite else {
            throw CLIFailure.usage("--poll-interval must be a positive number of seconds")
        }
        if let timeout, timeout < 0 { throw CLIFailure.usage("--timeout must be a number of seconds >= 0") }
        if search != nil, !nodes.isEmpty {
            throw CLIFailure.usage("give either node names or --search, not both")
        }
        if search == nil, nodes.isEmpty {
            throw CLIFailure.usage("no nodes: name them after the command (pushy job start CMD web1 web2) or use --search QUERY")
        }
        if command.isEmpty { throw CLIFailure.usage("the command must not be empty") }
        let environment = try parseEnv()
        let fileBody = try readFile()

        let client = try connection.makeClient()
        var names = nodes
        if let search {
            let rows = try await client.searchNodes(search)
            names = rows.compactMap { $0["name"]?.stringValue }
            guard !names.isEmpty else { throw CLIFailure.failure("search '\(search)' matched no nodes") }
        }
        var seen = Set<String>()
        names = names.filter { seen.insert($0).inserted }

        let request = JobRequest(
            command: command, nodes: names, quorum: .count(quorumValue.resolve(nodeCount: names.count)),
            runTimeout: timeout, user: asUser, dir: dir, env: environment, file: fileBody, captureOutput: capture)
        let id = try await client.startJob(request)
        if nowait {
            if output.isJSON { Output.json(["id": .string(id)]) } else { print("Started.  Job ID: \(id)") }
            return
        }
        Output.stderr("Started.  Job ID: \(id)")
        let job = try await wait(for: id, client: client)
        if output.isJSON { Output.json(job.json) } else { JobReport.printResult(job) }
        if !JobReport.fullySucceeded(job) { throw ExitCode(CLIFailure.failureCode) }
    }

    /// Polls until the job is finished, keeping one progress line up to date on stderr.
    func wait(for id: String, client: PushyRESTClient) async throws -> JobView {
        var progress = ProgressLine()
        defer { progress.finish() }
        while true {
            let job: JobView
            do { job = try await client.job(id) } catch {
                progress.finish()
                throw CLIFailure.failure("\(error.description) (job \(id) may still be running: 'pushy job status \(id)')")
            }
            progress.show(JobReport.progress(job))
            if job.status.isTerminal { return job }
            try await Task.sleep(for: .seconds(pollInterval))
        }
    }

    func parseEnv() throws(CLIFailure) -> [(String, String)]? {
        guard !env.isEmpty else { return nil }
        var out: [(String, String)] = []
        for item in env {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw .usage("invalid --env '\(item)': expected KEY=VALUE")
            }
            out.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
        }
        return out
    }

    /// Reads --file as raw text (`raw:` form); binary files go base64.
    func readFile() throws(CLIFailure) -> String? {
        guard let file else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else { throw .usage("cannot read --file \(file)") }
        guard data.count <= JobRequest.maxFileBytes else {
            throw .usage("--file \(file) is \(data.count) bytes; the limit is \(JobRequest.maxFileBytes)")
        }
        if let text = String(data: data, encoding: .utf8) { return "raw:" + text }
        return "base64:" + data.base64EncodedString()
    }
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
        discussion: "Always exits 0 when the job could be read, whatever its outcome; see 'job start' for the job exit rule.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The job id (printed by 'job start' and 'job list').", valueName: "job-id"))
    var jobId: String

    func run() async throws {
        let job = try await connection.makeClient().job(jobId)
        if output.isJSON { return Output.json(job.json) }
        JobReport.printDetails(job)
        print("")
        JobReport.printResult(job)
    }
}

/// `pushy job abort JOB_ID`
struct JobAbort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort", abstract: "Abort a job that is still voting or running.",
        discussion: "Nodes that are running the command are told to stop it; the job ends 'aborted'.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The job id to abort.", valueName: "job-id"))
    var jobId: String

    func run() async throws {
        let job = try await connection.makeClient().abortJob(jobId)
        if output.isJSON { return Output.json(job.json) }
        print("Job \(job.id) \(job.status.rawValue)")
    }
}
