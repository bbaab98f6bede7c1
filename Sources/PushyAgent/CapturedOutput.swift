import FoundationEssentials
import PushyProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Reads a job's captured output from its files without loading more than is sent, and fits
/// the final stdout+stderr into the message budget by keeping the tails (spec 12 point 8).
enum CapturedOutput {
    /// What the final `succeeded`/`failed` carries.
    struct Final: Equatable {
        var stdout: String
        var stderr: String
        var stdoutTruncated: Bool
        var stderrTruncated: Bool
        /// `"base64"` when the strings are base64 of the exact bytes, nil for plain strings.
        var encoding: String?
    }

    /// Size of a file in bytes (0 when missing).
    static func size(_ path: String?) -> Int {
        guard let path else { return 0 }
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Up to `count` bytes of the file starting at `offset`.
    static func read(_ path: String?, offset: Int, count: Int) -> [UInt8] {
        guard let path, count > 0 else { return [] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes.withUnsafeMutableBytes { buf in
                pread(fd, buf.baseAddress! + got, count - got, off_t(offset + got))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return Array(bytes.prefix(got))
    }

    /// How many trailing bytes of each stream to keep so both fit in `budget` bytes: all of
    /// both when they fit; else each stream gets at least half, and what one does not need
    /// goes to the other (so a long stdout never crowds out a short stderr, or the reverse).
    static func split(stdout: Int, stderr: Int, budget: Int) -> (stdout: Int, stderr: Int) {
        let budget = max(0, budget)
        guard stdout + stderr > budget else { return (stdout, stderr) }
        let errKeep = min(stderr, max(budget / 2, budget - stdout))
        return (min(stdout, budget - errKeep), errKeep)
    }

    /// The final output of the files, within `budget` bytes of encoded text for both streams.
    static func final(stdoutPath: String?, stderrPath: String?, budget: Int, base64: Bool) -> Final {
        let outSize = size(stdoutPath), errSize = size(stderrPath)
        if base64 {
            // 4 characters per 3 bytes, plus up to 4 of padding per stream.
            let raw = max(0, (budget - 8) / 4 * 3)
            let keep = split(stdout: outSize, stderr: errSize, budget: raw)
            let out = read(stdoutPath, offset: outSize - keep.stdout, count: keep.stdout)
            let err = read(stderrPath, offset: errSize - keep.stderr, count: keep.stderr)
            return Final(stdout: Data(out).base64EncodedString(), stderr: Data(err).base64EncodedString(),
                         stdoutTruncated: out.count < outSize, stderrTruncated: err.count < errSize, encoding: "base64")
        }
        let keep = split(stdout: outSize, stderr: errSize, budget: budget)
        var out = read(stdoutPath, offset: outSize - keep.stdout, count: keep.stdout)
        var err = read(stderrPath, offset: errSize - keep.stderr, count: keep.stderr)
        // Plain strings grow in JSON (escapes) and in UTF-8 (U+FFFD for invalid bytes): cut further.
        for _ in 0..<16 {
            let excess = jsonLength(out) + jsonLength(err) - budget
            guard excess > 0 else { break }
            if jsonLength(out) >= jsonLength(err) {
                out.removeFirst(min(out.count, excess + 3))
            } else {
                err.removeFirst(min(err.count, excess + 3))
            }
        }
        return Final(stdout: lossyText(out), stderr: lossyText(err), stdoutTruncated: out.count < outSize,
                     stderrTruncated: err.count < errSize, encoding: nil)
    }

    /// UTF-8 text of a tail, skipping a character cut in half at its start.
    static func lossyText(_ bytes: [UInt8]) -> String {
        var start = 0
        while start < min(3, bytes.count), bytes[start] & 0xC0 == 0x80 { start += 1 }
        return String(decoding: bytes[start...], as: UTF8.self)
    }

    /// Length of the bytes as a JSON string body on the wire.
    static func jsonLength(_ bytes: [UInt8]) -> Int {
        JSONValue.string(lossyText(bytes)).serialized().utf8.count - 2
    }

    /// A chunk of live output as sent in an `output` message's `data`.
    static func encodeChunk(_ bytes: [UInt8], base64: Bool) -> String {
        base64 ? Data(bytes).base64EncodedString() : String(decoding: bytes, as: UTF8.self)
    }
}
