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
            Without: 'start' and 'job_complete' of every job in the org, live, until Ctrl-C. \
            --last-event-id resumes after an event seen before (job-N or org-N).
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The job id (omit for the organization's feed).", valueName: "job-id"))
    var jobId: String?

    @Option(name: .long, help: ArgumentHelp("Resume after this event id.", valueName: "id"))
    var lastEventId: String?

    func run() async throws {
        let client = try connection.makeClient()
        let feed = jobId.map { client.jobFeed(id: $0, lastEventID: lastEventId) } ?? client.orgFeed(lastEventID: lastEventId)
        do {
            for try await event in feed {
                var text = "event: \(event.name)\n"
                if let id = event.id { text += "id: \(id)\n" }
                text += "data: \(event.data.serialized())\n\n"
                Output.stdoutBytes(Array(text.utf8))
            }
        } catch let e as PushyClientError {
            if e.status == 404, let jobId { throw CLIFailure.failure("no job \(jobId) in this organization") }
            throw e
        }
    }
}
