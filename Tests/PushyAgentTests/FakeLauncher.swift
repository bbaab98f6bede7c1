import Foundation
@testable import PushyAgent
import Synchronization
import Testing

/// Job processes that never run: each spawn is recorded and "exits" when the test says so,
/// with the output the test gives. Job files and output files are real files in `dir`.
final class FakeLauncher: ProcessLauncher {
    /// One started process.
    struct Spawned: Sendable {
        let jobId: String
        let commandLine: String
        let environment: [String: String]
        let dir: String?
        let handle: ProcessRunner.Handle
        let done: @Sendable (Int32) async -> Void
    }

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    let dir: String
    let spawned = Recorder<Spawned>()
    /// Job ids whose process group was sent SIGTERM.
    let terminated = Recorder<String>()
    /// Command lines `spawn` refuses (as when /bin/sh cannot be started).
    let refuse: Set<String>
    private let nextPid = Mutex<Int32>(900_000)

    init(dir: String, refuse: Set<String> = []) {
        self.dir = dir
        self.refuse = refuse
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func writeJobFile(_ bytes: [UInt8], owner: ProcessRunner.RunAs?) throws -> String {
        let path = dir + "/pushy_file_" + UUID().uuidString
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw Refused(description: "cannot write \(path)")
        }
        return path
    }

    func spawn(jobId: String, commandLine: String, environment: [String: String], dir workDir: String?,
               runAs: ProcessRunner.RunAs?, capture: Bool, jobFile: String?,
               done: @escaping @Sendable (Int32) async -> Void) throws -> ProcessRunner.Handle {
        if refuse.contains(commandLine) { throw Refused(description: "cannot start the job: spawn failed") }
        let pid = nextPid.withLock { $0 += 1; return $0 }
        var out: String?, err: String?
        if capture {
            out = dir + "/pushy_out_\(jobId)"
            err = dir + "/pushy_err_\(jobId)"
            for path in [out, err] { _ = FileManager.default.createFile(atPath: path!, contents: nil) }
        }
        let handle = ProcessRunner.Handle(jobId: jobId, pid: pid, stdoutPath: out, stderrPath: err, jobFile: jobFile)
        spawned.append(Spawned(jobId: jobId, commandLine: commandLine, environment: environment, dir: workDir,
                               handle: handle, done: done))
        return handle
    }

    func terminate(_ handle: ProcessRunner.Handle, grace: Double) {
        terminated.append(handle.jobId)
    }

    /// The job's process writes `stdout` and exits with `status`; returns once the agent has
    /// handled the exit.
    func exit(_ jobId: String, status: Int32, stdout: String = "") async throws {
        let process = try await spawned.first("spawn of \(jobId)") { $0.jobId == jobId }
        if let path = process.handle.stdoutPath {
            _ = FileManager.default.createFile(atPath: path, contents: Data(stdout.utf8))
        }
        await process.done(status)
    }
}
