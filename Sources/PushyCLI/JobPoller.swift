import Foundation
import PushyAPIClient
import PushyProtocol

/// Waits for a job by polling GET jobs/ID, keeping one progress line up to date on stderr
/// (knife-push's way; also the fallback when the live feed is unavailable). Each poll is a long
/// poll (`?wait=`, a Pushy extension) of about one interval, so the end is seen at once rather
/// than up to an interval late; a server that ignores `wait` is simply polled every interval.
/// Each answer is reported to `watch`, whose bound (`JobWatch.bounded`) ends the wait.
struct JobPoller: Sendable {
    let client: PushyRESTClient
    let jobID: String
    let interval: Double
    let watch: JobWatch

    func wait() async throws -> JobView {
        var progress = ProgressLine()
        defer { progress.finish() }
        while true {
            let job: JobView
            let asked = ContinuousClock.now
            do { job = try await client.job(jobID, wait: min(20, max(1, Int(interval.rounded(.up))))) } catch {
                progress.finish()
                throw CLIFailure.failure(
                    "\(error.description) (job \(jobID) may still be running: 'pushy job status \(jobID)')")
            }
            watch.saw(job)
            progress.show(JobReport.progress(job))
            if job.status.isTerminal { return job }
            let rest = Duration.seconds(interval) - asked.duration(to: .now)
            if rest > .zero { try await Task.sleep(for: rest) }
        }
    }
}
