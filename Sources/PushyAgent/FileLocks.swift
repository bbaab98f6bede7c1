import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Lock files of `lock` whitelist entries (spec 7.2): a non-blocking exclusive `flock`, taken at
/// commit and released when the job starts or is dropped. The file is never truncated (the
/// reference client truncated it, wiping chef-client's pid).
final class FileLocks: Sendable {
    private let held = Mutex<[String: Int32]>([:])

    /// Takes the lock; nil on success, else the nack reason.
    func tryLock(_ path: String) -> String? {
        let dir = path.deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return "cannot open lock file \(path): \(String(cString: strerror(errno)))" }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            close(fd)
            return e == EWOULDBLOCK ? "lock held: \(path)" : "cannot lock \(path): \(String(cString: strerror(e)))"
        }
        let previous = held.withLock { h in
            defer { h[path] = fd }
            return h[path]
        }
        if let previous { close(previous) }
        return nil
    }

    /// Lets go of the lock (closing the descriptor drops the flock).
    func release(_ path: String) {
        if let fd = held.withLock({ $0.removeValue(forKey: path) }) { close(fd) }
    }

    func releaseAll() {
        for fd in held.withLock({ h in defer { h = [:] }; return Array(h.values) }) { close(fd) }
    }
}
