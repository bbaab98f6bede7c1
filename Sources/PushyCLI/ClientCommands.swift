import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy client ...`: node identities (a name and an RSA key pair).
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Create, list and delete clients (node identities).",
        subcommands: [ClientCreate.self, ClientList.self, ClientDelete.self])
}

/// `pushy client create NAME [--key-out PATH] [--force]`
struct ClientCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a client: generate its RSA key pair, register the public key, save the private key.",
        discussion: """
            The key pair is generated locally; only the public key is sent to the server. The private key \
            is written (mode 0600) to --key-out, default ./NAME.pem; give that file to the node's \
            pushy-client. An existing file is never overwritten unless --force is given.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The client (node) name.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Where to write the private key (default ./NAME.pem).", valueName: "path"))
    var keyOut: String?

    @Flag(name: .long, help: "Replace an existing --key-out file.")
    var force = false

    func validate() throws {
        do { _ = try KeyFile.target(kind: "client", name: name, keyOut: keyOut, force: force) } catch {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let client = try connection.makeClient()
        let path = try await KeyFile.registerNewKey(kind: "client", name: name, keyOut: keyOut, force: force) { pem in
            try await client.createClient(name: name, publicKeyPEM: pem)
        }
        if output.isJSON { return Output.json(["name": .string(name), "key_file": .string(path)]) }
        print("Created client '\(name)'; private key written to \(path)")
    }
}

/// A private key file created with mode 0600 from the start (never chmod-ed afterwards). It is
/// written to a temporary name next to the target and moved into place only once the client is
/// registered, so a failed registration never destroys an existing key.
struct KeyFile {
    /// Generates a key pair, registers its public half with `register`, and saves the private
    /// key (0600) at `keyOut` (default ./NAME.pem). Returns the path. Shared by `client create`
    /// and `user create`.
    static func registerNewKey(kind: String, name: String, keyOut: String?, force: Bool,
                               register: (String) async throws -> Void) async throws -> String {
        let path = try target(kind: kind, name: name, keyOut: keyOut, force: force)
        let key: RSAPrivateKey
        do { key = try RSAPrivateKey.generate() } catch { throw CLIFailure.failure(error.description) }

        // Claim the file before registering, so a key is never registered without being saved.
        let file = try KeyFile.create(path, replacing: force)
        do {
            try await register(key.publicKey.pemRepresentation)
        } catch {
            file.discard()
            throw error
        }
        do { try file.write(key.pemRepresentation) } catch {
            throw CLIFailure.failure("\(kind) '\(name)' was created but its key was not saved: \(error.message)")
        }
        return path
    }

    /// Where the new key goes: --key-out, or ./NAME.pem; a usage error for a name that cannot be a
    /// file name or an existing file without --force (checked at parse time, and again here).
    static func target(kind: String, name: String, keyOut: String?, force: Bool) throws(CLIFailure) -> String {
        guard !name.isEmpty, !name.contains("/") else {
            throw .usage("invalid \(kind) name '\(name)': give a non-empty name without '/'")
        }
        let path = CLIConfig.expand(keyOut ?? "./\(name).pem", relativeTo: nil)
        if FileManager.default.fileExists(atPath: path), !force {
            throw .usage("\(path) already exists; pass --force to overwrite it or choose another --key-out")
        }
        return path
    }

    let path: String
    let temporaryPath: String
    let fd: Int32
    let replacing: Bool

    static func create(_ path: String, replacing: Bool) throws(CLIFailure) -> KeyFile {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let tmp = ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent(".\(base).\(UInt32.random(in: 0...UInt32.max)).partial")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw .failure("cannot create a file in \(dir.isEmpty ? "." : dir): \(errorText())") }
        return KeyFile(path: path, temporaryPath: tmp, fd: fd, replacing: replacing)
    }

    /// Writes the key and moves it to `path` (replacing it only when asked).
    func write(_ text: String) throws(CLIFailure) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { discard(); throw .failure("cannot write \(temporaryPath): \(KeyFile.errorText())") }
            done += n
        }
        guard fsync(fd) == 0 else { discard(); throw .failure("cannot write \(temporaryPath): \(KeyFile.errorText())") }
        close(fd)
        if replacing {
            guard rename(temporaryPath, path) == 0 else {
                throw .failure("cannot move \(temporaryPath) to \(path): \(KeyFile.errorText()); the key is in \(temporaryPath)")
            }
        } else {
            guard link(temporaryPath, path) == 0 else {
                throw .failure("cannot create \(path): \(KeyFile.errorText()); the key is in \(temporaryPath)")
            }
            unlink(temporaryPath)
        }
    }

    func discard() {
        close(fd)
        unlink(temporaryPath)
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// `pushy client list`
struct ClientList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the organization's clients, one name per line.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let names = try await connection.makeClient().clients().sorted()
        if output.isJSON { return Output.json(.array(names.map(JSONValue.string))) }
        for n in names { print(n) }
    }
}

/// `pushy client delete NAME`
struct ClientDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a client; its key stops working at once.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The client name.", valueName: "name"))
    var name: String

    func run() async throws {
        try await connection.makeClient().deleteClient(name: name)
        print("Deleted client '\(name)'")
    }
}
