import Foundation
import PushyTestSupport
import Testing

extension TestCluster {
    /// What one `pushy` command did.
    struct CLIRun {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the real `pushy` binary against this cluster (with a deadline) and logs the command
    /// and what it printed, so a test's output reads as a transcript.
    func loggedCLI(_ args: [String]) async throws -> CLIRun {
        let r = try await ProcessRun(cliProcess(args), name: "pushy " + args.joined(separator: " ")).wait()
        let run = CLIRun(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
        print("$ pushy \(args.joined(separator: " "))\n\(run.stdout)\(run.stderr)[exit \(run.status)]\n")
        return run
    }
}
