import Dispatch
import Foundation
import Synchronization

/// Runs `body` with SIGINT (Ctrl-C) delivered to `handler` on a private serial queue instead of
/// killing the process; the default action is restored afterwards. Calls to the handler never
/// overlap, so a prompt it shows is not interrupted by a second Ctrl-C (that one is handled
/// once the first answer is in).
///
/// The signal's own handler only writes a byte to a pipe, installed before this returns: a
/// Dispatch signal source registers itself later, on another thread, and a Ctrl-C in between
/// (with SIGINT ignored meanwhile, as such a source needs) was lost.
func withInterruptHandler<T>(_ handler: @escaping @Sendable () -> Void,
                             body: () async throws -> T) async rethrows -> T {
    let pipe = InterruptPipe.shared
    guard pipe.read >= 0 else { return try await body() }  // no pipe: Ctrl-C keeps its default
    _ = pipe.drain()  // nothing left from an earlier use
    let source = DispatchSource.makeReadSource(fileDescriptor: pipe.read, queue: DispatchQueue(label: "pushy.sigint"))
    source.setEventHandler {
        if pipe.drain() { handler() }
    }
    source.resume()
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in InterruptPipe.signalled() }
    sigemptyset(&action.sa_mask)
    action.sa_flags = SA_RESTART
    var previous = sigaction()
    sigaction(SIGINT, &action, &previous)
    defer {
        sigaction(SIGINT, &previous, nil)
        source.cancel()
    }
    return try await body()
}

/// The self-pipe SIGINT writes to (`withInterruptHandler`): created once, non-blocking. One
/// `withInterruptHandler` at a time per process (the CLI has one: `job start`).
struct InterruptPipe: Sendable {
    let read: Int32
    let write: Int32

    static let shared: InterruptPipe = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return InterruptPipe(read: -1, write: -1) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        writeEnd.store(fds[1], ordering: .sequentiallyConsistent)
        return InterruptPipe(read: fds[0], write: fds[1])
    }()

    /// The write end, for the signal handler (which may only touch plain memory and call write).
    private static let writeEnd = Atomic<Int32>(-1)

    /// The signal handler's whole work: one byte, async-signal-safe.
    static func signalled() {
        let saved = errno  // the interrupted code's errno stays as it was
        var byte: UInt8 = 1
        _ = Foundation.write(writeEnd.load(ordering: .relaxed), &byte, 1)
        errno = saved
    }

    /// Reads every pending byte; whether there was any.
    func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64)
        var any = false
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(read, $0.baseAddress, $0.count) }
            if n > 0 { any = true; continue }
            if n < 0, errno == EINTR { continue }
            return any
        }
    }
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
