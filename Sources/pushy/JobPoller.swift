import Foundation
import PushyAPIClient
import PushyProtocol

/// Waits for a job by polling GET jobs/ID, keeping one progress line up to date on stderr
/// (knife-push's way; also the fallback when the live feed is unavailable).
struct JobPoller: Sendable {
    let client: PushyRESTClient
    let jobID: String
    let interval: Double

    func wait() async throws -> JobView {
        var progress = ProgressLine()
        defer { progress.finish() }
        while true {
            let job: JobView
            do { job = try await client.job(jobID) } catch {
                progress.finish()
                throw CLIFailure.failure(
                    "\(error.description) (job \(jobID) may still be running: 'pushy job status \(jobID)')")
            }
            progress.show(JobReport.progress(job))
            if job.status.isTerminal { return job }
            try await Task.sleep(for: .seconds(interval))
        }
    }
}
