import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy user ...`: people who sign requests, in the org of the server URL.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Create, list and delete users.",
        subcommands: [UserCreate.self, UserList.self, UserDelete.self])
}

/// `pushy user create NAME [--key-out PATH] [--force] [--admin]`
struct UserCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a user: generate its RSA key pair, register the public key, save the private key.",
        discussion: """
            The key pair is generated locally; only the public key is sent. The private key is written \
            (mode 0600) to --key-out, default ./NAME.pem. An existing file is never overwritten unless \
            --force is given. --admin also adds the user to the org's 'admins' group.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Argument(help: ArgumentHelp("The user name.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Where to write the private key (default ./NAME.pem).", valueName: "path"))
    var keyOut: String?

    @Flag(name: .long, help: "Replace an existing --key-out file.")
    var force = false

    @Flag(name: .long, help: "Also add the user to the 'admins' group.")
    var admin = false

    func validate() throws {
        do { _ = try KeyFile.target(kind: "user", name: name, keyOut: keyOut, force: force) } catch {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let client = try connection.makeClient()
        let path = try await KeyFile.registerNewKey(kind: "user", name: name, keyOut: keyOut, force: force) { pem in
            try await client.createUser(name: name, publicKeyPEM: pem, admin: admin)
        }
        if output.isJSON {
            return Output.json(["name": .string(name), "key_file": .string(path), "admin": .bool(admin)])
        }
        print("Created user '\(name)'\(admin ? " (in admins)" : ""); private key written to \(path)")
    }
}

struct UserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the organization's users, one per line.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    func run() async throws {
        let names = try await connection.makeClient().users().sorted()
        if output.isJSON { return Output.json(.array(names.map(JSONValue.string))) }
        for n in names { print(n) }
    }
}

struct UserDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a user; its key and group memberships go at once.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The user name.", valueName: "name"))
    var name: String

    func run() async throws {
        try await connection.makeClient().deleteUser(name: name)
        print("Deleted user '\(name)'")
    }
}
