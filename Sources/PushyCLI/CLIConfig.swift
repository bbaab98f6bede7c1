import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// Where to find the server and who we are; shared by every command that talks to the server.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Org URL of the server, e.g. http://127.0.0.1:10003/organizations/pushy (env PUSHY_SERVER_URL).",
        valueName: "url"))
    var serverUrl: String?

    @Option(name: .long, help: ArgumentHelp("User (or client) name to sign requests as (env PUSHY_USER).", valueName: "name"))
    var user: String?

    @Option(name: .long, help: ArgumentHelp("Path to that user's PEM private key (env PUSHY_KEY).", valueName: "path"))
    var key: String?

    @Option(name: .long, help: ArgumentHelp(
        "JSON config file with server_url, user and key (env PUSHY_CONFIG; default ~/.pushy/config.json; "
            + "'pushy-server init' writes DATA_DIR/cli.json).",
        valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "PEM certificate to trust for the server's HTTPS besides the system roots (env PUSHY_TRUSTED_CERT; "
            + "config key trusted_cert; 'pushy-server init' writes DATA_DIR/tls.crt).",
        valueName: "path"))
    var trustedCert: String?

    @Flag(name: .long, help: "Do not verify the server's HTTPS certificate (env PUSHY_INSECURE=1; tests only).")
    var insecure = false

    /// The connection options that take a value, and the one that does not.
    static let flagNames: Set<String> = ["--server-url", "--user", "--key", "--config", "--trusted-cert"]
    static let switchNames: Set<String> = ["--insecure"]

    /// Lets the connection flags come before the subcommand (`pushy --config X job list`): leading
    /// connection flags are moved behind the subcommand path, where every command accepts them.
    static func hoisted(_ args: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < args.count {
            let name = String(args[i].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])
            guard flagNames.contains(name) || switchNames.contains(args[i]) else { break }
            leading.append(args[i])
            if flagNames.contains(name), !args[i].contains("="), i + 1 < args.count {
                leading.append(args[i + 1])
                i += 1
            }
            i += 1
        }
        guard !leading.isEmpty else { return args }
        var rest = Array(args[i...])
        let end = rest.firstIndex(of: "--") ?? rest.endIndex
        rest.insert(contentsOf: leading, at: end)
        return rest
    }

    /// Resolves the settings and builds a signed REST client.
    func makeClient(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PushyRESTClient {
        let c = try CLIConfig.resolve(self, environment: environment)
        return try c.makeClient()
    }
}

/// The resolved connection settings: flags, then environment, then the config file.
struct CLIConfig {
    var serverURL: String
    var user: String
    var keyPath: String
    var tls: ClientTLS = .system
    /// Where the trusted certificate's path came from (`--trusted-cert`, `PUSHY_TRUSTED_CERT`,
    /// `trusted_cert in FILE`), for the message when it is not there.
    var trustedSource: String?

    static let defaultConfigPath = "~/.pushy/config.json"
    static let hint = "pass --config DATA_DIR/cli.json (written by 'pushy-server init'), "
        + "set PUSHY_CONFIG, or set PUSHY_SERVER_URL, PUSHY_USER and PUSHY_KEY"

    static func resolve(_ o: ConnectionOptions, environment env: [String: String]) throws(CLIFailure) -> CLIConfig {
        func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        let home = env["HOME"]
        func expand(_ path: String, relativeTo dir: String?) -> String { CLIConfig.expand(path, relativeTo: dir, home: home) }
        var url = nonEmpty(o.serverUrl) ?? nonEmpty(env["PUSHY_SERVER_URL"])
        var user = nonEmpty(o.user) ?? nonEmpty(env["PUSHY_USER"])
        var key = (nonEmpty(o.key) ?? nonEmpty(env["PUSHY_KEY"])).map { expand($0, relativeTo: nil) }

        var trusted = (nonEmpty(o.trustedCert) ?? nonEmpty(env["PUSHY_TRUSTED_CERT"])).map { expand($0, relativeTo: nil) }
        /// Where `trusted` came from, for the message when the file is not there.
        var trustedSource = nonEmpty(o.trustedCert) != nil ? "--trusted-cert" : "PUSHY_TRUSTED_CERT"
        let explicitPath = nonEmpty(o.config) ?? nonEmpty(env["PUSHY_CONFIG"])
        if explicitPath != nil || url == nil || user == nil || key == nil || trusted == nil {
            let path = expand(explicitPath ?? defaultConfigPath, relativeTo: nil)
            if let file = try loadFile(path, required: explicitPath != nil) {
                url = url ?? nonEmpty(file["server_url"]?.stringValue)
                user = user ?? nonEmpty(file["user"]?.stringValue)
                let dir = (path as NSString).deletingLastPathComponent
                key = key ?? nonEmpty(file["key"]?.stringValue).map { expand($0, relativeTo: dir) }
                if trusted == nil {
                    trusted = nonEmpty(file["trusted_cert"]?.stringValue).map { expand($0, relativeTo: dir) }
                    trustedSource = "trusted_cert in \(path)"
                }
            }
        }
        var missing: [String] = []
        if url == nil { missing.append("server URL") }
        if user == nil { missing.append("user") }
        if key == nil { missing.append("key") }
        guard let url, let user, let key else {
            throw .usage("no \(missing.joined(separator: ", ")) configured: \(hint)")
        }
        let insecure = o.insecure || env["PUSHY_INSECURE"] == "1"
        return CLIConfig(serverURL: url, user: user, keyPath: key,
                         tls: ClientTLS(trustedCertificatePath: trusted, verify: !insecure),
                         trustedSource: trusted == nil ? nil : trustedSource)
    }

    /// A trusted certificate that is not there fails here, naming the file, where the name came
    /// from and how to fix it (rather than as a signing error when the first request is made).
    static func checkTrustedCertificate(_ path: String, from source: String) throws(CLIFailure) {
        let fm = FileManager.default
        let what = "the server's certificate (a copy of DATA_DIR/tls.crt on the server, written by 'pushy-server init')"
        let fix: String
        if source.hasPrefix("trusted_cert in ") {
            fix = "change \(source) to name \(what), or pass --trusted-cert PATH or set PUSHY_TRUSTED_CERT"
        } else if source == "--trusted-cert" {
            fix = "pass --trusted-cert with the path of \(what)"
        } else {
            fix = "set \(source) to the path of \(what), or unset it to use trusted_cert of the config file"
        }
        var isDirectory: ObjCBool = false
        if !fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            throw .usage("the trusted certificate \(path) (from \(source)) does not exist: \(fix)")
        }
        if isDirectory.boolValue {
            throw .usage("the trusted certificate \(path) (from \(source)) is a directory, not a PEM file: \(fix)")
        }
        if !fm.isReadableFile(atPath: path) {
            throw .usage("the trusted certificate \(path) (from \(source)) cannot be read (permissions): "
                + "make it readable by this user, or \(fix)")
        }
    }

    /// Reads the JSON config file; a missing default file is not an error (flags/env may suffice).
    static func loadFile(_ path: String, required: Bool) throws(CLIFailure) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw .usage("cannot read config file \(path)") }
            if required { throw .usage("config file \(path) does not exist: \(hint)") }
            return nil
        }
        let value: JSONValue
        do { value = try JSONValue.parse(Array(data)) } catch {
            throw .usage("config file \(path) is not valid JSON: \(error)")
        }
        guard value.objectValue != nil else {
            throw .usage("config file \(path) must be a JSON object like "
                + #"{"server_url": "...", "user": "...", "key": "/path/to/key.pem"}"#)
        }
        return value
    }

    /// Expands `~` (to `home`, $HOME by default) and makes a relative path absolute against `dir`
    /// (the config file's folder) when given.
    static func expand(_ path: String, relativeTo dir: String?,
                       home: String? = ProcessInfo.processInfo.environment["HOME"]) -> String {
        var p = path
        // Foundation's tilde expansion ignores $HOME on Linux; scripts and tests rely on it.
        if p == "~" || p.hasPrefix("~/"), let home, !home.isEmpty {
            p = home + p.dropFirst()
        } else {
            p = (p as NSString).expandingTildeInPath
        }
        if let dir, !p.hasPrefix("/") { p = (dir as NSString).appendingPathComponent(p) }
        return p
    }

    func makeClient() throws -> PushyRESTClient {
        if tls.verify, let path = tls.trustedCertificatePath {
            try Self.checkTrustedCertificate(path, from: trustedSource ?? "the settings")
        }
        guard let pem = try? String(contentsOfFile: keyPath, encoding: .utf8) else {
            throw CLIFailure.usage("cannot read the private key \(keyPath) for user '\(user)': \(CLIConfig.hint)")
        }
        let key: RSAPrivateKey
        do { key = try RSAPrivateKey(pemRepresentation: pem) } catch {
            throw CLIFailure.usage("the key file \(keyPath) is unusable: \(error.description)")
        }
        return try PushyRESTClient(orgURL: serverURL, userId: user, key: key, tls: tls)
    }
}
