import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// Captured and live output (spec 2.3 output endpoints, spec 12 point 8).
extension CommandEngine {
    /// A live `output` chunk from a running job: kept (up to `outputCap` per stream) and sent
    /// to feed readers as an `output` event.
    func receiveOutput(_ msg: AgentMessage, key: NodeKey) {
        guard let jid = msg.jobId, let job = jobs[jid], job.org == key.org,
              let state = job.machine.nodes[key.node], state == .running || state == .ready
        else { return drop("output_for_unknown_job", "\(key.org)/\(key.node)") }
        guard let stream = msg.stream, stream == "stdout" || stream == "stderr",
              let bytes = msg.bytes(of: msg.data)
        else { return drop("bad_output", "\(key.org)/\(key.node)") }
        keepOutput(job, node: key.node, stream: stream, bytes, offset: msg.offset)
    }

    /// A live chunk of a node of `job`: kept (a node held here) and sent to feed readers. A
    /// chunk relayed by the server that holds the node is only fed: that server saves the
    /// node's final capture, which `GET output` must find rather than a copy of the live one.
    func keepOutput(_ job: ActiveJob, node: String, stream: String, _ bytes: [UInt8], offset: Int?, relayed: Bool = false) {
        func feed(offset: Int) {
            record(JobFeedEvent("output", [
                ("node", .string(node)), ("stream", .string(stream)), ("offset", .number(Double(offset))),
                ("data", .string(Data(bytes).base64EncodedString())), ("encoding", "base64"),
            ]), job: job, at: Date())
        }
        if relayed { return feed(offset: offset ?? 0) }
        var rec = job.outputs[node] ?? JobOutputRecord(jobId: job.record.id, node: node, stdout: [], stderr: [])
        let have = stream == "stdout" ? rec.stdout.count : rec.stderr.count
        let room = max(0, config.outputCap - have)
        let kept = Array(bytes.prefix(room))
        if stream == "stdout" {
            rec.stdout += kept
            if kept.count < bytes.count { rec.stdoutTruncated = true }
        } else {
            rec.stderr += kept
            if kept.count < bytes.count { rec.stderrTruncated = true }
        }
        job.outputs[node] = rec
        feed(offset: offset ?? have)
    }

    /// The final capture carried by `succeeded`/`failed`: replaces live output and is stored.
    func receiveFinalOutput(_ msg: AgentMessage, key: NodeKey, job: ActiveJob) {
        guard msg.stdout != nil || msg.stderr != nil else { return }
        let rec = JobOutputRecord(
            jobId: job.record.id, node: key.node, stdout: msg.bytes(of: msg.stdout) ?? [],
            stderr: msg.bytes(of: msg.stderr) ?? [], stdoutTruncated: msg.stdoutTruncated ?? false,
            stderrTruncated: msg.stderrTruncated ?? false)
        job.outputs[key.node] = rec
        let store = self.store
        enqueueWrite(jobs: [job.record.id], "output of \(key.node) in job \(job.record.id)") { try await store.saveOutput(rec) }
    }

    /// A job's node names in request order, while it is held in memory.
    public func activeJobNodeOrder(org: String, id: String) -> [String]? {
        guard let job = jobs[id], job.org == org else { return nil }
        return job.machine.nodeNames
    }

    /// Every node's output of a job held in memory (empty: ask the store).
    public func activeOutputs(org: String, jobId: String) -> [JobOutputRecord] {
        guard let job = jobs[jobId], job.org == org else { return [] }
        return Array(job.outputs.values)
    }

    /// Output of a node in a job held in memory (nil: ask the store).
    public func activeOutput(org: String, jobId: String, node: String) -> JobOutputRecord? {
        guard let job = jobs[jobId], job.org == org else { return nil }
        return job.outputs[node]
    }
}
