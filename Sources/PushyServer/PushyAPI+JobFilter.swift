import Foundation
import HTTPTypes
import Hummingbird
import PushyProtocol
import PushyStore

/// `GET jobs?status=…&command=…&requestor=…&start=N&rows=N` (Pushy extension for the dashboard's
/// jobs page): the jobs that match, newest first, one page at a time, each with who started it
/// (`requestor`). Without any of these parameters the list is the reference's (spec 2.3).
struct JobListFilter: Sendable, Equatable {
    static let parameters = ["status", "command", "requestor", "start", "rows"]
    static let maxRows = 500

    /// Any of these (`running`, `complete`, ...); `active` stands for new, voting and running.
    var statuses: Set<JobStatus> = []
    /// A substring of the command, case-insensitive.
    var command = ""
    /// The principal that started the job, exactly.
    var requestor = ""
    var start = 0
    var rows = 50

    /// Nil when the request names none of the parameters.
    init?(_ request: Request) throws(APIError) {
        let q = request.uri.queryParameters
        guard Self.parameters.contains(where: { q.get($0) != nil }) else { return nil }
        for word in (q.get("status").map { String($0) } ?? "").split(separator: ",") {
            let w = word.trimmingCharacters(in: .whitespaces)
            if w.isEmpty { continue }
            if w == "active" { statuses.formUnion([.new, .voting, .running]); continue }
            guard let s = JobStatus(rawValue: w) else {
                throw .badRequest("status must be one or more (comma-separated) of active, "
                    + JobStatus.allCases.map(\.rawValue).joined(separator: ", ") + "; not '\(w)'")
            }
            statuses.insert(s)
        }
        command = (q.get("command").map { String($0) } ?? "").trimmingCharacters(in: .whitespaces)
        requestor = (q.get("requestor").map { String($0) } ?? "").trimmingCharacters(in: .whitespaces)
        start = try Self.number(q.get("start").map { String($0) }, "start", 0, 0...Int.max)
        rows = try Self.number(q.get("rows").map { String($0) }, "rows", 50, 1...Self.maxRows)
    }

    static func number(_ text: String?, _ name: String, _ value: Int, _ range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text else { return value }
        guard let n = Int(text), range.contains(n) else {
            let upper = range.upperBound == Int.max ? "" : " to \(range.upperBound)"
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound)\(upper), not '\(text)'")
        }
        return n
    }

    func matches(_ r: JobRecord, status: JobStatus) -> Bool {
        (statuses.isEmpty || statuses.contains(status))
            && (command.isEmpty || r.command.range(of: command, options: .caseInsensitive) != nil)
            && (requestor.isEmpty || r.requestor == requestor)
    }
}

extension PushyAPI {
    func filteredJobs(_ records: [JobRecord], _ filter: JobListFilter, org: String) async throws(APIError) -> Response {
        let active = Set(await engine.activeJobIds)
        var matched: [(JobRecord, JobView)] = []
        for r in records {
            var view = Self.view(r, nodes: nil)
            if active.contains(r.id), let live = await engine.activeJobSnapshot(org: org, id: r.id) {
                view = live.view(includeNodes: false)
            }
            if filter.matches(r, status: view.status) { matched.append((r, view)) }
        }
        matched.sort { ($0.0.createdAt, $0.0.id) > ($1.0.createdAt, $1.0.id) }
        let page = matched.dropFirst(filter.start).prefix(filter.rows).map { r, view -> JSONValue in
            var fields = view.json.objectValue ?? []
            fields.append(("requestor", .string(r.requestor)))
            return .object(fields)
        }
        return .json(.array(Array(page)), headers: [HTTPField.Name("X-Pushy-Matched")!: "\(matched.count)"])
    }
}
