import Foundation
import HTTPTypes
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

extension PushyAPI {
    func createJob(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireWriter(p)
        try requireJSONBody(request)
        let job: JobRequest
        do { job = try JobRequest.parse(body) } catch { throw .validation(error.message) }
        let view = try await starter.startSpec(job, search: nil, as: p, origin: nil).snapshot
        await audit(p, request, context, "job.created", target: "job:\(view.id)",
                    detail: "command '\(job.command)' on \(job.nodes.count) node(s)")
        let uri = jobURI(request, org: orgName, id: view.id)
        return .json(["uri": .string(uri)], status: .created, headers: [.location: uri])
    }

    /// Unknown node names are refused (`JobStarter.checkNodesKnown`).
    func checkNodesKnown(org: String, _ names: [String]) async throws(APIError) {
        try await starter.checkNodesKnown(org: org, names)
    }

    func jobURI(_ request: Request, org: String, id: String) -> String {
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!] ?? config.scheme
        let host = request.head.authority ?? "\(config.advertisedHost):\(ports.api)"
        return "\(scheme)://\(host)/organizations/\(org)/pushy/jobs/\(id)"
    }

    func listJobs(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let records: [JobRecord]
        do { records = try await store.listJobs(org: orgName) } catch { throw .from(error) }
        if let filter = try JobListFilter(request) { return try await filteredJobs(records, filter, org: orgName) }
        var out: [JSONValue] = []
        for r in records {
            if let live = await engine.activeJobSnapshot(org: orgName, id: r.id) {
                out.append(live.view(includeNodes: false).json)
            } else {
                out.append(Self.view(r, nodes: nil).json)
            }
        }
        return .json(.array(out))
    }

    func getJob(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        try await requireJobReader(try await authenticate(request, org: orgName, body: body), org: orgName, jobId: id)
        let nodes = try boolParameter(request, "nodes"), includeFile = try boolParameter(request, "include_file")
        // Pushy extension: `?wait=SECONDS` (at most 60) answers once the job has ended, or when
        // the time is up, instead of being polled.
        if let text = request.uri.queryParameters.get("wait") {
            guard let seconds = Double(text), seconds >= 0, seconds <= 60 else {
                throw .validation("wait must be a number of seconds from 0 to 60, not '\(text)'")
            }
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            await engine.waitUntilFinished(jobId: id, timeout: .milliseconds(Int(seconds * 1000)))
            try await awaitStoredEnd(org: orgName, id: id, until: deadline)
        }
        // Pushy extension: `?nodes=false` leaves out the per-node groups, so a poller of a job
        // over thousands of nodes asks for a few hundred bytes instead of every node's name.
        if nodes == false {
            if let live = await engine.activeJobSnapshot(org: orgName, id: id) { return .json(live.view(includeNodes: false).json) }
            var summary = try await jobView(org: orgName, id: id)
            summary.nodes = nil
            summary.nodeReasons = nil
            return .json(summary.json)
        }
        var view = try await jobView(org: orgName, id: id)
        if includeFile == true, view.fileSpecified || view.file != nil {
            if let r = try? await store.job(org: orgName, id: id) { view.file = r.file }
        }
        return .json(view.json)
    }

    func jobView(org: String, id: String) async throws(APIError) -> JobView {
        if let live = await engine.activeJobView(org: org, id: id) { return live }
        do {
            guard let r = try await store.job(org: org, id: id) else { throw APIError.notFound("job '\(id)' not found in organization '\(org)'") }
            return Self.view(r, nodes: try await store.jobNodes(jobId: id))
        } catch let e as APIError {
            throw e
        } catch let e as StoreError {
            throw .from(e)
        } catch {
            throw .internalError("\(error)")
        }
    }

    static func view(_ r: JobRecord, nodes: [JobNodeRecord]?) -> JobView {
        var grouped: [(NodeJobStatus, [String])]? = nil
        var reasons: [(String, String)]? = nil
        if let nodes {
            grouped = NodeJobStatus.allCases.compactMap { s in
                let names = nodes.filter { $0.status == s }.map(\.node)
                return names.isEmpty ? nil : (s, names)
            }
            // An empty reason is a cleared one (a node launched after waiting, issue 13).
            reasons = nodes.compactMap { n in n.reason.flatMap { $0.isEmpty ? nil : (n.node, $0) } }
        }
        return JobView(
            id: r.id, command: r.command, status: r.status, runTimeout: r.runTimeout, createdAt: r.createdAt,
            updatedAt: r.updatedAt, user: r.user, dir: r.dir, env: r.env, captureOutput: r.captureOutput,
            fileSpecified: r.file != nil, quorum: r.quorum, nodes: grouped, nodeReasons: reasons,
            statusReason: r.statusReason, rateControl: r.rateControl, rerunOf: r.rerunOf, template: r.template,
            templateVersion: r.templateVersion, origin: r.origin)
    }

    func abortJob(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireJobRunner(p, org: orgName, jobId: id, action: "abort")
        if let v = await engine.abortJob(org: orgName, id: id, requestor: p.name) {
            await audit(p, request, context, "job.aborted", target: "job:\(id)")
            return .json(v.view().json)
        }
        if await engine.relayAbort(org: orgName, id: id, requestor: p.name) {
            // Another server runs it: answer once the abort shows (or after a few seconds).
            await audit(p, request, context, "job.aborted", target: "job:\(id)")
            return .json(try await awaitRelayedAbort(org: orgName, id: id).json)
        }
        return .json(try await jobView(org: orgName, id: id).json)
    }
}
