import Foundation
import PostgresNIO
import PushyProtocol
import PushyStore

/// Row ↔ record mapping, kept apart from the queries (the same encodings as `SQLiteStore`).
/// A row that does not decode is a damaged database, reported as `.io`.
extension PostgresStore {
    static func seconds(_ date: Date) -> Double { date.timeIntervalSince1970 }

    static func json(_ text: String, _ column: String) throws(StoreError) -> JSONValue {
        do { return try JSONValue.parse(text) } catch { throw .io("column \(column) holds invalid JSON: \(error)") }
    }

    static func strings(_ value: JSONValue, _ column: String) throws(StoreError) -> [String] {
        guard let items = value.arrayValue else { throw .io("column \(column) is not a JSON array") }
        return try items.map { (item) throws(StoreError) -> String in
            guard let s = item.stringValue else { throw .io("column \(column) holds a non-string") }
            return s
        }
    }

    static func stringsText(_ strings: [String]) -> String {
        JSONValue.array(strings.map(JSONValue.string)).serialized()
    }

    static func decodeOrg(_ r: PostgresRandomAccessRow) throws -> OrgRecord {
        OrgRecord(name: try r.string("name"), guid: try r.string("guid"), createdAt: try r.date("created_at"))
    }

    static func decodePrincipal(_ r: PostgresRandomAccessRow) throws -> PrincipalRecord {
        let typeText = try r.string("type")
        guard let type = PrincipalType(rawValue: typeText) else { throw StoreError.io("unknown principal type '\(typeText)'") }
        return PrincipalRecord(
            org: try r.string("org"), name: try r.string("name"), type: type, publicKey: try r.string("public_key"),
            isAdmin: try r.bool("is_admin"), isSuperuser: try r.bool("is_superuser"), createdAt: try r.date("created_at"))
    }

    static func decodeNode(_ r: PostgresRandomAccessRow) throws -> NodeRecord {
        NodeRecord(
            org: try r.string("org"), name: try r.string("name"), environment: try r.string("environment"),
            roles: try strings(json(try r.string("roles"), "roles"), "roles"),
            tags: try strings(json(try r.string("tags"), "tags"), "tags"),
            attributes: try json(try r.string("attributes"), "attributes"),
            updatedAt: try r.date("updated_at"))
    }

    static func decodeJob(_ r: PostgresRandomAccessRow) throws -> JobRecord {
        let code = try r.int("status")
        guard let status = JobStatus(dbCode: code) else { throw StoreError.io("unknown job status code \(code)") }
        let id = try r.string("id")
        var rate: RateControl?
        if let text = try r.optionalString("rate_control") {
            let value = try json(text, "rate_control")
            do { rate = try RateControl.parse(value) } catch {
                throw StoreError.io("unreadable rate_control of job \(id): \(error)")
            }
        }
        return JobRecord(
            id: id, org: try r.string("org"), command: try r.string("command"), quorum: try r.int("quorum"),
            runTimeout: try r.int("run_timeout"), status: status, statusReason: try r.optionalString("status_reason"),
            requestor: try r.string("requestor"), user: try r.optionalString("run_as_user"), dir: try r.optionalString("dir"),
            env: try r.optionalString("env").map { (text) throws(StoreError) in try json(text, "env") },
            file: try r.optionalString("file"), captureOutput: try r.bool("capture_output"),
            createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"),
            rateControl: rate, rerunOf: try r.optionalString("rerun_of"), template: try r.optionalString("template"),
            templateVersion: try r.optionalInt("template_version"), origin: try r.optionalString("origin"))
    }

    static func decodeOutput(_ r: PostgresRandomAccessRow) throws -> JobOutputRecord {
        JobOutputRecord(
            jobId: try r.string("job_id"), node: try r.string("node"), stdout: try r.bytes("stdout"),
            stderr: try r.bytes("stderr"), stdoutTruncated: try r.bool("stdout_truncated"),
            stderrTruncated: try r.bool("stderr_truncated"))
    }

    static func decodeMember(_ r: PostgresRandomAccessRow) throws -> GroupMember {
        let typeText = try r.string("member_type")
        guard let type = GroupMemberType(rawValue: typeText) else {
            throw StoreError.io("unknown group member type '\(typeText)'")
        }
        return GroupMember(type, try r.string("member_name"))
    }

    static func decodeToken(_ r: PostgresRandomAccessRow) throws -> EnrollmentTokenRecord {
        EnrollmentTokenRecord(
            org: try r.string("org"), tokenHash: try r.string("token_hash"), createdBy: try r.string("created_by"),
            createdAt: try r.date("created_at"), expiresAt: try r.date("expires_at"),
            usedAt: try r.optionalDate("used_at"), usedBy: try r.optionalString("used_by"))
    }

    static func decodeAudit(_ r: PostgresRandomAccessRow) throws -> AuditRecord {
        AuditRecord(
            id: Int64(try r.int("id")), at: try r.date("at"), org: try r.string("org"), actor: try r.string("actor"),
            actorType: try r.string("actor_type"), action: try r.string("action"), target: try r.string("target"),
            detail: try r.string("detail"), remoteAddress: try r.string("remote_address"))
    }

    static func decodeTemplate(_ r: PostgresRandomAccessRow) throws -> TemplateRecord {
        TemplateRecord(
            org: try r.string("org"), name: try r.string("name"), version: try r.int("version"),
            definition: try json(try r.string("definition"), "definition"), createdBy: try r.string("created_by"),
            author: try r.string("author"), createdAt: try r.date("created_at"))
    }

    static func decodeSchedule(_ r: PostgresRandomAccessRow) throws -> ScheduleRecord {
        ScheduleRecord(
            id: try r.string("id"), org: try r.string("org"), name: try r.string("name"), owner: try r.string("owner"),
            definition: try json(try r.string("definition"), "definition"), paused: try r.bool("paused"),
            cursor: try r.date("cursor"), queued: try r.optionalDate("queued"), createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at"))
    }

    static func decodeScheduleRun(_ r: PostgresRandomAccessRow) throws -> ScheduleRunRecord {
        let text = try r.string("outcome")
        guard let outcome = ScheduleRunOutcome(rawValue: text) else {
            throw StoreError.io("unknown schedule run outcome '\(text)'")
        }
        return ScheduleRunRecord(
            scheduleId: try r.string("schedule_id"), tick: try r.date("tick"), at: try r.date("at"), outcome: outcome,
            jobId: try r.optionalString("job_id"), reason: try r.optionalString("reason"))
    }

    static func decodePlan(_ r: PostgresRandomAccessRow) throws -> PlanRecord {
        PlanRecord(
            org: try r.string("org"), name: try r.string("name"), definition: try json(try r.string("definition"), "definition"),
            createdBy: try r.string("created_by"), createdAt: try r.date("created_at"), updatedAt: try r.date("updated_at"))
    }

    static func decodePlanRun(_ r: PostgresRandomAccessRow) throws -> PlanRunRecord {
        PlanRunRecord(
            id: try r.string("id"), org: try r.string("org"), plan: try r.string("plan"),
            definition: try json(try r.string("definition"), "definition"),
            parameters: try json(try r.string("parameters"), "parameters"), requestor: try r.string("requestor"),
            status: try r.string("status"), reason: try r.optionalString("reason"),
            steps: try json(try r.string("steps"), "steps"), createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at"))
    }
}
