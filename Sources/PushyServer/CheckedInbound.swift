import PushyZMQ

/// Agent messages checked on the transport's I/O thread as they arrive (`InboundVerifier`: one
/// batch per wake-up, or per held batch of heartbeats) and queued for the engine: one hop from
/// the I/O thread to the engine's task, not two (issue 16). The checking of one batch overlaps
/// the engine's handling of the one before, as the two-task pipeline it replaces did.
final class CheckedInbound: Sendable {
    typealias Batch = (messages: [InboundMessage], received: Int)
    let batches: AsyncStream<Batch>
    private let input: AsyncStream<Batch>.Continuation
    private let verifier: InboundVerifier

    init(verifier: InboundVerifier) {
        self.verifier = verifier
        (batches, input) = AsyncStream.makeStream(of: Batch.self, bufferingPolicy: .unbounded)
    }

    /// The transport's `inboundSink`: runs on its I/O thread.
    func accept(_ batch: [RouterMessage]) {
        input.yield((verifier.verify(batch), batch.count))
    }

    /// No more batches (the transport stopped).
    func finish() { input.finish() }
}
