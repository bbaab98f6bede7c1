import FuzzSupport
import PushyProtocol

/// The REST bodies: `JobRequest.parse` (POST jobs, validated from bytes) and the JSON readers
/// `NodeReport`, `NodeConfig`, `JobView` and `NodeStateView`, and the job templates (definitions and run bodies). Each input is offered to all of them.
/// Whatever one accepts is written back through its `json`, serialised, parsed again and must
/// come back equal (and validate again, for job requests).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzREST(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)

    if let request = try? JobRequest.parse(bytes) {
        _ = request.quorumCount
        let body = request.json.bytes
        do {
            let again = try JobRequest.parse(body)
            fuzzCheck(again == request, "job request round trip changed \(request) into \(again)")
        } catch {
            fuzzCheck(false, "written job request \(String(decoding: body, as: UTF8.self)) is rejected: \(error)")
        }
    }

    guard let value = try? JSONValue.parse(bytes) else { return 0 }
    // Job templates (issue 13): a definition written back parses to the same template, and
    // filling it with no values either works or names what is missing.
    if let template = try? JobTemplate.parse(value) {
        let again = try? JobTemplate.parse(reparsed(template.json))
        fuzzCheck(again == template, "template round trip changed \(template.json) into \(String(describing: again?.json))")
        if let instance = try? template.instantiate([]) { _ = instance.jobRequest(nodes: ["n"]) }
    }
    if let run = try? TemplateRunRequest.parse(bytes) {
        let again = try? TemplateRunRequest.parse(run.json.bytes)
        fuzzCheck(again == run, "template run request round trip changed \(run.json) into \(String(describing: again?.json))")
    }
    if let report = try? NodeReport.parse(value) {
        _ = report.mergedAttributes
        let again = try? NodeReport.parse(reparsed(report.json))
        fuzzCheck(again == report, "node report round trip changed \(report) into \(String(describing: again))")
    }
    if let config = try? NodeConfig.parse(value) {
        let again = try? NodeConfig.parse(reparsed(config.json))
        fuzzCheck(again == config, "node config round trip changed \(config) into \(String(describing: again))")
    }
    if let view = JobView.parse(value) {
        _ = view.nodeCount
        let again = JobView.parse(reparsed(view.json))
        fuzzCheck(again == view, "job view round trip changed \(view.json) into \(String(describing: again?.json))")
    }
    if let state = NodeStateView.parse(value) {
        let again = NodeStateView.parse(reparsed(state.json))
        fuzzCheck(again == state, "node state round trip changed \(state) into \(String(describing: again))")
    }
    return 0
}

/// `value` as wire text and back, so the writer is part of every round trip.
private func reparsed(_ value: JSONValue) -> JSONValue {
    let text = value.bytes
    do { return try JSONValue.parse(text) } catch {
        fuzzCheck(false, "serialised REST body \(String(decoding: text, as: UTF8.self)) does not parse: \(error)")
        return .null
    }
}

@_cdecl("fuzz_rest_main")
public func fuzzRESTMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzzREST)
}
