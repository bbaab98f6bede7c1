import ArgumentParser
import Foundation
import PushyAPIClient
import PushyProtocol

/// `pushy dashboard`: a one-time sign-in link to the web dashboard for the current user.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print (or open) a one-time sign-in link to the server's web dashboard.",
        discussion: """
            The link signs your browser in as the user this command runs as (no private key in the \
            browser): it works once, for a few minutes, and becomes a session cookie; the dashboard then \
            lets you do exactly what your groups allow (readers read, writers start and abort jobs). \
            Sign out from the dashboard to end the session. See docs/dashboard.md.

            Examples:
              pushy dashboard                 # prints the link
              pushy dashboard --open          # opens it in a browser ($BROWSER, xdg-open or sensible-browser)
              pushy dashboard --format json   # {"url": ..., "expires_at": ...}
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: FormatOptions

    @Flag(name: .long, help: "Open the link in a browser as well as printing it.")
    var open = false

    func run() async throws {
        let link = try await connection.makeClient().dashboardLink()
        if output.isJSON {
            Output.json(["url": .string(link.url), "expires_at": .string(link.expiresAt), "user": .string(link.user)])
        } else {
            print(link.url)
            Output.stderr("Sign-in link for \(link.user); it works once, until \(link.expiresAt).")
        }
        if open {
            if let browser = Self.browser() {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: browser)
                p.arguments = [link.url]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                do { try p.run() } catch { Output.stderr("could not start \(browser): \(error); open the link above by hand") }
            } else {
                Output.stderr("no browser found (set BROWSER, or install xdg-open); open the link above by hand")
            }
        }
    }

    /// `$BROWSER`, else `xdg-open`, `sensible-browser` or `open` from PATH.
    static func browser(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        var names = ["xdg-open", "sensible-browser", "open"]
        if let b = environment["BROWSER"], !b.isEmpty {
            if b.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: b) ? b : nil }
            names.insert(b, at: 0)
        }
        for name in names {
            for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
        }
        return nil
    }
}
