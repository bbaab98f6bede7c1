import Foundation

/// The dashboard's static files (HTML, CSS, JavaScript in `Sources/PushyServer/Dashboard`), a
/// SwiftPM resource of this module, read once into memory.
///
/// SwiftPM puts them in `pushy_PushyServer.resources/Dashboard` next to the executables (and next
/// to the test bundle). An install that moves the binaries copies that folder beside them, or to
/// `PREFIX/share/pushy/dashboard`, or names it with `PUSHY_DASHBOARD_DIR`. Without it the server
/// still runs and `/dashboard` says what is missing.
struct DashboardAssets: Sendable {
    struct File: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    /// By file name (`nodes.html`, `dashboard.js`, ...).
    let files: [String: File]
    /// Where they were read from, or every place looked at when none was found.
    let origin: String

    static let shared = DashboardAssets.load()

    static func candidates() -> [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["PUSHY_DASHBOARD_DIR"], !env.isEmpty { dirs.append(env) }
        let exeDir = (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments.first ?? "."))
            .resolvingSymlinksInPath().deletingLastPathComponent()
        dirs.append(exeDir.appendingPathComponent("pushy_PushyServer.resources/Dashboard").path)
        dirs.append(Bundle.main.bundleURL.appendingPathComponent("pushy_PushyServer.resources/Dashboard").path)
        dirs.append(exeDir.appendingPathComponent("../share/pushy/dashboard").standardized.path)
        return dirs
    }

    static func load() -> DashboardAssets {
        let dirs = candidates()
        for dir in dirs {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir), names.contains("nodes.html") else { continue }
            var files: [String: File] = [:]
            for name in names {
                guard let type = contentType(name),
                      let data = FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent(name))
                else { continue }
                files[name] = File(bytes: Array(data), contentType: type)
            }
            return DashboardAssets(files: files, origin: dir)
        }
        return DashboardAssets(files: [:], origin: dirs.joined(separator: ", "))
    }

    static func contentType(_ name: String) -> String? {
        if name.hasSuffix(".html") { return "text/html; charset=utf-8" }
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".svg") { return "image/svg+xml" }
        return nil
    }
}
