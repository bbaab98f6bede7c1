import PushyProtocol
import Testing

@testable import PushyCore

@Suite(.timeLimit(.minutes(2))) struct WhitelistTests {
    func whitelist(_ entries: [WhitelistEntry]) throws -> Whitelist { try Whitelist(entries: entries) }

    @Test func exactHitAndMiss() throws {
        let list = try whitelist([WhitelistEntry(pattern: .exact("chef-client"), commandLine: "chef-client -l info")])
        #expect(list.resolve("chef-client") == WhitelistMatch(commandLine: "chef-client -l info", lock: nil))
        #expect(list.resolve("chef-client ") == nil)
        #expect(list.resolve("Chef-client") == nil)
        #expect(list.resolve("rm -rf /") == nil)
        #expect(Whitelist.chefDefault.resolve("chef-client") == WhitelistMatch(commandLine: "chef-client", lock: nil))
    }

    @Test func exactBeatsEarlierRegex() throws {
        let list = try whitelist([
            WhitelistEntry(pattern: .regex("^chef"), commandLine: "from-regex"),
            WhitelistEntry(pattern: .exact("chef-client"), commandLine: "from-exact"),
        ])
        #expect(list.resolve("chef-client")?.commandLine == "from-exact")
        #expect(list.resolve("chef-solo")?.commandLine == "from-regex-solo")
    }

    @Test func firstMatchingRegexWinsInOrder() throws {
        let list = try whitelist([
            WhitelistEntry(pattern: .regex("^deploy (\\w+)$"), commandLine: "first"),
            WhitelistEntry(pattern: .regex("deploy"), commandLine: "second"),
            WhitelistEntry(pattern: .regex("x"), commandLine: "third"),
        ])
        #expect(list.resolve("deploy app")?.commandLine == "first")
        #expect(list.resolve("deploy app now")?.commandLine == "second app now")
        #expect(list.resolve("box")?.commandLine == "bothird")
        #expect(list.resolve("nothing") == nil)
    }

    @Test func backReferencesAreRubyStyle() throws {
        let list = try whitelist([
            WhitelistEntry(pattern: .regex("^restart (\\w+)( now)?$"), commandLine: "systemctl restart \\1[\\2] # \\0 \\& \\\\ \\x \\9 $1"),
            WhitelistEntry(pattern: .regex("=(\\d+)"), commandLine: "<\\`|\\'>"),
        ])
        #expect(list.resolve("restart nginx")?.commandLine
            == "systemctl restart nginx[] # restart nginx restart nginx \\ \\x  $1")
        #expect(list.resolve("restart nginx now")?.commandLine
            == "systemctl restart nginx[ now] # restart nginx now restart nginx now \\ \\x  $1")
        #expect(list.resolve("a=1b")?.commandLine == "a<a|b>b")
    }

    @Test func gsubReplacesEveryMatch() throws {
        let list = try whitelist([WhitelistEntry(pattern: .regex("(\\d)"), commandLine: "<\\1>")])
        #expect(list.resolve("job 1 and 22")?.commandLine == "job <1> and <2><2>")
        let empty = try whitelist([WhitelistEntry(pattern: .regex("x*"), commandLine: "-")])
        #expect(empty.resolve("abc")?.commandLine == "-a-b-c-")
    }

    @Test func lockEntriesKeepTheirLock() throws {
        let list = try Whitelist.fromJSON(
            JSONValue.parse(#"""
                {"chef-client": {"command_line": "chef-client", "lock": true},
                 "/^run-(\\w+)$/": {"command_line": "run \\1", "lock": "/var/lock/run"},
                 "plain": {"command_line": "plain", "lock": false}}
                """#))
        #expect(list.resolve("chef-client") == WhitelistMatch(commandLine: "chef-client", lock: .defaultLock))
        #expect(list.resolve("run-x") == WhitelistMatch(commandLine: "run x", lock: .path("/var/lock/run")))
        #expect(list.resolve("plain") == WhitelistMatch(commandLine: "plain", lock: nil))
    }

    @Test func fromJSONKeepsKeyOrder() throws {
        let list = try Whitelist.fromJSON([
            "/b/": "first \\0",
            "/a/": "second",
            "exact": "e",
            "/": "a slash is an exact name",
        ])
        #expect(list.entries.map(\.pattern) == [.regex("b"), .regex("a"), .exact("exact"), .exact("/")])
        #expect(list.resolve("ab")?.commandLine == "afirst b")
        #expect(list.resolve("/")?.commandLine == "a slash is an exact name")
    }

    static let badJSONCases: [(JSONValue, String)] = [
        (JSONValue.array([]), "whitelist must be a JSON object mapping command names to command lines"),
        (["x": 3], "whitelist entry 'x' must be a command line string or an object with 'command_line'"),
        (["x": ""], "whitelist entry 'x' has an empty command line"),
        (["x": ["lock": true]], "whitelist entry 'x' needs a non-empty string 'command_line'"),
        (["x": ["command_line": "c", "lock": 1]], "whitelist entry 'x': 'lock' must be true, false or a lock file path"),
        (["x": ["command_line": "c", "lok": true]], "whitelist entry 'x': unknown key 'lok' (expected command_line, lock)"),
        (["/(/": "c"], "whitelist regex /(/ is not a valid regular expression"),
    ]

    @Test(arguments: badJSONCases)
    func badJSON(_ value: JSONValue, _ message: String) {
        #expect(throws: WhitelistError(message)) { try Whitelist.fromJSON(value) }
    }

    @Test func badRegexFailsAtConstruction() {
        #expect(throws: WhitelistError("whitelist regex /[unclosed/ is not a valid regular expression")) {
            try Whitelist(entries: [WhitelistEntry(pattern: .regex("[unclosed"), commandLine: "x")])
        }
        #expect(throws: WhitelistError("whitelist regex '//' is empty")) {
            try Whitelist(entries: [WhitelistEntry(pattern: .regex(""), commandLine: "x")])
        }
    }

    @Test(arguments: [
        ("chef-client=chef-client", WhitelistEntry(pattern: .exact("chef-client"), commandLine: "chef-client")),
        ("env=FOO=bar baz --x=1", WhitelistEntry(pattern: .exact("env"), commandLine: "FOO=bar baz --x=1")),
        ("/^up (\\w+)$/=service \\1 start", WhitelistEntry(pattern: .regex("^up (\\w+)$"), commandLine: "service \\1 start")),
        ("/a=b/=x=y", WhitelistEntry(pattern: .regex("a=b"), commandLine: "x=y")),
        ("/a\\/=b/=c", WhitelistEntry(pattern: .regex("a\\/=b"), commandLine: "c")),
        ("/usr/bin/foo=/usr/bin/foo -v", WhitelistEntry(pattern: .exact("/usr/bin/foo"), commandLine: "/usr/bin/foo -v")),
    ])
    func flagParsing(_ flag: String, _ expected: WhitelistEntry) throws {
        #expect(try WhitelistEntry.parse(flag: flag) == expected)
    }

    @Test(arguments: [
        ("chef-client", "whitelist entry 'chef-client': expected NAME=COMMAND LINE or /REGEX/=COMMAND LINE"),
        ("=cmd", "whitelist entry '=cmd': the command name before '=' is empty"),
        ("name=", "whitelist entry 'name=': expected a command line after 'name='"),
        ("//=cmd", "whitelist entry '//=cmd': the regex between the slashes is empty"),
        ("/re/=", "whitelist entry '/re/=': expected a command line after '/re/='"),
    ])
    func flagErrors(_ flag: String, _ message: String) {
        #expect(throws: WhitelistError(message)) { try WhitelistEntry.parse(flag: flag) }
    }

    @Test func parsedFlagsBuildAWhitelist() throws {
        let list = try Whitelist(entries: ["/^echo (.*)$/=echo \\1", "echo=true"].map { try WhitelistEntry.parse(flag: $0) })
        #expect(list.resolve("echo")?.commandLine == "true")
        #expect(list.resolve("echo hi")?.commandLine == "echo hi")
    }
}
