import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// A job the engine is running or has just finished (kept `waitCompleteTime` for feed readers,
/// and until its rows are durable). Its status lives in `machine` alone; `record` holds what the
/// request fixed (command, user, env, ...) and is not updated.
final class ActiveJob {
    let org: String
    let record: JobRecord
    var machine: JobMachine
    /// Feed events so far (`job-1`, `job-2`, ...).
    var events: [FeedEvent] = []
    /// Live readers of the feed, each with what it keeps (`?output=`), so that events it would
    /// drop never fill its buffer.
    var subscribers: [UUID: (continuation: AsyncStream<FeedEvent>.Continuation, keep: @Sendable (FeedEvent) -> Bool)] = [:]
    /// Readers waiting for the job to end (`GET /jobs/ID?wait=SECONDS`).
    var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
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

    /// A copy of the job's state for readers; cheap to take (copy-on-write), built into a view
    /// off the engine's actor.
    var snapshot: ActiveJobSnapshot { ActiveJobSnapshot(record: record, machine: machine) }
}

/// An active job's record and state machine as they were at one moment. Readers turn it into
/// a `JobView` on their own task, so a large job's view never blocks the engine.
public struct ActiveJobSnapshot: Sendable {
    let record: JobRecord
    let machine: JobMachine

    public var id: String { record.id }

    /// The job as the REST API shows it; `includeNodes: false` leaves out the per-node groups.
    public func view(includeNodes: Bool = true) -> JobView {
        JobView(
            id: record.id, command: record.command, status: machine.status, runTimeout: record.runTimeout,
            createdAt: record.createdAt, updatedAt: Date(timeIntervalSince1970: machine.updatedAt.rounded(.down)),
            user: record.user, dir: record.dir,
            env: record.env, captureOutput: record.captureOutput, fileSpecified: record.file != nil,
            quorum: record.quorum, nodes: includeNodes ? machine.grouped : nil,
            nodeReasons: includeNodes ? machine.nodeNames.compactMap { n in machine.reasons[n].flatMap { $0.isEmpty ? nil : (n, $0) } } : nil,
            statusReason: machine.statusReason, rateControl: record.rateControl, rerunOf: record.rerunOf,
            template: record.template, templateVersion: record.templateVersion, origin: record.origin)
    }
}
