#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reads a process's memory and CPU from /proc (Linux only).
enum ProcessProbe {
    /// Resident set size in bytes (`VmRSS`), or nil when the process is gone.
    static func rss(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// `VmRSS`, `RssAnon` (heap and stacks) and `RssFile` (mapped files) in bytes, or nil.
    static func memory(pid: Int32) -> (rss: Int, anon: Int, file: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var found: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let name = parts.first, ["VmRSS:", "RssAnon:", "RssFile:"].contains(name),
                  let kb = parts.compactMap({ Int($0) }).first else { continue }
            found[String(name)] = kb * 1024
        }
        guard let rss = found["VmRSS:"] else { return nil }
        return (rss, found["RssAnon:"] ?? 0, found["RssFile:"] ?? 0)
    }

    /// User + system CPU time in seconds (`/proc/PID/stat` fields 14 and 15).
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) fields[12].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds of `pid` and its children: its own, its reaped children's (`cutime`, `cstime`)
    /// and those of its children running now (a PostgreSQL postmaster and its backends).
    static func treeCPUSeconds(pid: Int32) -> Double? {
        func fields(_ p: String) -> [Substring]? {
            guard let text = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            return text[text.index(after: close)...].split(separator: " ")
        }
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        // fields[0] is field 3; ppid (4) is fields[1], utime..cstime (14-17) fields[11...14].
        guard let own = fields("\(pid)"), own.count > 14 else { return nil }
        var total = own[11...14].compactMap { Double($0) }.reduce(0, +)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where entry.first?.isNumber == true {
            guard let f = fields(entry), f.count > 12, Int32(f[1]) == pid else { continue }
            total += (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)
        }
        return total / tick
    }

    /// Open descriptors of a process (entries of /proc/PID/fd).
    static func openFiles(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// A TCP port that was free a moment ago (bound on all addresses, then released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr = in_addr(s_addr: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return 0 }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// `nproc` and total memory, for the report.
    static func machine() -> String {
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        var memory = "?"
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kb = line.split(separator: " ").compactMap({ Int($0) }).first {
            memory = String(format: "%.1f GB", Double(kb) / 1_048_576)
        }
        return "\(cpus) CPUs (nproc) \(cpuModel()), \(memory) RAM, file limit \(fileLimit()) per process"
    }

    /// The CPU's model name (`lscpu`'s "Model name", from /proc/cpuinfo): absolute figures move
    /// with it, ratios to the floor measured in the same run much less.
    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "(CPU model unknown)" }
        return "(" + line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) + ")"
    }

    static func fileLimit() -> Int {
        var rl = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return 1024 }
        return Int(clamping: rl.rlim_cur)
    }
}
