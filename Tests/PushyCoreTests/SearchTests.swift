import PushyProtocol
import Testing

@testable import PushyCore

/// Table-driven search tests: each row is a query and the names of the nodes it must select from `fleet`.
@Suite(.timeLimit(.minutes(2))) struct SearchTests {
    static let web1 = SearchDocument.node(
        name: "web1", environment: "production", roles: ["webapp", "base"], tags: ["frontend"],
        attributes: [
            "ipaddress": "10.0.0.1",
            "kernel": ["machine": "x86_64", "name": "Linux"],
            "cpu": ["total": 4],
            "memory": ["total_gb": 2.5],
            "virtual": true,
            "network": ["interfaces": [["name": "eth0"], ["name": "lo"]]],
            "macaddress": "00:11:22",
            "hostname": "web-1",
        ])
    static let web2 = SearchDocument.node(
        name: "web 2", environment: "dev", roles: ["webapp"], tags: [],
        attributes: [
            "ipaddress": "10.0.0.2",
            "kernel": ["machine": "aarch64", "name": "Linux"],
            "cpu": ["total": 16],
            "virtual": false,
            "hostname": "web*2",
        ])
    static let db1 = SearchDocument.node(
        name: "db1", environment: "production", roles: ["db"], tags: ["backend", "critical"],
        attributes: [
            "ipaddress": "10.0.1.1",
            "kernel": ["machine": "x86_64", "name": "FreeBSD"],
            "cpu": ["total": 8],
            "platform_version": "12.10",
        ])
    static let fleet: [(String, SearchDocument)] = [("web1", web1), ("web 2", web2), ("db1", db1)]

    static let rows: [(query: String, expected: Set<String>)] = [
        // fields, aliases and flattening
        ("name:web1", ["web1"]),
        ("NAME:WEB1", ["web1"]),
        ("role:webapp", ["web1", "web 2"]),
        ("roles:db", ["db1"]),
        ("chef_environment:production", ["web1", "db1"]),
        ("environment:dev", ["web 2"]),
        ("tags:critical", ["db1"]),
        ("tag:frontend", ["web1"]),
        ("kernel_machine:x86_64", ["web1", "db1"]),
        ("machine:aarch64", ["web 2"]),
        ("kernel:machine", ["web1", "web 2", "db1"]),
        ("cpu_total:4", ["web1"]),
        ("memory_total_gb:2.5", ["web1"]),
        ("virtual:true", ["web1"]),
        ("network_interfaces_name:lo", ["web1"]),
        ("ipaddress:10.0.0.1", ["web1"]),
        ("linux", ["web1", "web 2"]),
        // wildcards
        ("name:web*", ["web1", "web 2"]),
        ("name:?b1", ["db1"]),
        ("ipaddress:10.0.0.*", ["web1", "web 2"]),
        ("ipaddress:10.0.*", ["web1", "web 2", "db1"]),
        ("platform_version:*", ["db1"]),
        ("*:*", ["web1", "web 2", "db1"]),
        ("*", ["web1", "web 2", "db1"]),
        ("*:db1", ["db1"]),
        ("hostname:web\\*2", ["web 2"]),
        ("hostname:web\\*", []),
        // quoting and escapes
        ("name:\"web 2\"", ["web 2"]),
        ("name:\"web*\"", []),
        ("macaddress:\"00:11:22\"", ["web1"]),
        ("macaddress:00\\:11\\:22", ["web1"]),
        ("hostname:web\\-1", ["web1"]),
        ("hostname:web-1", ["web1"]),
        ("name:web\\ 2", ["web 2"]),
        // operators
        ("role:webapp AND chef_environment:production", ["web1"]),
        ("role:webapp && chef_environment:production", ["web1"]),
        ("role:db OR name:web1", ["web1", "db1"]),
        ("role:db || name:web1", ["web1", "db1"]),
        ("role:db name:web1", ["web1", "db1"]),
        ("role:webapp AND NOT chef_environment:dev", ["web1"]),
        ("role:webapp AND !chef_environment:dev", ["web1"]),
        ("role:webapp -chef_environment:dev", ["web1"]),
        ("role:webapp NOT chef_environment:dev", ["web1"]),
        ("NOT role:webapp", ["db1"]),
        ("!role:webapp", ["db1"]),
        ("-role:webapp", ["db1"]),
        ("+role:webapp name:db1", ["web1", "web 2"]),
        ("+role:webapp +chef_environment:dev", ["web 2"]),
        ("NOT (role:db OR name:web1)", ["web 2"]),
        ("NOT NOT role:db", ["db1"]),
        // precedence: AND binds tighter than OR, adjacency is OR
        ("name:db1 OR role:webapp AND chef_environment:dev", ["db1", "web 2"]),
        ("role:webapp AND chef_environment:dev OR name:db1", ["db1", "web 2"]),
        ("(name:db1 OR role:webapp) AND chef_environment:production", ["web1", "db1"]),
        ("name:db1 role:webapp AND chef_environment:dev", ["db1", "web 2"]),
        // Solr's reading of OR NOT, and the parenthesised boolean one
        ("name:web1 OR NOT role:db", ["web1"]),
        ("name:web1 OR (NOT role:db)", ["web1", "web 2"]),
        // grouped values
        ("role:(db OR base)", ["web1", "db1"]),
        ("role:(webapp AND base)", ["web1"]),
        ("role:(webapp -base)", ["web 2"]),
        ("kernel_name:(freebsd name:web1)", ["web1", "db1"]),
        // ranges
        ("cpu_total:[4 TO 8]", ["web1", "db1"]),
        ("cpu_total:{4 TO 8}", []),
        ("cpu_total:{4 TO 16]", ["web 2", "db1"]),
        ("cpu_total:[10 TO *]", ["web 2"]),
        ("cpu_total:[* TO 4]", ["web1"]),
        ("cpu_total:[* TO *]", ["web1", "web 2", "db1"]),
        ("platform_version:[9 TO 13]", ["db1"]),
        ("name:[a TO e]", ["db1"]),
        ("name:[db1 TO web1]", ["web1", "web 2", "db1"]),
        ("chef_environment:{dev TO production}", []),
        ("chef_environment:{dev TO production]", ["web1", "db1"]),
        ("chef_environment:[dev TO production}", ["web 2"]),
        // Chef's gotcha kept on purpose: nested attribute keys called `name` are indexed under `name` too.
        ("name:linux", ["web1", "web 2"]),
        ("ipaddress:[\"10.0.0.0\" TO \"10.0.0.9\"]", ["web1", "web 2"]),
        ("cpu_total:[-5 TO 5]", ["web1"]),
    ]

    @Test(arguments: rows)
    func query(_ row: (query: String, expected: Set<String>)) throws {
        let query = try SearchQuery.parse(row.query)
        let selected = Set(Self.fleet.filter { query.matches($0.1) }.map(\.0))
        #expect(selected == row.expected, "\(row.query)")
    }

    static let errors: [(query: String, message: String, position: Int)] = [
        ("", "empty query: expected a search term at position 0", 0),
        ("   ", "empty query: expected a search term at position 3", 3),
        ("role:", "expected a value after 'role:' at position 5", 5),
        ("role: AND name:x", "expected a value after 'role:' at position 6", 6),
        ("(role:web OR name:x", "expected ')' to close the '(' at position 0 at position 19", 19),
        ("role:web)", "unexpected ')' with no matching '(' at position 8", 8),
        ("role:(web", "expected ')' to close the '(' at position 5 at position 9", 9),
        ("()", "expected a search term at position 1", 1),
        ("role:web AND", "expected a search term after 'AND' at position 12", 12),
        ("role:web OR", "expected a search term after 'OR' at position 11", 11),
        ("AND role:web", "unexpected 'AND': expected a search term at position 0", 0),
        ("NOT", "expected a search term after 'NOT' at position 3", 3),
        ("- role:web", "expected a search term right after '-' at position 1", 1),
        ("mac:00:11", "unexpected ':' in the value of 'mac': escape it as '\\:' or quote the value at position 6", 6),
        ("name:\"web", "unterminated quoted value: expected a closing '\"' for the one at position 5 at position 9", 9),
        ("cpu:[1 2]", "expected 'TO' in the range opened at position 4 at position 7", 7),
        ("cpu:[1 TO]", "expected a range bound at position 9", 9),
        ("cpu:[1 TO 2", "expected ']' or '}' to close the range opened at position 4 at position 11", 11),
        ("name:web\\", "expected a character after '\\' at the end of the query at position 8", 8),
        ("name:web^2", "boosts ('^') are not supported at position 8", 8),
        ("name:web~", "fuzzy and proximity searches ('~') are not supported at position 8", 8),
        ("na*e:web", "wildcards are not supported in field names ('na*e') at position 0", 0),
        (":web", "unexpected ':': expected a search term at position 0", 0),
    ]

    @Test(arguments: errors)
    func parseError(_ row: (query: String, message: String, position: Int)) {
        #expect(throws: SearchParseError(message: row.message, position: row.position)) {
            try SearchQuery.parse(row.query)
        }
    }

    @Test func hostileNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 10_000) + "a" + String(repeating: ")", count: 10_000)
        #expect(throws: SearchParseError.self) { try SearchQuery.parse(deep) }
        let nots = String(repeating: "!", count: 10_000) + "a"
        #expect(throws: SearchParseError.self) { try SearchQuery.parse(nots) }
        #expect(throws: Never.self) { try SearchQuery.parse(String(repeating: "(", count: 50) + "a" + String(repeating: ")", count: 50)) }
    }

    @Test func nodeFlatteningFollowsChef() {
        let doc = SearchDocument.node(
            name: "n", environment: "_default", roles: [], tags: [],
            attributes: [
                "a": ["b": ["c": 1.0, "d": [true, nil, "X"]]], "big": 1e20, "small": 1e-5, "neg": -3,
                "bytes": 17_179_869_184,
            ])
        #expect(doc.fields["a_b_c"] == ["1"])
        #expect(doc.fields["c"] == ["1"])
        #expect(doc.fields["a_b_d"] == ["true", "", "x"])
        #expect(doc.fields["a"] == ["b"])
        #expect(doc.fields["a_b"] == ["c", "d"])
        #expect(doc.fields["b"] == ["c", "d"])
        #expect(doc.fields["neg"] == ["-3"])
        #expect(doc.fields["big"] == ["1.0e+20"])
        #expect(doc.fields["small"] == ["1.0e-05"])
        #expect(doc.fields["bytes"] == ["17179869184"])
        #expect(doc.fields["chef_environment"] == ["_default"])
    }

    @Test func plainFieldsDocumentIsCaseInsensitive() throws {
        let doc = SearchDocument(fields: ["Platform": ["Ubuntu"]])
        #expect(try SearchQuery.parse("platform:ubuntu").matches(doc))
        #expect(try SearchQuery.parse("PLATFORM:UBU*").matches(doc))
        #expect(try !SearchQuery.parse("platform:debian").matches(doc))
        #expect(try !SearchQuery.parse("missing:*").matches(doc))
    }
}
