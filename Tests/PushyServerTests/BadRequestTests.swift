import Foundation
import PushyProtocol
import PushyTestSupport
import Testing

/// What a case does to an otherwise correct request signed by `admin` (spec 8).
enum Tweak: Sendable {
    /// Leaves out a header; `X-Ops-Authorization` leaves out every chunk.
    case drop(String)
    /// Replaces (or adds) a header after signing.
    case set(String, String)
    /// No signing headers at all.
    case unsigned
    /// Signs as this principal (a fresh key when the world has none for the name).
    case signer(String)
    /// Signs with a key the server does not know.
    case foreignKey
    /// Seconds added to the signing time.
    case clock(Double)
    case version(SigningVersion)
    /// Signs another path, method or body than the one sent.
    case signedPath(String)
    case signedMethod(String)
    case signedBody(String)
}

/// The request body: JSON text (sent as `application/json`, placeholders filled in), raw bytes,
/// or `n` bytes of filler.
enum Body: Sendable {
    case none
    case text(String)
    case bytes([UInt8])
    case filler(Int)
}

/// One malformed request and the answer it must get.
struct BadCase: Sendable, CustomStringConvertible {
    var name: String
    var method: String
    /// `{job}` is a finished job of the world.
    var path: String
    var body: Body
    var tweaks: [Tweak]
    var status: Int
    /// Must occur in the `error` message.
    var says: String
    var description: String { "\(name) (\(method) \(path.prefix(80)))" }
}

/// One line per case: `bad(name, method, path, body, tweak(s), status, says)`.
func bad(_ name: String, _ method: String, _ path: String, _ status: Int, _ says: String) -> BadCase {
    BadCase(name: name, method: method, path: path, body: .none, tweaks: [], status: status, says: says)
}

func bad(_ name: String, _ method: String, _ path: String, _ body: Body, _ status: Int, _ says: String) -> BadCase {
    BadCase(name: name, method: method, path: path, body: body, tweaks: [], status: status, says: says)
}

func bad(_ name: String, _ method: String, _ path: String, _ body: Body, _ tweak: Tweak, _ status: Int, _ says: String) -> BadCase {
    BadCase(name: name, method: method, path: path, body: body, tweaks: [tweak], status: status, says: says)
}

func bad(_ name: String, _ method: String, _ path: String, _ body: Body, _ tweaks: [Tweak], _ status: Int, _ says: String) -> BadCase {
    BadCase(name: name, method: method, path: path, body: body, tweaks: tweaks, status: status, says: says)
}

/// Issue 11 point 8 and spec 12.7: malformed REST requests each get the documented 4xx with a
/// JSON message saying what is wrong (never a 500, a hang or an empty body), and the server
/// keeps serving afterwards. At router level: every case is decided by the router and the
/// handlers (the body limit too: it is the router's `collectBody(upTo:)`); the few that are also
/// worth a real socket run again in `BadRequestSocketTests` (PushyIntegrationTests).
///
/// Three minutes: 146 signed requests, beside every other suite in a full `swift test` on a
/// loaded two-core machine (46 s seen).
@Suite(.timeLimit(.minutes(3))) struct BadRequestTests {
    static let o = "/organizations/pushy"
    static let p = "/organizations/pushy/pushy"
    static let unknownJob = "0123456789abcdef0123456789abcdef"
    static let long = String(repeating: "x", count: 300)
    static let huge = String(repeating: "h", count: 65_536)
    /// A job naming 100,000 nodes nobody registered (≈ 900 KB, under the body limit).
    static let manyNodes = #"{"command":"ok","nodes":["# + (0..<100_000).map { "\"n\($0)\"" }.joined(separator: ",") + "]}"
    static let ccpk = String(repeating: "0", count: 40)
    static let job = #"{"command":"ok","nodes":["web1"]}"#

    static let cases: [BadCase] = [
        // Signing headers (spec 2.1's table, spec 8).
        bad("no signing headers", "GET", "\(p)/node_states", .none, .unsigned, 400,
            "missing required authentication header(s) 'X-Ops-UserId', 'X-Ops-Timestamp', 'X-Ops-Sign', 'X-Ops-Content-Hash'"),
        bad("X-Ops-Userid missing", "GET", "\(p)/node_states", .none, .drop("X-Ops-Userid"), 400, "header(s) 'X-Ops-UserId'"),
        bad("X-Ops-Timestamp missing", "GET", "\(p)/node_states", .none, .drop("X-Ops-Timestamp"), 400, "header(s) 'X-Ops-Timestamp'"),
        bad("X-Ops-Sign missing", "GET", "\(p)/node_states", .none, .drop("X-Ops-Sign"), 400, "header(s) 'X-Ops-Sign'"),
        bad("X-Ops-Content-Hash missing", "GET", "\(p)/node_states", .none, .drop("X-Ops-Content-Hash"), 400, "header(s) 'X-Ops-Content-Hash'"),
        bad("X-Ops-Authorization-N missing", "GET", "\(p)/node_states", .none, .drop("X-Ops-Authorization"), 401,
            "Invalid signature for user or client 'admin'"),
        bad("X-Ops-Authorization-2 missing", "GET", "\(p)/node_states", .none, .drop("X-Ops-Authorization-2"), 401, "Invalid signature"),
        bad("X-Ops-Authorization-1 not base64", "GET", "\(p)/node_states", .none, .set("X-Ops-Authorization-1", "%%% not base64 %%%"), 401,
            "Invalid signature"),
        bad("X-Ops-Timestamp garbled", "GET", "\(p)/node_states", .none, .set("X-Ops-Timestamp", "yesterday"), 401,
            "bad header(s) 'X-Ops-Timestamp'"),
        bad("X-Ops-Timestamp without zone", "GET", "\(p)/node_states", .none, .set("X-Ops-Timestamp", "2025-01-01 10:00:00"), 401,
            "YYYY-MM-DDTHH:MM:SSZ"),
        bad("stale timestamp (1 h old)", "GET", "\(p)/node_states", .none, .clock(-3600), 401,
            "Failed to authenticate as admin. Synchronize the clock on your host."),
        bad("timestamp 1 h ahead", "GET", "\(p)/node_states", .none, .clock(3600), 401, "Synchronize the clock"),
        bad("unknown signing version", "GET", "\(p)/node_states", .none, .set("X-Ops-Sign", "algorithm=sha256;version=9.9"), 400,
            "Unsupported authentication protocol version"),
        bad("algorithm not the version's", "GET", "\(p)/node_states", .none, .set("X-Ops-Sign", "algorithm=sha256;version=1.1"), 400,
            "Unsupported authentication protocol version"),
        bad("X-Ops-Sign garbled", "GET", "\(p)/node_states", .none, .set("X-Ops-Sign", "banana"), 400, "version=1.3"),
        bad("signed with another key", "GET", "\(p)/node_states", .none, .foreignKey, 401, "Invalid signature for user or client 'admin'"),
        bad("signed for another path", "GET", "\(p)/node_states", .none, .signedPath("\(p)/jobs"), 401, "Invalid signature"),
        bad("signed for another method", "GET", "\(p)/node_states", .none, .signedMethod("POST"), 401, "Invalid signature"),
        bad("signed as 1.0, sent as 1.1", "GET", "\(p)/node_states", .none,
            [.version(.v1_0), .set("X-Ops-Sign", "algorithm=sha1;version=1.1")], 401, "Invalid signature"),
        bad("content hash of another body", "POST", "\(p)/jobs", .text(job), .signedBody(#"{"command":"ok","nodes":[]}"#), 401,
            "X-Ops-Content-Hash does not match the request body"),
        bad("X-Ops-Content-Hash garbled", "GET", "\(p)/node_states", .none, .set("X-Ops-Content-Hash", "garbage"), 401,
            "X-Ops-Content-Hash does not match"),
        bad("unknown principal", "GET", "\(p)/node_states", .none, .signer("nobody"), 401, "Failed to authenticate as 'nobody'"),
        bad("over-long principal name", "GET", "\(p)/node_states", .none, .signer(long), 401, "Failed to authenticate as"),
        bad("X-Ops-Userid of 64 KB", "GET", "\(p)/node_states", .none, .signer(huge), 401, "Failed to authenticate as"),
        bad("principal of another org", "GET", "\(p)/node_states", .none, .signer("olga"), 403,
            "'olga' is not associated with organization 'pushy'"),
        bad("member outside the writers", "POST", "\(p)/jobs", .text(job), .signer("mel"), 403,
            "User or client 'mel' does not have access to that action on this server."),
        bad("client asks for another node's config", "GET", "\(p)/config/web2?ccpk=\(ccpk)", .none, .signer("web1"), 403,
            "Client and node name must match"),

        // Paths.
        bad("unknown endpoint", "GET", "\(p)/nope", 404, "no such endpoint"),
        bad("root", "GET", "/", 404, "no such endpoint"),
        bad("config without a node", "GET", "\(p)/config/", 404, "no such endpoint"),
        bad("output without a channel", "GET", "\(p)/jobs/{job}/output/web1", 404, "no such endpoint"),
        bad("unknown organization", "GET", "/organizations/nosuch/pushy/jobs", 404, "organization 'nosuch' does not exist."),
        bad("over-long organization", "GET", "/organizations/\(long)/pushy/jobs", 404, "does not exist"),
        bad("job id of 64 KB", "GET", "\(p)/jobs/\(huge)", 404, "not found in organization 'pushy'"),
        bad("job id with a NUL", "GET", "\(p)/jobs/%00", 404, "not found in organization 'pushy'"),
        bad("unknown job", "GET", "\(p)/jobs/\(unknownJob)", 404, "job '\(unknownJob)' not found in organization 'pushy'"),
        bad("unknown job: abort", "PUT", "\(p)/jobs/\(unknownJob)/abort", 404, "not found"),
        bad("unknown job: feed", "GET", "\(p)/job_status_feed/\(unknownJob)", .none, .set("Accept", "text/event-stream"), 404, "not found"),
        bad("unknown job: output", "GET", "\(p)/jobs/\(unknownJob)/output/web1/stdout", .none,
            .set("Accept", "application/octet-stream"), 404, "not found"),
        bad("unknown output channel", "GET", "\(p)/jobs/{job}/output/web1/stdin", .none, .set("Accept", "application/octet-stream"), 404,
            "use stdout or stderr"),
        bad("unknown node", "GET", "\(o)/nodes/ghost", 404, "node 'ghost' not found"),
        bad("unknown user", "GET", "\(o)/users/ghost", 404, "user 'ghost' not found"),
        bad("unknown client: delete", "DELETE", "\(o)/clients/ghost", 404, "client 'ghost' not found"),
        bad("unknown group", "GET", "\(o)/groups/ghost", 404, "group 'ghost' not found"),
        bad("unknown member type", "DELETE", "\(o)/groups/admins/members/robot/x", 404, "use user, client or group"),
        bad("remove a non-member", "DELETE", "\(o)/groups/admins/members/user/ghost", 404, "is not a member"),
        bad("unknown organization: delete", "DELETE", "/organizations/ghost", 404, "organization 'ghost' does not exist."),

        // Methods (405 comes before authentication, spec 2.1).
        bad("DELETE the job list", "DELETE", "\(p)/jobs", 405, "allowed: GET, POST"),
        bad("POST to a job", "POST", "\(p)/jobs/{job}", .text("{}"), 405, "allowed: GET"),
        bad("GET an abort", "GET", "\(p)/jobs/{job}/abort", 405, "allowed: PUT"),
        bad("PATCH unsigned", "PATCH", "\(p)/node_states", .none, .unsigned, 405, "allowed: GET"),
        bad("POST the status", "POST", "/pushy/_status", .none, .unsigned, 405, "allowed: GET"),
        bad("OPTIONS", "OPTIONS", "\(p)/jobs", .none, .unsigned, 405, "allowed: GET, POST"),
        bad("WebDAV method", "PROPFIND", "\(p)/jobs", .none, .unsigned, 405, "allowed: GET, POST"),
        bad("WebDAV method, unknown path", "PROPFIND", "\(p)/coffee", .none, .unsigned, 404, "no such endpoint"),

        // Content types (415) and Accept (406).
        bad("job as text/plain", "POST", "\(p)/jobs", .text(job), .set("Content-Type", "text/plain"), 415, "Content-Type: application/json"),
        bad("job as a form", "POST", "\(p)/jobs", .text(job), .set("Content-Type", "application/x-www-form-urlencoded"), 415,
            "Content-Type: application/json"),
        bad("job as application/jsonx", "POST", "\(p)/jobs", .text(job), .set("Content-Type", "application/jsonx"), 415,
            "Content-Type: application/json"),
        bad("user as XML", "POST", "\(o)/users", .text(#"{"name":"u1","public_key":{pem}}"#), .set("Content-Type", "application/xml"),
            415, "Content-Type: application/json"),
        bad("JSON endpoint asked for HTML", "GET", "\(p)/jobs", .none, .set("Accept", "text/html"), 406, "application/json"),
        bad("feed asked for as JSON", "GET", "\(p)/job_status_feed", 406, "text/event-stream"),
        bad("output asked for as JSON", "GET", "\(p)/jobs/{job}/output/web1/stdout", 406, "application/octet-stream"),

        // Job bodies (spec 2.3's validation messages).
        bad("truncated JSON", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"]"#), 400, "invalid JSON in request body"),
        bad("empty body", "POST", "\(p)/jobs", .text(""), 400, "invalid JSON in request body"),
        bad("trailing garbage", "POST", "\(p)/jobs", .text(job + " x"), 400, "invalid JSON in request body"),
        bad("not UTF-8", "POST", "\(p)/jobs", .bytes([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]), 400, "invalid JSON in request body"),
        bad("nested 100,000 deep", "POST", "\(p)/jobs", .text(String(repeating: "[", count: 100_000)), 400, "nesting too deep"),
        bad("a JSON array", "POST", "\(p)/jobs", .text("[]"), 400, "request body must be a JSON object"),
        bad("JSON null", "POST", "\(p)/jobs", .text("null"), 400, "request body must be a JSON object"),
        bad("unknown key", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"colour":"red"}"#), 400,
            "invalid key supplied: 'colour'"),
        bad("command missing", "POST", "\(p)/jobs", .text(#"{"nodes":["web1"]}"#), 400, "invalid command supplied (missing 'command')"),
        bad("command a number", "POST", "\(p)/jobs", .text(#"{"command":5,"nodes":["web1"]}"#), 400, "invalid command supplied (expected a string)"),
        bad("command empty", "POST", "\(p)/jobs", .text(#"{"command":"","nodes":["web1"]}"#), 400, "empty command"),
        bad("nodes missing", "POST", "\(p)/jobs", .text(#"{"command":"ok"}"#), 400, "at least one node must be supplied"),
        bad("nodes empty", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":[]}"#), 400, "at least one node must be supplied"),
        bad("nodes a string", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":"web1"}"#), 400, "must be an array of node names"),
        bad("node name a number", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":[1]}"#), 400, "node names must be non-empty strings"),
        bad("node name empty", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":[""]}"#), 400, "node names must be non-empty strings"),
        bad("unknown node in a job", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1","ghost"]}"#), 400,
            "unknown node(s): ghost"),
        bad("100,000 unknown nodes", "POST", "\(p)/jobs", .text(manyNodes), 400, "and 99980 more"),
        bad("over-long node name", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["\#(long)"]}"#), 400, "unknown node(s)"),
        bad("node name with a path", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["../web1"]}"#), 400, "unknown node(s): ../web1"),
        bad("quorum negative", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"quorum":-1}"#), 400, "invalid quorum supplied"),
        bad("quorum a fraction", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"quorum":1.5}"#), 400, "invalid quorum supplied"),
        bad("quorum a word", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"quorum":"most"}"#), 400,
            "invalid type supplied for quorum"),
        bad("quorum over 100 %", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"quorum":"150%"}"#), 400, "between 0% and 100%"),
        bad("quorum a boolean", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"quorum":true}"#), 400,
            "invalid type supplied for quorum"),
        bad("run_timeout a string", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"run_timeout":"soon"}"#), 400,
            "invalid type supplied for run_timeout (expected a number)"),
        bad("run_timeout negative", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"run_timeout":-5}"#), 400,
            "invalid run_timeout supplied"),
        bad("capture_output a string", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"capture_output":"yes"}"#), 400,
            "capture_output (expected a boolean)"),
        bad("env an array", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"env":[]}"#), 400, "env (expected an object)"),
        bad("env value a number", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"env":{"A":1}}"#), 400,
            "invalid environment value"),
        bad("user a number", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"user":7}"#), 400, "user (expected a string)"),
        bad("file without a prefix", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"file":"ftp:x"}"#), 400,
            "expected 'base64:...' or 'raw:...'"),
        bad("file not base64", "POST", "\(p)/jobs", .text(#"{"command":"ok","nodes":["web1"],"file":"base64:!!!"}"#), 400,
            "couldn't decode base64"),
        bad("file over 100,000 bytes", "POST", "\(p)/jobs",
            .text(#"{"command":"ok","nodes":["web1"],"file":"raw:\#(String(repeating: "a", count: 100_001))"}"#), 400,
            "invalid file size (must be <= 100000 bytes)"),
        bad("body over 1,000,000 bytes", "POST", "\(p)/jobs", .filler(1_000_001), 413, "JSON must be no more than 1000000 bytes."),

        // Query parameters.
        bad("wait=abc", "GET", "\(p)/jobs/{job}?wait=abc", 400, "wait must be a number of seconds from 0 to 60"),
        bad("wait negative", "GET", "\(p)/jobs/{job}?wait=-1", 400, "wait must be a number of seconds from 0 to 60"),
        bad("wait over 60", "GET", "\(p)/jobs/{job}?wait=61", 400, "wait must be a number of seconds from 0 to 60"),
        bad("wait=nan", "GET", "\(p)/jobs/{job}?wait=nan", 400, "wait must be a number of seconds from 0 to 60"),
        bad("nodes=maybe", "GET", "\(p)/jobs/{job}?nodes=maybe", 400, "nodes must be true or false"),
        bad("include_file=maybe", "GET", "\(p)/jobs/{job}?include_file=maybe", 400, "include_file must be true or false"),
        bad("search query unbalanced", "GET", "\(o)/search/node?q=name:(web1", 400, "invalid search query"),
        bad("config without ccpk", "GET", "\(p)/config/web1", .none, .signer("web1"), 400, "?ccpk="),
        bad("config with a short ccpk", "GET", "\(p)/config/web1?ccpk=abc", .none, .signer("web1"), 401, "40 Z85 characters"),

        // Principals, groups, tokens, orgs, nodes.
        bad("user name over 255", "POST", "\(o)/users", .text(#"{"name":"\#(String(repeating: "u", count: 256))","public_key":{pem}}"#),
            400, "'name' must be 1-255 characters"),
        bad("user name with a space", "POST", "\(o)/users", .text(#"{"name":"bad name","public_key":{pem}}"#), 400,
            "'name' must be 1-255 characters of letters, digits, '.', '_' or '-'"),
        bad("user without a key", "POST", "\(o)/users", .text(#"{"name":"u2"}"#), 400, "'public_key' (a PEM RSA public key) is required"),
        bad("user key not PEM", "POST", "\(o)/users", .text(#"{"name":"u3","public_key":"garbage"}"#), 400, "not a PEM RSA public key"),
        bad("user admin flag a string", "POST", "\(o)/users", .text(#"{"name":"u4","public_key":{pem},"admin":"yes"}"#), 400,
            "'admin' must be true or false"),
        bad("user name taken", "POST", "\(o)/users", .text(#"{"name":"mel","public_key":{pem}}"#), 409, "'mel' already exists"),
        bad("client body an array", "POST", "\(o)/clients", .text("[]"), 400, "'name' must be"),
        bad("group member type robot", "POST", "\(o)/groups/team/members", .text(#"{"type":"robot","name":"x"}"#), 400,
            #"'type' must be "user", "client" or "group""#),
        bad("group member unknown", "POST", "\(o)/groups/team/members", .text(#"{"type":"user","name":"ghost"}"#), 404,
            "user 'ghost' not found"),
        bad("group name invalid", "POST", "\(o)/groups/bad%20name!/members", .text(#"{"type":"user","name":"mel"}"#), 400,
            "a group name must be"),
        bad("token lifetime negative", "POST", "\(o)/enrollment_tokens", .text(#"{"expires_in":-1}"#), 400, "'expires_in' must be"),
        bad("token lifetime a word", "POST", "\(o)/enrollment_tokens", .text(#"{"expires_in":"soon"}"#), 400, "'expires_in' must be"),
        bad("enrol with an unknown token", "POST", "\(o)/enroll", .text(#"{"token":"nope","name":"n9","public_key":{pem}}"#), .unsigned,
            401, "unknown enrolment token"),
        bad("enrol without a token", "POST", "\(o)/enroll", .text(#"{"name":"n9","public_key":{pem}}"#), .unsigned, 400,
            "'token' is required"),
        bad("enrol in an unknown org", "POST", "/organizations/ghost/enroll", .text(#"{"token":"t"}"#), .unsigned, 404,
            "organization 'ghost' does not exist."),
        bad("org name invalid", "POST", "/organizations", .text(#"{"name":"Bad Name!"}"#), 400, "'name' must be"),
        bad("org created by a member", "POST", "/organizations", .text(#"{"name":"mine"}"#), .signer("mel"), 403, "does not have access"),
        bad("default org deleted", "DELETE", o, 409, "cannot be deleted"),
        bad("node report for another name", "PUT", "\(o)/nodes/web1", .text(#"{"name":"web2"}"#), 400, "does not match the URL"),
        bad("node report roles a string", "PUT", "\(o)/nodes/web1", .text(#"{"name":"web1","roles":"web"}"#), 400, "roles"),
        bad("node report invalid JSON", "PUT", "\(o)/nodes/web1", .text("{"), 400, "invalid JSON in request body"),

        // Job templates (issue 13); the world has template `tmpl` (an integer `n` 1-3, on web1).
        bad("template body an array", "POST", "\(p)/templates", .text("[]"), 400, "a template must be a JSON object"),
        bad("template without a target", "POST", "\(p)/templates", .text(#"{"name":"t1","command":"ok"}"#), 400,
            "a template needs a target"),
        bad("template slot without a parameter", "POST", "\(p)/templates", .text(#"{"name":"t1","command":"deploy {{v}}","nodes":["web1"]}"#),
            400, "slot {{v}} names no parameter"),
        bad("template search with a free string", "POST", "\(p)/templates",
            .text(#"{"name":"t1","command":"ok","search":"role:{{r}}","parameters":{"r":{"type":"string"}}}"#), 400,
            "parameter 'r' is a string without a pattern"),
        bad("template pattern not a regex", "POST", "\(p)/templates",
            .text(#"{"name":"t1","command":"ok","nodes":["web1"],"parameters":{"v":{"type":"string","pattern":"(["}}}"#), 400,
            "is not a valid regular expression"),
        bad("template parameter of no type", "POST", "\(p)/templates",
            .text(#"{"name":"t1","command":"ok","nodes":["web1"],"parameters":{"v":{"type":"float"}}}"#), 400, "unknown type 'float'"),
        bad("template access to a missing group", "POST", "\(p)/templates",
            .text(#"{"name":"t1","command":"ok","nodes":["web1"],"access":{"run":{"groups":["ghosts"]}}}"#), 400,
            "invalid access.run: no group 'ghosts'"),
        bad("template name taken", "POST", "\(p)/templates", .text(#"{"name":"tmpl","command":"ok","nodes":["web1"]}"#), 409,
            "template 'tmpl' already exists"),
        bad("template created by a member", "POST", "\(p)/templates", .text(#"{"name":"t2","command":"ok","nodes":["web1"]}"#),
            .signer("mel"), 403, "mel may not create templates (not a job writer)"),
        bad("template edit naming another", "PUT", "\(p)/templates/tmpl", .text(#"{"name":"other","command":"ok","nodes":["web1"]}"#),
            400, "the body names template 'other' but the URL names 'tmpl'"),
        bad("unknown template", "GET", "\(p)/templates/ghost", 404, "template 'ghost' not found in organization 'pushy'"),
        bad("unknown template version", "GET", "\(p)/templates/tmpl?version=9", 404, "template 'tmpl' has no version 9"),
        bad("template version=abc", "GET", "\(p)/templates/tmpl?version=abc", 400, "version must be a whole number"),
        bad("run an unknown template", "POST", "\(p)/templates/ghost/run", .text("{}"), 404, "template 'ghost' not found"),
        bad("run with an unknown parameter", "POST", "\(p)/templates/tmpl/run", .text(#"{"parameters":{"x":1}}"#), 400,
            "unknown parameter 'x' for template 'tmpl' (its parameters: n)"),
        bad("run with a value out of range", "POST", "\(p)/templates/tmpl/run", .text(#"{"parameters":{"n":7}}"#), 400,
            "invalid value for parameter 'n': 7 is above the maximum 3"),
        bad("run outside the target", "POST", "\(p)/templates/tmpl/run", .text(#"{"nodes":["web2"]}"#), 400,
            "node(s) web2 are not in the target of template 'tmpl'"),
        bad("run body a string", "POST", "\(p)/templates/tmpl/run", .text(#""go""#), 400, "request body must be a JSON object"),
        bad("run as a member", "POST", "\(p)/templates/tmpl/run", .text("{}"), .signer("mel"), 403,
            "mel may not run template 'tmpl' (not in its run access, not a job writer)"),
    ]

    /// The world the cases run in: an agent `web1` (so a job can run), a finished job, a user
    /// `mel` in no group, `olga`, an admin of another org, and template `tmpl`.
    struct World: Sendable {
        let rig: RouterRig
        let jobId: String
        let pem: String
    }

    static func makeWorld(_ rig: RouterRig) async throws -> World {
        try await rig.startAgent("web1")
        try await rig.admin.createUser("mel")
        try await rig.admin.createOrganization("other")
        try await rig.caller("admin", org: "other").createUser("olga", admin: true)
        let jobId = try await rig.admin.startJob(try JobRequest.parse(Array(job.utf8)))
        #expect(try await rig.admin.waitFinished(jobId).status == .complete)
        try await rig.admin.ok("POST", "pushy/templates", json: try JSONValue.parse(
            #"{"name":"tmpl","command":"ok","parameters":{"n":{"type":"integer","min":1,"max":3,"default":1}},"nodes":["web1"]}"#))
        let pem = JSONValue.string(TestKeys.sparePEM).serialized()
        return World(rig: rig, jobId: jobId, pem: pem)
    }

    /// Sends `k` with exactly its headers and bytes; the request's deadline is the case's.
    static func send(_ k: BadCase, in w: World) async throws -> Reply {
        let path = k.path.replacingOccurrences(of: "{job}", with: w.jobId)
        let bytes: [UInt8] = switch k.body {
        case .none: []
        case .text(let t): Array(t.replacingOccurrences(of: "{pem}", with: w.pem).utf8)
        case .bytes(let b): b
        case .filler(let n): [UInt8](repeating: UInt8(ascii: " "), count: n)
        }
        var signer = "admin", signed = true, foreign = false, clock = 0.0, version = SigningVersion.v1_3
        var signedPath = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        var signedMethod = k.method, signedBody = bytes
        for t in k.tweaks {
            switch t {
            case .unsigned: signed = false
            case .signer(let s): signer = s
            case .foreignKey: foreign = true
            case .clock(let d): clock = d
            case .version(let v): version = v
            case .signedPath(let s): signedPath = s
            case .signedMethod(let m): signedMethod = m
            case .signedBody(let b): signedBody = Array(b.utf8)
            case .drop, .set: break
            }
        }
        var headers: [(String, String)] = [("Accept", "application/json")]
        if case .none = k.body {} else { headers.append(("Content-Type", "application/json")) }
        if signed {
            // A key the server does not know for this name (the spare key is no signer's).
            let key = foreign ? TestKeys.spare : w.rig.key(signer) ?? TestKeys.spare
            headers += try SignedRequestHeaders.sign(method: signedMethod, path: signedPath, body: signedBody, userId: signer,
                                                     timestamp: Date().addingTimeInterval(clock), key: key, version: version)
        }
        for t in k.tweaks {
            switch t {
            case .drop(let name):
                headers.removeAll { $0.0.lowercased() == name.lowercased() || name == "X-Ops-Authorization" && $0.0.hasPrefix(name) }
            case .set(let name, let value):
                headers.removeAll { $0.0.lowercased() == name.lowercased() }
                headers.append((name, value))
            default: break
            }
        }
        let body = !bytes.isEmpty || k.method == "POST" || k.method == "PUT" ? bytes : nil
        return try await w.rig.send(k.method, path, headers: headers, body: body)
    }

    @Test func everyMalformedRequestGetsItsDocumented4xx() async throws {
        #expect(Self.cases.count >= 40)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count, "case names are unique")
        try await RouterRig.run { rig in
            let w = try await Self.makeWorld(rig)
            for k in Self.cases {
                let r = try await Self.send(k, in: w)
                let message = r.errorMessage
                let contentType = r.header("Content-Type") ?? ""
                #expect(r.status == k.status, "\(k): got \(r.status) \(r.text.prefix(300))")
                #expect(contentType.hasPrefix("application/json"), "\(k): Content-Type '\(contentType)'")
                #expect(message?.contains(k.says) == true, "\(k): message \(message.map { "'\($0)'" } ?? "missing") lacks '\(k.says)'")
            }
            // The server keeps serving: a signed read answers and a job still runs to the end.
            #expect(try await rig.admin.nodeStates().contains { $0.nodeName == "web1" })
            let id = try await rig.admin.startJob(try JobRequest.parse(Array(Self.job.utf8)))
            try await rig.settle()
            #expect(try await rig.admin.waitFinished(id).status == .complete)
        }
    }
}
