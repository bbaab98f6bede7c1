import Foundation
import PushyAPIClient
import PushyProtocol

/// `job start --follow`: waits for a job by reading its live event feed (spec 2.3) instead of
/// polling. Each node's output is printed as it arrives, one `NODE: ` prefixed line at a time
/// (its stderr on the CLI's stderr); votes, starts and ends are shown as `-- ` lines on stderr.
/// When the feed breaks or stalls (`stallLimit` without a byte, keep-alives included) it resumes
/// from the last event id; a connection that brought nothing is tried again a few times
/// (`FeedRetry`) before the job is polled instead. The caller bounds the whole wait (`JobWatch.bounded`).
struct JobFollower: Sendable {
    let client: PushyRESTClient
    let jobID: String
    let pollInterval: Double
    let stallLimit: Duration
    let watch: JobWatch

    func run() async throws -> JobView {
        var printer = NodeLinePrinter()
        var lastID: String?
        var retry = FeedRetry()
        // The job's run timeout sets the bound; without an answer the feed still decides.
        if let job = try? await client.job(jobID) { watch.saw(job) }
        while true {
            let reason: String
            var progressed = false, final = false
            do {
                for try await event in client.jobFeed(id: jobID, lastEventID: lastID, idleTimeout: stallLimit) {
                    if let id = event.id, id != lastID {
                        lastID = id
                        progressed = true
                    }
                    watch.saw(event: event)
                    if let done = try await handle(event, printer: &printer) { return done }
                }
                // The reader ends quietly when this task is cancelled (Ctrl-C → abort answered first).
                try Task.checkCancellation()
                reason = "the server ended the feed before the job completed"
            } catch let e as PushyClientError {
                reason = e.feedReason
                final = e.status != nil  // an HTTP answer will not change on retry
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                reason = "\(error)"
            }
            try Task.checkCancellation()
            if try await retry.goOn("live feed", reason: reason, progressed: progressed, final: final, lastID: lastID) {
                continue
            }
            printer.flushAll()
            Output.stderr("-- live feed unavailable (\(reason)); polling every \(pollInterval)s instead "
                + "(full output: pushy job output \(jobID) NODE)")
            return try await JobPoller(client: client, jobID: jobID, interval: pollInterval, watch: watch).wait()
        }
    }

    /// Shows one event; returns the final job once the feed says the job is over.
    func handle(_ event: FeedEvent, printer: inout NodeLinePrinter) async throws -> JobView? {
        let d = event.data
        let node = d["node"]?.stringValue ?? "?"
        switch event.name {
        case "output":
            guard let stream = d["stream"]?.stringValue, let text = d["data"]?.stringValue else { return nil }
            let bytes: [UInt8]
            if d["encoding"]?.stringValue == "base64" {
                guard let decoded = Data(base64Encoded: text) else { return nil }
                bytes = Array(decoded)
            } else {
                bytes = Array(text.utf8)
            }
            printer.add(node: node, stderr: stream == "stderr", offset: d["offset"]?.intValue, bytes: bytes)
        case "run_complete":
            printer.flush(node: node)
        case "job_complete", "summary":
            printer.flushAll()
            let job = try await client.job(jobID)
            watch.saw(job)
            if job.status.isTerminal { return job }
            return try await JobPoller(client: client, jobID: jobID, interval: pollInterval, watch: watch).wait()
        default:
            break
        }
        if let note = Self.note(for: event) { Output.stderr(note) }
        return nil
    }

    /// The `-- ` line on stderr for a vote, start, end, rehab or abort (`nil` for other events).
    /// A node's end is noted after its unfinished output line is flushed.
    static func note(for event: FeedEvent) -> String? {
        let d = event.data
        let node = d["node"]?.stringValue ?? "?"
        let status = d["status"]?.stringValue ?? ""
        let why = d["reason"]?.stringValue.map { " (\($0))" } ?? ""
        switch event.name {
        case "quorum_vote":
            return status == "success" ? "-- \(node) is ready" : "-- \(node) did not vote yes: \(status)\(why)"
        case "quorum_succeeded":
            return "-- quorum reached; running"
        case "run_start":
            return "-- \(node) started"
        case "run_complete":
            return "-- \(node) finished: \(status)\(why)"
        case "rehab":
            return "-- \(node) sent to rehab"
        case "aborted":
            return "-- job aborted" + (d["user"]?.stringValue.map { " by \($0)" } ?? "")
        default:
            return nil
        }
    }
}

/// Turns output chunks into whole lines prefixed by the node name. Chunks carry their byte
/// offset in the stream, so a chunk replayed after a reconnect is not printed twice.
struct NodeLinePrinter {
    struct Key: Hashable {
        var node: String
        var stderr: Bool
    }

    private var pending: [Key: [UInt8]] = [:]
    private var seen: [Key: Int] = [:]
    /// Where a finished line goes: (is stderr, bytes). The CLI's own stdout and stderr by default.
    private let sink: (Bool, [UInt8]) -> Void

    init(sink: @escaping (Bool, [UInt8]) -> Void = { isStderr, bytes in
        if isStderr { Output.stderrBytes(bytes) } else { Output.stdoutBytes(bytes) }
    }) {
        self.sink = sink
    }

    mutating func add(node: String, stderr: Bool, offset: Int?, bytes: [UInt8]) {
        let key = Key(node: node, stderr: stderr)
        var chunk = bytes[...]
        if let offset {
            let already = seen[key, default: 0]
            if offset < already { chunk = chunk.dropFirst(min(already - offset, chunk.count)) }
            seen[key] = max(already, offset + bytes.count)
        }
        var buffer = pending[key, default: []]
        buffer.append(contentsOf: chunk)
        var start = buffer.startIndex
        while let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            emit(key, buffer[start..<nl])
            start = nl + 1
        }
        pending[key] = Array(buffer[start...])
    }

    /// Prints a node's unfinished last lines (output that did not end with a newline).
    mutating func flush(node: String) {
        for key in pending.keys where key.node == node { flush(key) }
    }

    mutating func flushAll() {
        for key in Array(pending.keys).sorted(by: { ($0.node, $0.stderr ? 1 : 0) < ($1.node, $1.stderr ? 1 : 0) }) {
            flush(key)
        }
    }

    private mutating func flush(_ key: Key) {
        if let rest = pending[key], !rest.isEmpty { emit(key, rest[...]) }
        pending[key] = nil
    }

    private func emit(_ key: Key, _ line: ArraySlice<UInt8>) {
        var bytes = Array("\(key.node): ".utf8)
        bytes.append(contentsOf: line)
        bytes.append(UInt8(ascii: "\n"))
        sink(key.stderr, bytes)
    }
}
