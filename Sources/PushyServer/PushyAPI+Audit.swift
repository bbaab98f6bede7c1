import Foundation
import HTTPTypes
import Hummingbird
import PushyProtocol
import PushyStore

extension PushyAPI {
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    /// The peer's IP address; a proxy's `X-Forwarded-For` is added, not trusted in its place
    /// (any client can send that header).
    func remoteAddress(_ request: Request, _ context: Context) -> String {
        var address = context.remoteAddress?.ipAddress ?? "unknown"
        if let forwarded = request.headers[Self.forwardedFor], !forwarded.isEmpty {
            address += " (X-Forwarded-For: \(forwarded.prefix(200)))"
        }
        return address
    }

    /// Records a state change in `org`'s audit log (the acting principal's org by default).
    /// The change has already happened, so a failing audit write does not fail the request.
    func audit(_ p: Principal, _ request: Request, _ context: Context, org: String? = nil, _ action: String,
               target: String, detail: String = "") async {
        await audit(org: org ?? p.org.name, actor: p.name, actorType: p.record.type.rawValue, request, context,
                    action, target: target, detail: detail)
    }

    func audit(org: String, actor: String, actorType: String, _ request: Request, _ context: Context, _ action: String,
               target: String, detail: String = "") async {
        let entry = AuditRecord(at: Date(), org: org, actor: actor, actorType: actorType, action: action, target: target,
                                detail: detail, remoteAddress: remoteAddress(request, context))
        do { try await store.appendAudit(entry) } catch {
            context.logger.error("audit entry not written", metadata: [
                "pushy.action": "\(action)", "pushy.target": "\(target)", "pushy.error": "\(error)",
            ])
        }
    }

    /// `GET /organizations/{org}/audit[?limit=N]` (admins): newest first, 100 by default.
    func listAudit(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireAdmin(try await authenticate(request, org: orgName, body: body))
        var limit = 100
        if let text = request.uri.queryParameters.get("limit") {
            guard let n = Int(String(text)), n >= 1, n <= 10_000 else {
                throw .badRequest("'limit' must be a whole number from 1 to 10000")
            }
            limit = n
        }
        let entries: [AuditRecord]
        do { entries = try await store.listAudit(org: orgName, limit: limit) } catch { throw .from(error) }
        return .json(.array(entries.map { e in
            [
                "id": .number(Double(e.id)), "at": .string(WireTime.iso8601(e.at)), "actor": .string(e.actor),
                "actor_type": .string(e.actorType), "action": .string(e.action), "target": .string(e.target),
                "detail": .string(e.detail), "remote_address": .string(e.remoteAddress),
            ]
        }))
    }
}
