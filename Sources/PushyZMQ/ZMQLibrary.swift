import CZMQ
import FoundationEssentials

/// The libzmq this process runs: its version, and whether it is the copy linked into the
/// executable (`scripts/build-libzmq.sh`: smaller pipe chunks and buffers, docs/decisions.md) or a
/// shared system library, which costs the server up to four times the memory per agent.
public enum ZMQLibrary {
    public static let version: String = {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }()

    /// The shared `libzmq.so` this process mapped, if any (read from /proc/self/maps; nil when
    /// libzmq is linked into the executable, or where /proc is missing). Read once: it cannot change.
    public static let sharedLibraryPath: String? = {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        for line in maps.split(separator: "\n") where line.contains("libzmq.so") {
            if let slash = line.firstIndex(of: "/") { return String(line[slash...]) }
        }
        return nil
    }()

    /// True when libzmq is linked into the executable rather than loaded from `libzmq.so`.
    public static var isBuiltIn: Bool { sharedLibraryPath == nil }

    /// One line for logs and `pushy-server` status: "4.3.4 (built in)" or "4.3.4 (/usr/lib/…/libzmq.so.5)".
    public static var summary: String {
        "\(version) (\(sharedLibraryPath ?? "built in"))"
    }
}
