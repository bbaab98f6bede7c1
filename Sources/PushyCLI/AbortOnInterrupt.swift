import Foundation
import PushyAPIClient
import PushyProtocol

/// Waiting for a job where Ctrl-C means "ask whether to abort it" rather than "leave the job
/// running unseen": y sends PUT jobs/ID/abort and returns the aborted job; anything else keeps
/// waiting. Without any terminal to ask on, Ctrl-C says how to abort later and exits 130.
enum AbortOnInterrupt {
    /// The shell's code for "ended by SIGINT".
    static let interruptedCode: Int32 = 130

    static func wait(jobID: String, client: PushyRESTClient,
                     _ waiting: @escaping @Sendable () async throws -> JobView) async throws -> JobView {
        let (requests, continuation) = AsyncStream<Void>.makeStream()
        defer { continuation.finish() }
        return try await withInterruptHandler({ ask(jobID: jobID, then: continuation) }) {
            try await withThrowingTaskGroup(of: JobView?.self) { group in
                group.addTask { try await waiting() }
                group.addTask {
                    for await _ in requests {
                        do {
                            let job = try await client.abortJob(jobID)
                            if job.status.isTerminal { return job }
                            Output.stderr("Abort requested; job \(jobID) is \(job.status.rawValue)")
                        } catch {
                            Output.stderr("error: cannot abort job \(jobID): \(error)")
                        }
                    }
                    return nil
                }
                while let result = try await group.next() {
                    if let job = result {
                        group.cancelAll()
                        return job
                    }
                }
                throw CLIFailure.failure("stopped waiting for job \(jobID)")
            }
        }
    }

    /// Runs on the SIGINT queue: asks on the terminal and forwards a yes.
    static func ask(jobID: String, then continuation: AsyncStream<Void>.Continuation) {
        guard let tty = Terminal.open() else {
            Output.stderr("\njob \(jobID) is still running; abort it with: pushy job abort \(jobID)")
            exit(interruptedCode)
        }
        defer { tty.close() }
        let answer = tty.ask("\nAbort job \(jobID)? [y/N] ")?.trimmingCharacters(in: .whitespaces).lowercased()
        if answer == "y" || answer == "yes" {
            tty.write("Aborting job \(jobID)...\n")
            continuation.yield()
        } else {
            tty.write("Still waiting for job \(jobID) (Ctrl-C to ask again).\n")
        }
    }
}
