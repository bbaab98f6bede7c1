import CFuzzDriver

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Stops the run with `message` on stderr when `condition` is false. libFuzzer treats the abort
/// as a crash, saves the input as `crash-<sha1>` and exits non-zero, so a broken round trip is
/// reported exactly like a memory error. (`precondition` would be compiled out under -Ounchecked
/// and prints less.)
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    guard !condition() else { return }
    let text = "fuzz check failed at \(file):\(line): \(message())\n"
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The input bytes as an array (libFuzzer passes a pointer that may be null when `count` is 0).
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
    guard let data, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: count))
}

/// The input as text when it is valid UTF-8 (parsers that take a `String` see only such input
/// in production: HTTP headers and query strings are decoded before they reach them).
public func fuzzString(_ data: UnsafePointer<UInt8>?, _ count: Int) -> String? {
    String(validating: fuzzBytes(data, count), as: UTF8.self)
}

/// The body of a harness's entry point. SwiftPM links every executable with `main` defined as
/// `<module>_main` (so tests can call it), which keeps libFuzzer's own `main` out; each harness
/// therefore defines `<module>_main` with `@_cdecl` and hands its target to libFuzzer's driver.
public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, target)
}
