import PushyProtocol
import Testing

@testable import PushyCore

@Suite(.timeLimit(.minutes(1)))
struct OutputGroupTests {
    @Test func identicalBytesGroupLargestFirst() {
        let ok = Array("ok\n".utf8), bad = Array("disk full\n".utf8)
        var outputs: [(node: String, bytes: [UInt8], truncated: Bool)] = []
        for i in 1...998 { outputs.append(("web\(i)", ok, false)) }
        outputs.insert(("web7b", bad, false), at: 6)
        outputs.append(("web9b", bad, false))
        let groups = OutputGroup.group(outputs)
        #expect(groups.map(\.nodes.count) == [998, 2])
        #expect(groups[1].nodes == ["web7b", "web9b"])
        #expect(groups[0].bytes == ok)
    }

    /// Exact bytes: a trailing newline, a truncation mark or one byte apart make another group.
    @Test func exactBytesAndTruncationSeparate() {
        let groups = OutputGroup.group([
            ("a", Array("x".utf8), false), ("b", Array("x\n".utf8), false), ("c", Array("x".utf8), true),
            ("d", Array("x".utf8), false),
        ])
        #expect(groups.map(\.nodes) == [["a", "d"], ["b"], ["c"]])
    }

    @Test func equalSizesKeepFirstSeenOrder() {
        let groups = OutputGroup.group([("z", [1], false), ("y", [2], false), ("x", [3], false)])
        #expect(groups.map(\.nodes) == [["z"], ["y"], ["x"]])
        #expect(OutputGroup.group([]).isEmpty)
    }

    @Test func jsonCarriesTextOrBase64() {
        let text = OutputGroup(bytes: Array("héllo".utf8), truncated: false, nodes: ["a"]).json
        #expect(text["encoding"]?.stringValue == "utf-8")
        #expect(text["data"]?.stringValue == "héllo")
        #expect(text["count"]?.intValue == 1)
        let binary = OutputGroup(bytes: [0xff, 0x00], truncated: true, nodes: ["a", "b"]).json
        #expect(binary["encoding"]?.stringValue == "base64")
        #expect(binary["data"]?.stringValue == "/wA=")
        #expect(binary["truncated"]?.boolValue == true)
    }
}
