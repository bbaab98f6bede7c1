import FoundationEssentials
import PushyProtocol

/// Job templates (issue 13).
extension PushyRESTClient {
    /// `POST .../templates`: version 1 of a new template; answers `{"uri", "name", "version"}`.
    public func createTemplate(_ definition: JSONValue) async throws(PushyClientError) -> JSONValue {
        try await send("POST", "pushy/templates", json: definition).json()
    }

    /// The latest version of every template the caller may read.
    public func templates() async throws(PushyClientError) -> [JSONValue] {
        let v = try await send("GET", "pushy/templates").json()
        guard let items = v.arrayValue else { throw .invalidResponse("the template list is not an array") }
        return items
    }

    /// One template, the latest version unless `version` is given.
    public func template(_ name: String, version: Int? = nil) async throws(PushyClientError) -> JSONValue {
        try await send("GET", "pushy/templates/\(Self.escape(name))" + (version.map { "?version=\($0)" } ?? "")).json()
    }

    /// `PUT .../templates/NAME`: a new version; answers `{"uri", "name", "version"}`.
    public func editTemplate(_ name: String, _ definition: JSONValue) async throws(PushyClientError) -> JSONValue {
        try await send("PUT", "pushy/templates/\(Self.escape(name))", json: definition).json()
    }

    public func deleteTemplate(_ name: String) async throws(PushyClientError) -> JSONValue {
        try await send("DELETE", "pushy/templates/\(Self.escape(name))").json()
    }

    /// `POST .../templates/NAME/run`: answers `{"uri", "id", "template", "template_version", "command", "node_count"}`.
    public func runTemplate(_ name: String, _ run: TemplateRunRequest) async throws(PushyClientError) -> JSONValue {
        let v = try await send("POST", "pushy/templates/\(Self.escape(name))/run", json: run.json).json()
        guard v["id"]?.stringValue != nil else { throw .invalidResponse("no 'id' in the template run response") }
        return v
    }
}
