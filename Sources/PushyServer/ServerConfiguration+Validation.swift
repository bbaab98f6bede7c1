import Foundation
import PushyPostgres

extension ServerConfiguration {
    /// Every key `server.json` may hold.
    static var knownKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Checks every value against what the server can work with; the error names each key that
    /// is wrong, the value and what is allowed, so an operator can fix the file or flag at once.
    public func validate() throws(ServerStartError) {
        var problems: [String] = []
        func check(_ ok: Bool, _ key: CodingKeys, _ value: Any, _ allowed: String) {
            if !ok { problems.append("\(key.rawValue) = \(value): \(allowed)") }
        }
        for (key, port) in [(CodingKeys.apiPort, apiPort), (.heartbeatPort, heartbeatPort), (.commandPort, commandPort)] {
            check((0...65535).contains(port), key, port, "must be a port number 0-65535 (0 picks a free port)")
        }
        let busy = [apiPort, heartbeatPort, commandPort].filter { $0 != 0 }
        if Set(busy).count != busy.count {
            problems.append("api_port, heartbeat_port and command_port must differ (got \(apiPort), \(heartbeatPort), \(commandPort))")
        }
        check(heartbeatInterval.isFinite && heartbeatInterval >= 0.05 && heartbeatInterval <= 3600, .heartbeatInterval,
              heartbeatInterval, "must be between 0.05 and 3600 seconds")
        check(decayWindow.isFinite && decayWindow > 1 && decayWindow <= 1000, .decayWindow, decayWindow,
              "must be more than 1 and at most 1000 intervals")
        check(downThreshold.isFinite && downThreshold > 0 && downThreshold < 1, .downThreshold, downThreshold,
              "must be between 0 and 1 (exclusive): the heartbeats per interval below which a node is offline")
        check((1...1000).contains(offlineThreshold), .offlineThreshold, offlineThreshold, "must be 1-1000 missed server heartbeats")
        check((1...1000).contains(onlineThreshold), .onlineThreshold, onlineThreshold, "must be 1-1000 server heartbeats")
        check(votingTimeout.isFinite && votingTimeout > 0, .votingTimeout, votingTimeout, "must be a positive number of seconds")
        check(defaultRunTimeout > 0, .defaultRunTimeout, defaultRunTimeout, "must be a positive number of seconds")
        check(waitCompleteTime.isFinite && waitCompleteTime >= 0, .waitCompleteTime, waitCompleteTime, "must be 0 or more seconds")
        check(clusterLease.isFinite && clusterLease >= 1 && clusterLease <= 3600, .clusterLease, clusterLease,
              "must be 1 to 3600 seconds")
        check(rehabInterval.isFinite && rehabInterval >= 0.05, .rehabInterval, rehabInterval, "must be at least 0.05 seconds")
        check(maxMessageSkew > 0, .maxMessageSkew, maxMessageSkew, "must be a positive number of seconds")
        check(maxBodySize >= 1024 && maxBodySize <= 64 << 20, .maxBodySize, maxBodySize, "must be between 1024 bytes and 64 MiB")
        check(authSkew.isFinite && authSkew > 0, .authSkew, authSkew, "must be a positive number of seconds")
        check(configLifetime > 0, .configLifetime, configLifetime, "must be a positive number of seconds")
        check(outputCap >= 0, .outputCap, outputCap, "must be 0 or more bytes")
        check(keepAliveTime.isFinite && keepAliveTime > 0, .keepAliveTime, keepAliveTime, "must be a positive number of seconds")
        check(orgFeedExpiration.isFinite && orgFeedExpiration >= 0, .orgFeedExpiration, orgFeedExpiration, "must be 0 or more seconds")
        check(!defaultOrg.isEmpty, .defaultOrg, "\"\"", "must name an organization")
        check(!listenAddress.isEmpty, .listenAddress, "\"\"", "must be an address to listen on, e.g. 0.0.0.0")
        check(!advertisedHost.isEmpty, .advertisedHost, "\"\"", "must be the host name agents reach this server by")
        if let n = maxAgentConnections {
            check(n >= 2, .maxAgentConnections, n, "must be at least 2 (each agent holds 2 connections)")
        }
        if !metricsListen.isEmpty, metricsEndpoint == nil {
            problems.append("metrics_listen = \(metricsListen): must be HOST:PORT (e.g. 127.0.0.1:10004; port 0 picks a free port), or empty to turn the listener off")
        }
        if let t = metricsToken, t.count < 16 {
            problems.append("metrics_token: must be at least 16 characters (e.g. the output of 'openssl rand -hex 24')")
        }
        if let url = postgresURL {
            do { _ = try PostgresURL(parsing: url) } catch {
                problems.append("postgres_url = \(PostgresURL.redact(url)): \(error)")
            }
        }
        guard problems.isEmpty else {
            throw ServerStartError("invalid settings (\(configFilePath) or flags):\n  " + problems.joined(separator: "\n  "))
        }
    }

    /// Keys in a `server.json` object that the server does not know, each with the closest known
    /// one when a typo is likely.
    static func unknownKeys(in object: [String: Any]) -> [String] {
        let known = Set(knownKeys)
        return object.keys.sorted().filter { !known.contains($0) }.map { key in
            let guess = knownKeys.min { editDistance(key, $0) < editDistance(key, $1) }
            if let guess, editDistance(key, guess) <= 3 { return "\(key) (did you mean \(guess)?)" }
            return key
        }
    }

    /// A JSON type as a settings file spells it.
    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
}
