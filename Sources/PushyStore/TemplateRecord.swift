import Foundation
import PushyProtocol

/// One version of a job template (issue 13). Editing a template adds a version; the old ones
/// stay, so a job can say which definition it came from.
public struct TemplateRecord: Sendable, Hashable {
    public var org: String
    public var name: String
    /// 1 for the first definition, +1 for each edit.
    public var version: Int
    /// The template as `JobTemplate.json` writes it (the server parses it; the store does not).
    public var definition: JSONValue
    /// Who created the template (version 1's author); kept on every version.
    public var createdBy: String
    /// Who wrote this version.
    public var author: String
    /// When this version was written.
    public var createdAt: Date

    public init(org: String, name: String, version: Int, definition: JSONValue, createdBy: String, author: String,
                createdAt: Date) {
        self.org = org
        self.name = name
        self.version = version
        self.definition = definition
        self.createdBy = createdBy
        self.author = author
        self.createdAt = createdAt
    }
}
