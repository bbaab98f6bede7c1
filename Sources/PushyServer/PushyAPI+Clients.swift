import Foundation
import Hummingbird
import PushyProtocol
import PushyStore

extension PushyAPI {
    /// `POST /organizations/{org}/clients` with `{"name": "...", "public_key": "<PEM>"}` (admins).
    /// The private key never reaches the server: the CLI generates the pair.
    func createClient(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        try requireJSONBody(request)
        let record = try newPrincipal(try parseJSON(body), org: orgName, type: .client)
        let name = record.name
        try await insertPrincipal(record)
        await audit(p, request, context, "client.created", target: "client:\(name)")
        let uri = "/organizations/\(orgName)/clients/\(name)"
        return .json(["uri": .string(uri), "name": .string(name)], status: .created, headers: [.location: uri])
    }

    static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 255 && s.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    func listClients(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org")
        try await requireReader(try await authenticate(request, org: orgName, body: body))
        let list: [PrincipalRecord]
        do { list = try await store.listPrincipals(org: orgName, type: .client) } catch { throw .from(error) }
        return .json(.object(list.sorted { $0.name < $1.name }.map { ($0.name, .string("/organizations/\(orgName)/clients/\($0.name)")) }))
    }

    func getClient(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        // A client may read its own record; anything else needs the reader rule.
        if p.isUser || p.name != name { try await requireReader(p) }
        let c = try await existingPrincipal(org: orgName, name: name, type: .client)
        return .json(["name": .string(c.name), "clientname": .string(c.name), "orgname": .string(orgName),
                      "public_key": .string(c.publicKey), "validator": false])
    }

    func deleteClient(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        let p = try await authenticate(request, org: orgName, body: body)
        try await requireAdmin(p)
        _ = try await existingPrincipal(org: orgName, name: name, type: .client)
        do { _ = try await store.deletePrincipal(org: orgName, name: name) } catch { throw .from(error) }
        await audit(p, request, context, "client.deleted", target: "client:\(name)")
        return .json(["name": .string(name)])
    }
}
