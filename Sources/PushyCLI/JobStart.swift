import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy job start COMMAND [NODE ...] | --search QUERY` (knife job start, plus --follow).
struct JobStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run a command on a set of nodes and wait for the result.",
        discussion: """
            COMMAND is a whitelist key on the nodes (not a shell line). Name the nodes after the command, \
            or select them with --search (Chef query syntax, e.g. 'role:webapp AND chef_environment:prod'); \
            not both. While the job runs, a progress line is shown on stderr; at the end a per-node table \
            (NODE, STATUS, REASON) and a summary line are printed on stdout (with --format json: the final \
            job object).

            --follow reads the job's live event feed instead of polling: every line the command prints on \
            a node is shown as it happens, prefixed by 'NODE: ' (its stderr on stderr), with votes, starts \
            and ends as '-- ' lines on stderr. It turns --capture on. If the feed breaks, pushy falls back \
            to polling.

            The command on each node sees CHEF_PUSH_NODE_NAME and CHEF_PUSH_JOB_ID, the variables of \
            --with-env/--env (a node overwrites its own variables only when its allowed_overwritable_env_vars \
            lists them), and with --file the path of the file in CHEF_PUSH_JOB_FILE. A node nacks when \
            the --as-user user or the --in-dir directory does not exist there.

            Rate control (docs/jobs.md): --max-concurrency runs at most N (or N% of the nodes) at once; \
            --max-errors stops launching new nodes once N launched nodes did not succeed; --batch-size \
            runs the nodes in batches, each after the previous one ended and --batch-wait seconds passed; \
            --canary runs the first N nodes alone first and stops if any fails. Every node is asked first \
            (the quorum counts as usual); nodes waiting their turn are 'queued', nodes never launched \
            'skipped'. A node's --timeout then counts from its own launch.

            Waiting is bounded: after the job's run timeout plus 120 seconds (the server's voting time \
            comes first, and the client cannot see it) or after --wait-timeout seconds, pushy stops \
            waiting, prints the job's last known status and exits 1; the job itself is left as it is \
            ('pushy job status ID' shows it later). A live feed that sends nothing for 45 seconds, not \
            even the server's keep-alive, is resumed from its last event, or the job is polled.

            Ctrl-C while waiting asks 'Abort job ID? [y/N]' on the terminal: y aborts the job (its \
            processes are killed) and shows the result; anything else keeps waiting. With no terminal at \
            all, Ctrl-C prints how to abort the job later and exits 130, leaving the job running.

            Exit code: 0 only when the job ends 'complete' AND every node 'succeeded'; otherwise 1 (2 for \
            a usage error, 130 after Ctrl-C without a terminal). This is stricter than knife-push, which \
            also exited 0 when nodes were 'nacked' or 'unavailable': a node that never ran the command is \
            a failure for a script that relies on the exit code. With --nowait the exit code only says \
            the job was created.

            Examples:
              pushy job start chef-client --quorum 90% --search 'role:webapp'
              pushy job start deploy web1 --with-env '{"RELEASE":"42"}' --as-user deploy
              pushy job start run-script web1 --file ./script.sh --follow
              pushy job start chef-client web1 web2 --timeout 1800 --wait-timeout 600
              pushy job start restart-app --search 'role:webapp' --batch-size 10% --batch-wait 30 --max-errors 2
              pushy job start chef-client --search 'role:db' --canary 1 --max-concurrency 3
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var wait: WaitOptions
    @OptionGroup var rate: RateOptions

    @Option(name: [.short, .long], help: ArgumentHelp(
        "How many nodes must agree to run before the job starts: a count (3) or a percentage of the nodes "
            + "(90%, rounded up; default 100%).",
        valueName: "N|N%"), transform: { try JobStart.parseQuorum($0) })
    var quorum: Quorum = .percent(100)

    @Option(name: [.short, .long], help: ArgumentHelp(
        "Select the nodes with a search query instead of naming them.", valueName: "query"))
    var search: String?

    @Option(name: .long, help: ArgumentHelp(
        "Run timeout in seconds: a node still running the command then is marked timed_out and its agent "
            + "kills the command's process group (server default 3600 if omitted).",
        valueName: "seconds"))
    var timeout: Int?

    @Flag(name: [.customShort("b"), .long], help: "Print the job id and exit right after creating the job.")
    var nowait = false

    @Option(name: .long, help: ArgumentHelp("Seconds between job status polls (without --follow).", valueName: "seconds"))
    var pollInterval: Double = 1.0

    @Flag(name: .long, help: ArgumentHelp(
        "Show each node's output live, prefixed by the node name, instead of polling (implies --capture)."))
    var follow = false

    @Flag(name: .long, help: ArgumentHelp(
        "Keep the command's stdout and stderr on the server; read them with 'pushy job output ID NODE'."))
    var capture = false

    @Option(name: .customLong("with-env"), help: ArgumentHelp(
        #"Environment for the command as a JSON object of strings, e.g. '{"RELEASE":"42","MODE":"fast"}'."#,
        valueName: "json"), transform: { try EnvVariable.parseObject($0) })
    var withEnv: [EnvVariable]?

    @Option(name: .customLong("env"), help: ArgumentHelp(
        "One environment variable for the command (repeatable; wins over the same key in --with-env).",
        valueName: "KEY=VALUE"), transform: { try EnvVariable.parse($0) })
    var env: [EnvVariable] = []

    @Option(name: .customLong("in-dir"), help: ArgumentHelp(
        "Working directory for the command on the nodes (a node nacks if it does not exist).", valueName: "dir"))
    var dir: String?

    @Option(name: .customLong("as-user"), help: ArgumentHelp(
        "User to run the command as on the nodes (a node nacks if there is no such user).", valueName: "user"))
    var asUser: String?

    @Option(name: .long, help: ArgumentHelp(
        "Local file sent with the job (at most 100000 bytes); each node writes it to a temporary file whose "
            + "path is in CHEF_PUSH_JOB_FILE. Sent as 'raw:' text like knife does, or as 'base64:' when the "
            + "file is not valid UTF-8 (binary files arrive byte for byte).",
        valueName: "path"))
    var file: String?

    @Argument(help: ArgumentHelp("The command to run: a whitelist key on the nodes (quote it if it has spaces).",
                                 valueName: "command"))
    var command: String

    @Argument(help: ArgumentHelp("Node names (omit when using --search).", valueName: "node"))
    var nodes: [String] = []

    /// The checks that need more than one option; each value was checked as it was parsed.
    func validate() throws {
        guard pollInterval > 0, pollInterval.isFinite else {
            throw ValidationError("--poll-interval must be a positive number of seconds")
        }
        if let timeout, timeout < 0 { throw ValidationError("--timeout must be a number of seconds >= 0") }
        if search != nil, !nodes.isEmpty {
            throw ValidationError("give either node names or --search, not both")
        }
        if search == nil, nodes.isEmpty {
            throw ValidationError("no nodes: name them after the command (pushy job start CMD web1 web2) or use --search QUERY")
        }
        if command.isEmpty { throw ValidationError("the command must not be empty") }
        if follow, nowait { throw ValidationError("--follow and --nowait do not go together") }
        if follow, output.isJSON {
            throw ValidationError("--follow prints live output and cannot be combined with --format json")
        }
        if let file {
            do { _ = try Self.fileBody(file) } catch { throw ValidationError(error.message) }
        }
    }

    func run() async throws {
        var fileBody: String?
        if let file { fileBody = try Self.fileBody(file) }  // checked by validate(); read again here
        let client = try connection.makeClient()
        var names = nodes
        if let search {
            let rows = try await client.searchNodes(search)
            names = rows.compactMap { $0["name"]?.stringValue }
            guard !names.isEmpty else { throw CLIFailure.failure("search '\(search)' matched no nodes") }
        }
        var seen = Set<String>()
        names = names.filter { seen.insert($0).inserted }

        let id = try await client.startJob(request(nodes: names, file: fileBody))
        if nowait {
            if output.isJSON { Output.json(["id": .string(id)]) } else { print("Started.  Job ID: \(id)") }
            return
        }
        let watch = JobWatch(jobID: id, options: wait, runTimeout: timeout, rateControl: rate.rateControl,
                             nodeCount: names.count)
        try await Self.waitAndReport(id, client: client, watch: watch, follow: follow, pollInterval: pollInterval,
                                     stall: wait.stall, json: output.isJSON)
    }

    /// Waits for a started job (live feed or polls, bounded by `watch`, Ctrl-C asks), prints
    /// the result and exits by the job exit rule. Shared with `job rerun`.
    static func waitAndReport(_ id: String, client: PushyRESTClient, watch: JobWatch, follow: Bool,
                              pollInterval interval: Double, stall: Duration, json: Bool) async throws {
        let job = try await AbortOnInterrupt.wait(jobID: id, client: client) {
            // Printed once Ctrl-C is handled, so a script that waits for this line can interrupt safely.
            Output.stderr("Started.  Job ID: \(id)")
            return try await watch.bounded {
                if follow {
                    return try await JobFollower(client: client, jobID: id, pollInterval: interval, stallLimit: stall,
                                                 watch: watch).run()
                }
                return try await JobPoller(client: client, jobID: id, interval: interval, watch: watch).wait()
            }
        }
        if json { Output.json(job.json) } else { JobReport.printResult(job) }
        if !JobReport.fullySucceeded(job) { throw ExitCode(CLIFailure.failureCode) }
    }

    /// The job to start on `names` (the named nodes, or those --search found), with the quorum
    /// as a count (the wire form) and `file` the --file body.
    func request(nodes names: [String], file: String?) -> JobRequest {
        JobRequest(
            command: command, nodes: names, quorum: .count(quorum.resolve(nodeCount: names.count)),
            runTimeout: timeout, user: asUser, dir: dir, env: Self.environment(withEnv: withEnv, env: env), file: file,
            captureOutput: capture || follow, rateControl: rate.rateControl)
    }
}
