import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy job feed [JOB_ID] [--last-event-id ID]`: the raw server-sent events of a job or of the org.
struct JobFeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Print the live event feed of a job, or of every job in the organization.",
        discussion: """
            Prints each event as the server sends it ('event:', 'id:' and 'data:' lines, then a blank \
            line). With a job id: the job's whole history, then live events, ending after job_complete. \
            Without: 'start' and 'job_complete' of every job in the org, live, until Ctrl-C (or \
            --wait-timeout). --last-event-id resumes after an event seen before (job-N or org-N).

            A feed that breaks, or sends nothing for 45 seconds (not even the server's keep-alive), is \
            resumed after the last event printed ('-- ' notes on stderr). A job's feed that cannot be \
            resumed is replaced by polling the job; its end is then printed as one 'summary' event with \
            the job object, as the server does for a job that has ended. Waiting for a job is bounded \
            by its run timeout plus 120 seconds, or --wait-timeout: then pushy exits 1 with the job's \
            last known status.

            Examples:
              pushy job feed 2cbd7f9a7c0f4e3a9d1e5b6c7d8e9f00
              pushy job feed --wait-timeout 3600 > org-events.txt
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var wait: WaitOptions

    @Argument(help: ArgumentHelp("The job id (omit for the organization's feed).", valueName: "job-id"))
    var jobId: String?

    @Option(name: .long, help: ArgumentHelp("Resume after this event id.", valueName: "id"))
    var lastEventId: String?

    func run() async throws {
        let client = try connection.makeClient()
        guard let jobId else { return try await orgFeed(client) }
        let watch = JobWatch(jobID: jobId, options: wait)
        let first = lastEventId, stall = wait.stall
        _ = try await watch.bounded {
            // The job's run timeout sets the bound (a 404 here is the clearest "no such job").
            do { watch.saw(try await client.job(jobId)) } catch let error as PushyClientError {
                if error.status == 404 { throw CLIFailure.failure("no job \(jobId) in this organization") }
                throw error
            }
            return try await Self.follow(client, jobID: jobId, after: first, stallLimit: stall, watch: watch)
        }
    }

    static func emit(_ event: FeedEvent) {
        Output.stdoutBytes(Array(text(event).utf8))
    }

    /// An event as the server sent it: `event:`, `id:` (if any) and `data:` lines, then a blank line.
    static func text(_ event: FeedEvent) -> String {
        var text = "event: \(event.name)\n"
        if let id = event.id { text += "id: \(id)\n" }
        return text + "data: \(event.data.serialized())\n\n"
    }

    /// The job's events until the server ends the feed; resumed after a break or stall
    /// (`FeedRetry`: a connection that brought nothing is tried a few times), else the job is
    /// polled to its end.
    static func follow(_ client: PushyRESTClient, jobID: String, after first: String?, stallLimit: Duration,
                       watch: JobWatch) async throws -> JobView {
        var lastID = first, retry = FeedRetry()
        while true {
            var progressed = false
            let reason: String
            do {
                for try await event in client.jobFeed(id: jobID, lastEventID: lastID, idleTimeout: stallLimit) {
                    emit(event)
                    watch.saw(event: event)
                    if let id = event.id, id != lastID {
                        lastID = id
                        progressed = true
                    }
                }
                try Task.checkCancellation()
                // The server ends a job's feed after job_complete (or its one summary).
                let job = try await client.job(jobID)
                watch.saw(job)
                if job.status.isTerminal { return job }
                reason = "the server ended the feed before the job ended"
            } catch let e as PushyClientError {
                if e.status == 404 { throw CLIFailure.failure("no job \(jobID) in this organization") }
                if e.status != nil { throw e }
                reason = e.feedReason
            }
            try Task.checkCancellation()
            if try await retry.goOn("feed", reason: reason, progressed: progressed, final: false, lastID: lastID) {
                continue
            }
            Output.stderr("-- feed unavailable (\(reason)); polling job \(jobID) until it ends")
            let job = try await JobPoller(client: client, jobID: jobID, interval: 1, watch: watch).wait()
            var fields = job.json.objectValue ?? []
            fields.insert(("timestamp", .string(WireTime.feed(Date()))), at: 0)
            emit(FeedEvent(name: "summary", id: nil, data: .object(fields)))
            return job
        }
    }

    /// The org's feed never ends by itself: it runs until Ctrl-C, or for --wait-timeout seconds
    /// (then exits 0: the asked-for end, not a failure).
    func orgFeed(_ client: PushyRESTClient) async throws {
        let first = lastEventId, stall = wait.stall
        guard let limit = wait.waitTimeout else { return try await Self.orgEvents(client, after: first, stallLimit: stall) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await Self.orgEvents(client, after: first, stallLimit: stall) }
            group.addTask { try await Task.sleep(for: .milliseconds(Int64(limit * 1000))) }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// Prints the org's events, resuming after every break; gives up after three attempts in a
    /// row that brought no event and lasted less than twice the stall limit.
    static func orgEvents(_ client: PushyRESTClient, after first: String?, stallLimit: Duration) async throws {
        var lastID = first, failures = 0
        while true {
            let began = ContinuousClock.now
            var progressed = false
            let reason: String
            do {
                for try await event in client.orgFeed(lastEventID: lastID, idleTimeout: stallLimit) {
                    emit(event)
                    if let id = event.id { lastID = id }
                    progressed = true
                }
                reason = "the server ended the feed"
            } catch let e as PushyClientError {
                if e.status != nil { throw e }
                reason = e.feedReason
            }
            try Task.checkCancellation()
            failures = progressed || began.duration(to: .now) > stallLimit * 2 ? 0 : failures + 1
            if failures >= 3 { throw CLIFailure.failure("the organization's feed keeps failing: \(reason)") }
            Output.stderr("-- feed interrupted (\(reason)); resuming" + (lastID.map { " after event \($0)" } ?? ""))
            // A pause before reconnecting to a server that answered nothing useful.
            if !progressed { try await Task.sleep(for: .seconds(1)) }
        }
    }
}
