/// Helpers for tcp endpoint strings.
enum Endpoint {
    /// `tcp://host:0` → `tcp://host:*` (libzmq's spelling of an ephemeral port).
    static func bindable(_ endpoint: String) -> String {
        guard endpoint.hasPrefix("tcp://"), endpoint.hasSuffix(":0") else { return endpoint }
        return String(endpoint.dropLast()) + "*"
    }

    /// The port of a resolved tcp endpoint such as `tcp://127.0.0.1:43121`; 0 if none.
    static func port(of endpoint: String) -> Int {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return 0 }
        return Int(endpoint[endpoint.index(after: colon)...]) ?? 0
    }
}
