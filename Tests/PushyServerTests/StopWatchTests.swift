import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import PushyServer

/// `StopWatch`: a server stop that takes long names the services it still waits on.
@Suite(.timeLimit(.minutes(2))) struct StopWatchTests {
    /// Ends at a graceful shutdown.
    struct Polite: Service {
        func run() async { try? await gracefulShutdown() }
    }

    /// Deaf to the shutdown: runs until `release` yields.
    struct Stubborn: Service {
        let release: AsyncStream<Void>
        func run() async { for await _ in release { return } }
    }

    @Test func aSlowStopNamesTheServiceItWaitsOn() async throws {
        let lines = Lines()
        let logger = Logger(label: "stopwatch-test") { _ in lines }
        let (release, releaser) = AsyncStream.makeStream(of: Void.self)
        let watch = StopWatch(every: .milliseconds(50))
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: Stubborn(release: release)), .init(service: Polite()),
        ]
        let group = ServiceGroup(configuration: .init(services: services.map(watch.track), gracefulShutdownSignals: [], logger: logger))
        let running = Task { try await group.run() }
        try await until { watch.stillRunning.count == 2 }
        #expect(Set(watch.stillRunning) == ["Stubborn", "Polite"])

        await group.triggerGracefulShutdown()
        try await until { watch.stillRunning == ["Stubborn"] }
        #expect(watch.stillRunning == ["Stubborn"], "Polite should have stopped")
        let reporter = Task { await watch.report(logger) }
        let line = "the server is still stopping; waiting on Stubborn"
        try await until { lines.all.contains(line) }
        #expect(lines.all.contains(line), "\(lines.all)")

        releaser.yield()
        try await running.value
        await reporter.value  // ends by itself once nothing runs
        #expect(watch.stillRunning.isEmpty)
    }

    /// Polls `condition` every 10 ms for at most 30 s (each wait its own deadline: a loaded
    /// machine may hold this test's tasks back for seconds); the expectations after say what failed.
    func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}

/// A log handler that keeps every message.
final class Lines: LogHandler, @unchecked Sendable {
    private let kept = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    var all: [String] { kept.withLock { $0 } }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        kept.withLock { $0.append(message.description) }
    }
}
