import Foundation
import Synchronization
import Testing

@testable import PushyAgent

/// The agent's stand-ins for Foundation-only helpers (String+Path, Double+Decimal,
/// DetachedThread) give what Foundation gave.
@Suite(.timeLimit(.minutes(1))) struct AgentFoundationParityTests {
    // "a" and "a/" are left out: Foundation on Linux traps on them (now "").
    @Test(arguments: ["/tmp/a/b", "/tmp/a/", "/", "/a", "", "a/b", "//a//b//", "./a", "../a", "a/b/", "/a/b/c", "/var/lib/pushy/key.pem"])
    func parentLikeFoundation(_ path: String) {
        #expect(path.deletingLastPathComponent == (path as NSString).deletingLastPathComponent)
    }

    @Test func bareNamesHaveNoParent() {
        #expect("key.pem".deletingLastPathComponent == "")
        #expect("dir/".deletingLastPathComponent == "")
    }

    @Test func temporaryDirectoryLikeFoundation() {
        #expect(String.temporaryDirectory == NSTemporaryDirectory())
    }

    @Test(arguments: [0, 0.05, 0.25, 0.35, 1.04999, 2.5, 12.96, 30, 123456.789, -1.25])
    func oneDecimalLikeStringFormat(_ x: Double) {
        #expect(x.oneDecimal == String(format: "%.1f", x))
    }

    @Test func detachedThreadRunsOffThePool() async {
        let ran = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            DetachedThread.start { done.resume(returning: true) }
        }
        #expect(ran)
    }
}
