import Foundation
import Synchronization

/// A child process driven by lines: commands on its stdin, answers read from its stdout (on a
/// thread of its own), stderr to a log file. Every wait for an answer has a deadline.
final class LineProcess: @unchecked Sendable {
    let name: String
    let logPath: String
    private let process: Process
    private let input: Pipe
    private let lines = Mutex<[String]>([])
    private let ended = Atomic(false)

    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        // A child that died must not take the bench with it when a command is written to it.
        signal(SIGPIPE, SIG_IGN)
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let output = Pipe()
        input = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = log
        try p.run()
        try? log.close()
        process = p
        let handle = output.fileHandleForReading
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lines.withLock { $0.append(line) }
                }
            }
            ended.store(true, ordering: .releasing)
        }
    }

    var pid: Int32 { process.processIdentifier }

    func send(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// The next answer starting with `prefix` (other lines before it are skipped; an `error …`
    /// line fails), within `timeout` seconds.
    func next(_ prefix: String, timeout: Double) async throws -> String {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            let line: String? = lines.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            if let line {
                if line.hasPrefix(prefix) { return line }
                if line.hasPrefix("error") { throw BenchFailure("\(name) answered '\(line)' (log: \(logPath))") }
                continue
            }
            if ended.load(ordering: .acquiring), lines.withLock({ $0.isEmpty }) {
                throw BenchFailure("\(name) ended without answering '\(prefix)' (log: \(logPath))")
            }
            guard ContinuousClock.now < deadline else {
                throw BenchFailure("\(name) did not answer '\(prefix)' within \(timeout) s (log: \(logPath))")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Sends `line` and waits for the answer starting with `prefix`.
    func request(_ line: String, expect prefix: String, timeout: Double = 30) async throws -> String {
        send(line)
        return try await next(prefix, timeout: timeout)
    }

    /// `quit`, then SIGTERM after 5 s and SIGKILL after 10 s if it is still running.
    func stop() async {
        if process.isRunning { send("quit") }
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline {
            if ContinuousClock.now > deadline - .seconds(5) { process.terminate() }
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
