import Logging
import PushyZMQ
import ServiceLifecycle

// The server's loops, each a `Service` in `PushyServerApp`'s service group. The group starts
// them in the order listed there and, at a graceful shutdown, stops them in the reverse order:
// open feeds ended, REST drained (no new work), then inbound messages, then the timers, and the
// store writer last, once everything that could still write has stopped.

/// Agent messages from the ROUTER to the engine: checked on the transport's I/O thread
/// (`CheckedInbound`, the transport's `inboundSink`), handled here, so checking batch k+1 (parse,
/// HMAC) overlaps the engine handling batch k. At a graceful shutdown the sockets close, the
/// transport's stream ends, and what was received is still handled.
struct InboundService: Service {
    let transport: ZMQServerTransport
    let engine: CommandEngine
    let checked: CheckedInbound

    func run() async {
        let transport = self.transport, engine = self.engine, checked = self.checked
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Empty with a sink: it only finishes once the I/O thread has stopped.
                    for await _ in transport.inbound {}
                    checked.finish()
                }
                group.addTask {
                    for await batch in checked.batches {
                        await engine.receive(batch.messages)
                        transport.consumed(batch.received)
                    }
                }
            }
        } onGracefulShutdown: {
            transport.shutdown()
        }
    }
}

/// The engine's timers (job timeouts, rehab resends, liveness, heartbeat broadcast, batched
/// node writes): five times a second while a job runs or a node is in rehab; otherwise as
/// `CommandEngine.tick` says (at most once a second, a fifth of the heartbeat interval, and in
/// time for the next broadcast): at small fleets an idle server's wake-ups were most of its idle
/// CPU (issue 16). The engine's `tickBell` ends an idle wait when such work starts. One last pass
/// at shutdown writes what gathered.
struct EngineTicker: Service {
    let engine: CommandEngine
    var period: Duration = .milliseconds(200)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let idle = await engine.tick() {
                    await engine.tickBell.wait(.milliseconds(max(1, Int((idle * 1000).rounded(.up)))))
                } else {
                    try? await Task.sleep(for: period)
                }
            }
        }
        await engine.flush()
    }
}

/// The store write loop (`JobWriter`): at a graceful shutdown it stops once what was asked for is
/// written (or after its stop timeout, logging what it gave up).
struct JobWriterService: Service {
    let engine: CommandEngine

    func run() async {
        let engine = self.engine
        await withGracefulShutdownHandler {
            await engine.runWriter()
        } onGracefulShutdown: {
            engine.stopWriter()
        }
    }
}

extension HeapTrimmer: Service {
    func run() async throws {
        await cancelWhenGracefulShutdown { await trimAfterBursts() }
    }
}

/// Ends the open event streams at a graceful shutdown, before the HTTP server waits for its
/// open responses to finish (listed after it, so it stops first).
struct FeedCloser: Service {
    let engine: CommandEngine

    func run() async {
        // Returns at a graceful shutdown; throws when cancelled, when nothing waits on feeds.
        guard (try? await gracefulShutdown()) != nil else { return }
        await engine.closeFeeds()
    }
}
