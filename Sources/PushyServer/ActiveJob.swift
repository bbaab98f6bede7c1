import Foundation
import PushyCore
import PushyProtocol
import PushyStore

/// A job the engine is running or has just finished (kept `waitCompleteTime` for feed readers).
final class ActiveJob {
    let org: String
    var record: JobRecord
    var machine: JobMachine
    /// Feed events so far, with their sequence number (`job-N` ids) and timestamp.
    var events: [(id: Int, name: String, data: JSONValue)] = []
    var waiters: [CheckedContinuation<Void, Never>] = []

    init(org: String, record: JobRecord, machine: JobMachine) {
        self.org = org
        self.record = record
        self.machine = machine
    }

    func append(_ e: JobFeedEvent, at date: Date) {
        let data = JSONValue.object([("timestamp", .string(WireTime.feed(date)))] + e.fields)
        events.append((events.count + 1, e.name, data))
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
