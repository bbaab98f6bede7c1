import Foundation
import Hummingbird
import PushyCore
import PushyProtocol
import PushyStore

/// Re-run and grouped output (issue 13).
extension PushyAPI {
    /// `POST .../jobs/{id}/rerun` `{"nodes": "failed"|"not_succeeded"|"all"}`: the same job
    /// (command, user, dir, env, file, capture, run timeout, rate control) on those nodes of a
    /// finished job, linked to it by `rerun_of`. Writers, like starting a job, and for a job made
    /// from a template those who may run the template; the re-run records the same template.
    func rerunJob(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireJobRunner(p, org: orgName, jobId: id, action: "re-run")
        if !body.isEmpty { try requireJSONBody(request) }
        let selection: RerunSelection
        do { selection = try RerunSelection.parse(body) } catch { throw .validation(error.message) }
        let original = try await jobView(org: orgName, id: id)
        guard original.status.isTerminal else {
            throw .conflict("job '\(id)' is still \(original.status.rawValue): wait for it to end (or abort it) before re-running it")
        }
        let record: JobRecord
        do {
            guard let r = try await store.job(org: orgName, id: id) else { throw APIError.notFound("job '\(id)' not found in organization '\(orgName)'") }
            record = r
        } catch let e as APIError { throw e } catch let e as StoreError { throw .from(e) } catch { throw .internalError("\(error)") }
        // A template's runner who is not a job writer re-runs only what the template allows now:
        // the job must come from its current version (an edit may have changed the command or
        // narrowed the target; then the template is run again instead).
        if !p.isSuperuser, !(try await accessRules(orgName)).canWrite(p.member), let name = record.template {
            let version = record.templateVersion ?? 1
            let latest = try? await store.template(org: orgName, name: name, version: nil)
            guard let latest, latest.version == version else {
                let now = latest.map { "it is at version \($0.version)" } ?? "it no longer exists"
                throw .forbidden("\(p.name) may not re-run job \(id): it was made from version \(version) of template '\(name)' and \(now); run the template again instead (pushy template run \(name))")
            }
        }
        // The original's request order while it is in memory (canaries and batches keep their
        // meaning); a job read back from the store gives its nodes in name order.
        let nodes = selection.nodes(of: original, order: await engine.activeJobNodeOrder(org: orgName, id: id))
        guard !nodes.isEmpty else {
            let states = (original.nodes ?? []).map { "\($0.1.count) \($0.0.rawValue)" }.joined(separator: ", ")
            throw .validation("no node of job \(id) is \(selection.rawValue.replacingOccurrences(of: "_", with: " ")) (its nodes: \(states)): nothing to re-run; use {\"nodes\": \"all\"} to run it everywhere again")
        }
        let env = record.env?.objectValue?.compactMap { k, v in v.stringValue.map { (k, $0) } }
        let job = JobRequest(
            command: record.command, nodes: nodes,
            quorum: .count(RerunSelection.quorum(original: record.quorum, originalNodes: original.nodeCount, rerunNodes: nodes.count)),
            runTimeout: record.runTimeout, user: record.user, dir: record.dir, env: env, file: record.file,
            captureOutput: record.captureOutput, rateControl: record.rateControl)
        try await checkNodesKnown(org: orgName, nodes)
        let view: ActiveJobSnapshot
        do {
            view = try await engine.startJob(org: orgName, orgGUID: p.org.guid, request: job, requestor: p.name, rerunOf: id,
                                             template: record.template.map { ($0, record.templateVersion ?? 1) })
        } catch { throw .from(error) }
        await audit(p, request, context, "job.rerun", target: "job:\(view.id)",
                    detail: "re-run of job \(id) on \(nodes.count) \(selection.rawValue) node(s)")
        let uri = jobURI(request, org: orgName, id: view.id)
        return .json(["uri": .string(uri), "id": .string(view.id), "rerun_of": .string(id),
                      "node_count": .number(Double(nodes.count))],
                     status: .created, headers: [.location: uri])
    }

    /// `GET .../jobs/{id}/output?group=true`: each distinct stdout and stderr once, with the
    /// nodes that produced exactly those bytes, largest group first; `no_output` lists the
    /// job's nodes with nothing captured.
    func groupedOutput(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), id = param(context, "id")
        try await requireJobReader(try await authenticate(request, org: orgName, body: body), org: orgName, jobId: id)
        if try boolParameter(request, "group") == false {
            throw .badRequest("this endpoint groups output (group=true); one node's output is at .../jobs/\(id)/output/NODE/stdout")
        }
        let view = try await jobView(org: orgName, id: id)
        var outputs: [String: JobOutputRecord] = [:]
        do {
            for o in try await store.outputs(jobId: id) { outputs[o.node] = o }
        } catch { throw .from(error) }
        // A job still in memory may hold newer (live) output than the store.
        for o in await engine.activeOutputs(org: orgName, jobId: id) { outputs[o.node] = o }
        let names = (view.nodes ?? []).flatMap(\.1).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let have = names.compactMap { outputs[$0] }
        let stdout = OutputGroup.group(have.map { ($0.node, $0.stdout, $0.stdoutTruncated) })
        let stderr = OutputGroup.group(have.map { ($0.node, $0.stderr, $0.stderrTruncated) })
        return .json(.object([
            ("job", .string(id)), ("status", .string(view.status.rawValue)),
            ("stdout", .array(stdout.map(\.json))), ("stderr", .array(stderr.map(\.json))),
            ("no_output", .array(names.filter { outputs[$0] == nil }.map(JSONValue.string))),
        ]))
    }
}
