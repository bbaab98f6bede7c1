import PushyZMQ

/// The server's inbound path in its two halves, public for the benchmark (`pushy-bench`
/// measures Pushy's own CPU per heartbeat without libzmq): the check that runs on the I/O
/// thread, then the engine's handling of the checked batch.
public struct CheckedBatch: Sendable {
    let messages: [InboundMessage]
}

extension CommandEngine {
    /// Checks a received batch as the server's I/O thread does (`CheckedInbound`).
    public nonisolated func check(_ batch: [RouterMessage]) -> CheckedBatch {
        CheckedBatch(messages: verifier.verify(batch))
    }

    /// Handles a checked batch as the engine's inbound task does.
    public func receive(_ checked: CheckedBatch) {
        receive(checked.messages)
    }
}
