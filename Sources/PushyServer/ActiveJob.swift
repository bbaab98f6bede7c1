import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// A job the engine is running or has just finished (kept `waitCompleteTime` for feed readers).
final class ActiveJob {
    let org: String
    var record: JobRecord
    var machine: JobMachine
    /// Feed events so far (`job-1`, `job-2`, ...).
    var events: [FeedEvent] = []
    var subscribers: [UUID: AsyncStream<FeedEvent>.Continuation] = [:]
    var waiters: [CheckedContinuation<Void, Never>] = []
    /// Output per node: live chunks while running (capped), replaced by the final capture.
    var outputs: [String: JobOutputRecord] = [:]

    init(org: String, record: JobRecord, machine: JobMachine) {
        self.org = org
        self.record = record
        self.machine = machine
    }

    @discardableResult
    func append(_ e: JobFeedEvent, at date: Date) -> FeedEvent {
        let data = JSONValue.object([("timestamp", .string(WireTime.feed(date)))] + e.fields)
        let event = FeedEvent(name: e.name, id: "job-\(events.count + 1)", data: data)
        events.append(event)
        return event
    }

    var view: JobView {
        JobView(
            id: record.id, command: record.command, status: machine.status, runTimeout: record.runTimeout,
            createdAt: record.createdAt, updatedAt: record.updatedAt, user: record.user, dir: record.dir,
            env: record.env, captureOutput: record.captureOutput, fileSpecified: record.file != nil,
            quorum: record.quorum, nodes: machine.grouped,
            nodeReasons: machine.nodeNames.compactMap { n in machine.reasons[n].map { (n, $0) } },
            statusReason: machine.statusReason)
    }
}
