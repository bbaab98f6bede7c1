#if canImport(Glibc)
import Glibc
#endif

extension Double {
    /// printf's `%.1f` (what `String(format: "%.1f", x)` gave), for delays in log lines.
    var oneDecimal: String {
        var buffer = [CChar](repeating: 0, count: 32)
        _ = withVaList([self]) { vsnprintf(&buffer, buffer.count, "%.1f", $0) }
        return String(cString: buffer)
    }
}
