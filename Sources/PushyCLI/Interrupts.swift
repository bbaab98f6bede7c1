import Dispatch
import Foundation
import Synchronization

/// Runs `body` with SIGINT (Ctrl-C) delivered to `handler` on a private serial queue instead of
/// killing the process; the default action is restored afterwards. Calls to the handler never
/// overlap, so a prompt it shows is not interrupted by a second Ctrl-C (that one is handled
/// once the first answer is in).
func withInterruptHandler<T>(_ handler: @escaping @Sendable () -> Void,
                             body: () async throws -> T) async rethrows -> T {
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "pushy.sigint"))
    source.setEventHandler(handler: handler)
    source.resume()
    defer {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
    return try await body()
}

/// The operator's terminal: stdin when it is one, else /dev/tty (stdin may be a pipe or a
/// file in scripts). `nil` when the process has no terminal at all.
struct Terminal {
    let input: Int32
    let output: Int32
    let ownsDescriptor: Bool

    /// Set while a question is on the screen, so progress lines do not overwrite it.
    static let prompting = Atomic<Bool>(false)

    static var isPrompting: Bool { prompting.load(ordering: .sequentiallyConsistent) }

    static func open() -> Terminal? {
        if isatty(STDIN_FILENO) == 1 { return Terminal(input: STDIN_FILENO, output: STDERR_FILENO, ownsDescriptor: false) }
        let fd = Foundation.open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        return Terminal(input: fd, output: fd, ownsDescriptor: true)
    }

    /// Shows `question` and reads one line; `nil` at end of input.
    func ask(_ question: String) -> String? {
        Terminal.prompting.store(true, ordering: .sequentiallyConsistent)
        defer { Terminal.prompting.store(false, ordering: .sequentiallyConsistent) }
        write(question)
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(input, &byte, 1)
            if n < 0, errno == EINTR { continue }
            guard n == 1 else { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Foundation.write(output, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            done += n
        }
    }

    func close() {
        if ownsDescriptor { _ = Foundation.close(input) }
    }
}
