import Testing
@testable import PushyZMQ

/// Shorthand for building frames from text.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A server on ephemeral loopback ports.
func makeServer(
    _ context: ZMQContext, curveSecretKey: String? = nil,
    zapAuthorizer: (@Sendable ([UInt8]) -> Bool)? = nil
) throws -> ZMQServerTransport {
    try ZMQServerTransport(context: context, options: .init(
        routerEndpoint: "tcp://127.0.0.1:0", pubEndpoint: "tcp://127.0.0.1:0",
        curveSecretKey: curveSecretKey, zapAuthorizer: zapAuthorizer))
}

/// An agent connected to `server`.
func makeAgent(
    _ context: ZMQContext, to server: ZMQServerTransport,
    curveServerKey: String? = nil, keys: CurveKeyPair? = nil
) throws -> ZMQAgentTransport {
    try ZMQAgentTransport(context: context, options: .init(
        subEndpoint: server.pubEndpoint, dealerEndpoint: server.routerEndpoint,
        curveServerKey: curveServerKey, curveKeyPair: keys))
}

extension AgentInbound {
    var commandFrames: [[UInt8]]? {
        if case .command(let frames) = self { frames } else { nil }
    }
    var broadcastFrames: [[UInt8]]? {
        if case .broadcast(let frames) = self { frames } else { nil }
    }
}

/// Waits (bounded) until `condition` holds, re-checking every few milliseconds; a timeout is
/// recorded as an issue naming `what`.
func waitFor(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
