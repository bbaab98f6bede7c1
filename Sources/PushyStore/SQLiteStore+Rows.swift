import Foundation
import GRDB
import PushyProtocol

/// Row ↔ record mapping, kept apart from the queries. A row that does not decode is a
/// corrupt database, reported as `.io`.
extension SQLiteStore {
    static func seconds(_ date: Date) -> Double { date.timeIntervalSince1970 }

    static func date(_ row: Row, _ column: String) -> Date {
        Date(timeIntervalSince1970: row[column] as Double)
    }

    static func json(_ text: String, _ column: String) throws(StoreError) -> JSONValue {
        do {
            return try JSONValue.parse(text)
        } catch {
            throw .io("column \(column) holds invalid JSON: \(error)")
        }
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

    static func org(_ row: Row) -> OrgRecord {
        OrgRecord(name: row["name"], guid: row["guid"], createdAt: date(row, "created_at"))
    }

    static func principal(_ row: Row) throws(StoreError) -> PrincipalRecord {
        let typeText: String = row["type"]
        guard let type = PrincipalType(rawValue: typeText) else { throw .io("unknown principal type '\(typeText)'") }
        return PrincipalRecord(
            org: row["org"], name: row["name"], type: type, publicKey: row["public_key"],
            isAdmin: row["is_admin"], isSuperuser: row["is_superuser"], createdAt: date(row, "created_at"))
    }

    static func node(_ row: Row) throws(StoreError) -> NodeRecord {
        NodeRecord(
            org: row["org"], name: row["name"], environment: row["environment"],
            roles: try strings(json(row["roles"], "roles"), "roles"),
            tags: try strings(json(row["tags"], "tags"), "tags"),
            attributes: try json(row["attributes"], "attributes"),
            updatedAt: date(row, "updated_at"))
    }

    static func job(_ row: Row) throws(StoreError) -> JobRecord {
        let code: Int = row["status"]
        guard let status = JobStatus(dbCode: code) else { throw .io("unknown job status code \(code)") }
        let envText: String? = row["env"]
        let rateText: String? = row["rate_control"]
        var rate: RateControl?
        if let rateText {
            let value = try json(rateText, "rate_control")
            do { rate = try RateControl.parse(value) } catch {
                throw .io("unreadable rate_control of job \(row["id"] as String? ?? "?"): \(error)")
            }
        }
        return JobRecord(
            id: row["id"], org: row["org"], command: row["command"], quorum: row["quorum"],
            runTimeout: row["run_timeout"], status: status, statusReason: row["status_reason"],
            requestor: row["requestor"], user: row["run_as_user"], dir: row["dir"],
            env: try envText.map { (text) throws(StoreError) in try json(text, "env") },
            file: row["file"], captureOutput: row["capture_output"],
            createdAt: date(row, "created_at"), updatedAt: date(row, "updated_at"),
            rateControl: rate, rerunOf: row["rerun_of"], template: row["template"],
            templateVersion: row["template_version"], origin: row["origin"])
    }

    static func jobNode(_ row: Row) throws(StoreError) -> JobNodeRecord {
        let code: Int = row["status"]
        guard let status = NodeJobStatus(dbCode: code) else { throw .io("unknown node status code \(code)") }
        return JobNodeRecord(
            jobId: row["job_id"], node: row["node"], status: status, reason: row["reason"],
            updatedAt: date(row, "updated_at"))
    }
}
