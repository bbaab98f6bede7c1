import Foundation
import PushyProtocol

/// How jobs are shown to people: progress lines, per-node tables, summaries, and the exit rule.
enum JobReport {
    /// Pushy's exit rule: the job completed and every node succeeded.
    static func fullySucceeded(_ job: JobView) -> Bool {
        guard job.status == .complete, let nodes = job.nodes, job.nodeCount > 0 else { return false }
        return nodes.allSatisfy { $0.0 == .succeeded || $0.1.isEmpty }
    }

    /// One line for the live progress display.
    static func progress(_ job: JobView) -> String {
        let n = job.nodeCount
        switch job.status {
        case .new:
            return "new: \(n) nodes"
        case .voting:
            return "voting: \(n - job.count(.new))/\(n) voted"
        case .running:
            let running = job.count(.new) + job.count(.ready) + job.count(.running)
            let queued = job.count(.queued), notLaunched = job.count(.skipped)
            let skipped = job.count(.nacked) + job.count(.unavailable)
            let failed = n - running - queued - notLaunched - skipped - job.count(.succeeded)
            var line = "running: \(running) running, "
            if queued > 0 { line += "\(queued) queued, " }
            line += "\(job.count(.succeeded)) succeeded, \(failed) failed"
            if skipped > 0 { line += ", \(skipped) nacked/unavailable" }
            if notLaunched > 0 { line += ", \(notLaunched) skipped" }
            return line + " of \(n)"
        default:
            return "\(job.status.rawValue): " + counts(job)
        }
    }

    /// `N succeeded, N failed` plus every other non-empty node status.
    static func counts(_ job: JobView) -> String {
        var parts = ["\(job.count(.succeeded)) succeeded", "\(job.count(.failed)) failed"]
        for s in NodeJobStatus.allCases where s != .succeeded && s != .failed && job.count(s) > 0 {
            parts.append("\(job.count(s)) \(s.rawValue)")
        }
        return parts.joined(separator: ", ")
    }

    static func summary(_ job: JobView) -> String {
        var line = "Job \(job.id) \(job.status.rawValue): \(counts(job))"
        if let reason = job.statusReason, !reason.isEmpty { line += " (\(reason))" }
        return line
    }

    /// The NODE STATUS REASON table and the summary line.
    static func printResult(_ job: JobView) {
        print(result(job))
    }

    /// The NODE STATUS REASON table (nodes by name) and the summary line.
    static func result(_ job: JobView) -> String {
        let reasons = Dictionary(job.nodeReasons ?? [], uniquingKeysWith: { a, _ in a })
        let rows = (job.nodes ?? []).flatMap { status, names in names.map { ($0, status) } }
            .sorted { $0.0 < $1.0 }
            .map { [$0.0, $0.1.rawValue, reasons[$0.0] ?? ""] }
        if rows.isEmpty { return summary(job) }
        return Output.table(["NODE", "STATUS", "REASON"], rows) + "\n" + summary(job)
    }

    /// Each distinct (status, reason) once with its nodes, largest group first, then the summary.
    static func grouped(_ job: JobView) -> String {
        let reasons = Dictionary(job.nodeReasons ?? [], uniquingKeysWith: { a, _ in a })
        var groups: [(key: String, nodes: [String])] = []
        var index: [String: Int] = [:]
        for (status, names) in job.nodes ?? [] {
            for n in names.sorted() {
                let key = status.rawValue + (reasons[n].map { ": " + $0 } ?? "")
                if let i = index[key] { groups[i].nodes.append(n) } else {
                    index[key] = groups.count
                    groups.append((key, [n]))
                }
            }
        }
        let lines = groups.enumerated()
            .sorted { $0.element.nodes.count != $1.element.nodes.count ? $0.element.nodes.count > $1.element.nodes.count : $0.offset < $1.offset }
            .map { "\(nodeList($0.element.nodes)) \($0.element.key)" }
        return (lines + [summary(job)]).joined(separator: "\n")
    }

    /// "1 node (web1):", "3 nodes (a, b, c):", "998 nodes (web1, web2, web3, web4, web5, ... 993 more):".
    static func nodeList(_ nodes: [String], shown: Int = 5) -> String {
        let names = nodes.prefix(shown).joined(separator: ", ") + (nodes.count > shown ? ", ... \(nodes.count - shown) more" : "")
        return "\(nodes.count) node\(nodes.count == 1 ? "" : "s") (\(names)):"
    }

    static func printDetails(_ job: JobView) {
        print(details(job))
    }

    /// The job's own fields, one per line.
    static func details(_ job: JobView) -> String {
        var fields: [(String, String)] = [
            ("Job", job.id), ("Command", job.command), ("Status", job.status.rawValue),
        ]
        if let reason = job.statusReason { fields.append(("Status reason", reason)) }
        fields.append(("Created", WireTime.iso8601(job.createdAt)))
        fields.append(("Updated", WireTime.iso8601(job.updatedAt)))
        fields.append(("Run timeout", "\(job.runTimeout)s"))
        if let q = job.quorum { fields.append(("Quorum", "\(q) of \(job.nodeCount)")) }
        if let u = job.user { fields.append(("User", u)) }
        if let d = job.dir { fields.append(("Directory", d)) }
        if job.captureOutput { fields.append(("Capture output", "yes")) }
        if let r = job.rateControl {
            fields.append(("Rate control", r.members.map { "\($0.0) \($0.1.stringValue ?? $0.1.serialized())" }.joined(separator: ", ")))
        }
        if let original = job.rerunOf { fields.append(("Re-run of", original)) }
        if let origin = job.origin { fields.append(("Started by", origin)) }
        if let template = job.template {
            fields.append(("Template", template + (job.templateVersion.map { " (version \($0))" } ?? "")))
        }
        let width = fields.map(\.0.count).max() ?? 0
        return fields.map { k, v in (k + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0) + "  " + v }
            .joined(separator: "\n")
    }
}
