import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy token create`: one-time enrolment tokens for new nodes.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create one-time enrolment tokens for new nodes.",
        subcommands: [TokenCreate.self])
}

struct TokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an enrolment token (printed once; the server keeps only its hash).",
        discussion: """
            A new node enrols with it once, before it expires: the agent generates its own key pair and \
            registers the public key as a client of the org. Admins only.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Option(name: .long, help: ArgumentHelp("How long the token is valid: 90s, 30m, 1h, 7d (default 1h, at most 30d).",
                                            valueName: "duration"), transform: { try TokenCreate.parseDuration($0) })
    var expires: Int = 3600

    func run() async throws {
        let t = try await connection.makeClient().createEnrollmentToken(expiresIn: expires)
        if output.isJSON { return Output.json(["token": .string(t.token), "expires_at": .string(t.expiresAt)]) }
        print(t.token)
        Output.stderr("Expires at \(t.expiresAt); it works once.")
    }

    /// `--expires`: seconds, or a usage error that says what a duration looks like.
    static func parseDuration(_ text: String) throws(ValidationError) -> Int {
        guard let seconds = seconds(text) else { throw ValidationError("not a duration like 90s, 30m, 1h or 7d") }
        return seconds
    }

    /// `90`, `90s`, `30m`, `1h`, `7d` → seconds (positive).
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var unit = 1
        if let last = digits.last, let u = units[last] {
            unit = u
            digits = digits.dropLast()
        }
        guard let n = Int(digits), n > 0, n <= Int.max / unit else { return nil }
        return n * unit
    }
}
