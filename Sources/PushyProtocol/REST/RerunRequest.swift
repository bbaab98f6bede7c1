/// The body of `POST /organizations/{org}/pushy/jobs/{id}/rerun` (issue 13): which nodes of a
/// finished job run it again. `{}` or no body means `not_succeeded`.
public enum RerunSelection: String, Sendable, CaseIterable {
    /// Nodes whose run failed: `failed`, `crashed`, `timed_out`.
    case failed
    /// Every node that did not succeed (also nacked, unavailable, skipped, aborted, was_ready).
    case notSucceeded = "not_succeeded"
    /// Every node of the job.
    case all

    /// Whether a node that ended in `status` is run again.
    public func selects(_ status: NodeJobStatus) -> Bool {
        switch self {
        case .failed: status == .failed || status == .crashed || status == .timedOut
        case .notSucceeded: status != .succeeded
        case .all: true
        }
    }

    /// The nodes to run again, in `order` (the original request's, when known), else grouped
    /// by status in the job view's order.
    public func nodes(of job: JobView, order: [String]? = nil) -> [String] {
        let picked = Set((job.nodes ?? []).filter { selects($0.0) }.flatMap(\.1))
        let names = order ?? (job.nodes ?? []).flatMap(\.1)
        return names.filter { picked.contains($0) }
    }

    /// Parses a request body (empty means the default).
    public static func parse(_ body: [UInt8]) throws(JobValidationError) -> RerunSelection {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .notSucceeded }
        let v: JSONValue
        do { v = try JSONValue.parse(body) } catch {
            throw JobValidationError("invalid JSON in request body: \(error.message) at byte \(error.offset)")
        }
        guard let pairs = v.objectValue else { throw JobValidationError("request body must be a JSON object, e.g. {\"nodes\": \"failed\"}") }
        for (k, _) in pairs where k != "nodes" {
            throw JobValidationError("invalid key supplied: '\(k)' (allowed: nodes)")
        }
        guard let n = v["nodes"] else { return .notSucceeded }
        guard let s = n.stringValue, let sel = RerunSelection(rawValue: s) else {
            throw JobValidationError("invalid nodes supplied (expected \"failed\", \"not_succeeded\" or \"all\")")
        }
        return sel
    }

    /// The re-run's quorum: the original's share of its nodes, applied to the nodes run again
    /// (rounded up), so a job that needed all of its nodes needs all of them again.
    public static func quorum(original: Int, originalNodes: Int, rerunNodes: Int) -> Int {
        guard originalNodes > 0 else { return rerunNodes }
        let share = Double(min(original, originalNodes)) / Double(originalNodes)
        return min(rerunNodes, Int((share * Double(rerunNodes) - 1e-9).rounded(.up)))
    }
}
