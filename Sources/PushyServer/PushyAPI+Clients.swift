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
        try requireAdmin(p)
        try requireJSONBody(request)
        let v = try parseJSON(body)
        guard let name = v["name"]?.stringValue, Self.validName(name) else {
            throw .badRequest("'name' must be 1-255 characters of letters, digits, '.', '_' or '-'")
        }
        guard let pem = v["public_key"]?.stringValue else { throw .badRequest("'public_key' (a PEM RSA public key) is required") }
        do { _ = try RSAPublicKey(pemRepresentation: pem) } catch {
            throw .badRequest("'public_key' is not a PEM RSA public key: \(error)")
        }
        let record = PrincipalRecord(org: orgName, name: name, type: .client, publicKey: pem, isAdmin: false, createdAt: Date())
        do { try await store.createPrincipal(record) } catch {
            if error.kind == .duplicate { throw .conflict("client '\(name)' already exists in organization '\(orgName)'") }
            throw .from(error)
        }
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
        try requireReader(try await authenticate(request, org: orgName, body: body))
        let list: [PrincipalRecord]
        do { list = try await store.listPrincipals(org: orgName, type: .client) } catch { throw .from(error) }
        return .json(.object(list.sorted { $0.name < $1.name }.map { ($0.name, .string("/organizations/\(orgName)/clients/\($0.name)")) }))
    }

    func getClient(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        try requireReader(try await authenticate(request, org: orgName, body: body))
        let c: PrincipalRecord?
        do { c = try await store.principal(org: orgName, name: name) } catch { throw .from(error) }
        guard let c, c.type == .client else { throw .notFound("client '\(name)' not found in organization '\(orgName)'") }
        return .json(["name": .string(c.name), "clientname": .string(c.name), "orgname": .string(orgName),
                      "public_key": .string(c.publicKey), "validator": false])
    }

    func deleteClient(_ request: Request, _ context: Context, _ body: [UInt8]) async throws(APIError) -> Response {
        let orgName = param(context, "org"), name = param(context, "name")
        try requireAdmin(try await authenticate(request, org: orgName, body: body))
        let c: PrincipalRecord?
        do { c = try await store.principal(org: orgName, name: name) } catch { throw .from(error) }
        guard let c, c.type == .client else { throw .notFound("client '\(name)' not found in organization '\(orgName)'") }
        do { _ = try await store.deletePrincipal(org: orgName, name: name) } catch { throw .from(error) }
        return .json(["name": .string(name)])
    }
}
