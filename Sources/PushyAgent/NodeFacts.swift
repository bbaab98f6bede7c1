import FoundationEssentials
import PushyProtocol

#if canImport(Glibc)
import Glibc
#endif

/// What the agent finds out about its machine (a small, dependency-free "ohai"): host name,
/// platform, kernel, addresses, CPU count and memory.
enum NodeFacts {
    static func collect() -> JSONValue {
        var pairs: [(String, JSONValue)] = []
        let host = hostName()
        pairs.append(("hostname", .string(String(host.split(separator: ".").first ?? Substring(host)))))
        pairs.append(("fqdn", .string(host)))
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        pairs.append(("os", .string(field(u.sysname).lowercased())))
        pairs.append(("kernel", ["name": .string(field(u.sysname)), "release": .string(field(u.release)),
                                 "machine": .string(field(u.machine))]))
        let osRelease = readOSRelease()
        pairs.append(("platform", .string(osRelease["ID"] ?? field(u.sysname).lowercased())))
        pairs.append(("platform_version", .string(osRelease["VERSION_ID"] ?? "")))
        pairs.append(("platform_family", .string(osRelease["ID_LIKE"]?.split(separator: " ").first.map(String.init) ?? osRelease["ID"] ?? "")))
        let ips = addresses()
        if let first = ips.first(where: { !$0.contains(":") }) ?? ips.first { pairs.append(("ipaddress", .string(first))) }
        pairs.append(("ipaddresses", .array(ips.map(JSONValue.string))))
        pairs.append(("cpu", ["total": .number(Double(ProcessInfo.processInfo.processorCount))]))
        pairs.append(("memory", ["total_bytes": .number(Double(ProcessInfo.processInfo.physicalMemory))]))
        return .object(pairs)
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func readOSRelease() -> [String: String] {
        guard let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            out[String(kv[0])] = kv[1].trimming { $0 == "\"" }
        }
        return out
    }

    /// Non-loopback interface addresses, IPv4 first.
    static func addresses() -> [String] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var v4: [String] = [], v6: [String] = []
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let cur = p {
            defer { p = cur.pointee.ifa_next }
            guard let sa = cur.pointee.ifa_addr, (cur.pointee.ifa_flags & UInt32(IFF_LOOPBACK)) == 0 else { continue }
            let family = Int32(sa.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let len = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            guard getnameinfo(sa, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let s = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if family == AF_INET { v4.append(s) } else if !s.hasPrefix("fe80") { v6.append(s) }
        }
        return v4 + v6
    }
}
