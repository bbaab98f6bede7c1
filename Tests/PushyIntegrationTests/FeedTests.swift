import AsyncHTTPClient
import Foundation
import NIOCore
import PushyAPIClient
import PushyProtocol
import PushyZMQ
import Testing

/// The SSE job feeds (spec 2.3): documented event sequences, Last-Event-ID resume, the org feed.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FeedTests {
    struct Event: Equatable {
        var name: String
        var id: String
        var data: JSONValue
    }

    /// Reads a feed with a signed GET until the server ends it or `limit` events arrived.
    static func read(_ c: TestCluster, _ path: String, lastEventId: String? = nil, limit: Int = 1000,
                     accept: String = "text/event-stream") async throws -> (status: Int, events: [Event]) {
        let key = try RSAPrivateKey(pemRepresentation: try String(contentsOfFile: c.dataDir + "/admin.pem", encoding: .utf8))
        let fullPath = "/organizations/pushy/" + path
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(c.apiPort)" + fullPath)
        for (k, v) in try SignedRequestHeaders.sign(method: "GET", path: fullPath, body: [], userId: "admin",
                                                     timestamp: Date(), key: key) {
            request.headers.add(name: k, value: v)
        }
        request.headers.add(name: "Accept", value: accept)
        if let lastEventId { request.headers.add(name: "Last-Event-ID", value: lastEventId) }
        let response = try await c.tls.httpClient().execute(request, timeout: .seconds(30))
        var events: [Event] = []
        var buffer = ""
        var name = "", id = ""
        reading: for try await chunk in response.body {
            buffer += String(buffer: chunk)
            while let nl = buffer.firstIndex(of: "\n") {
                let line = String(buffer[..<nl])
                buffer = String(buffer[buffer.index(after: nl)...])
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                else if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                else if line.hasPrefix("data: ") {
                    events.append(Event(name: name, id: id, data: try JSONValue.parse(String(line.dropFirst(6)))))
                    if events.count >= limit { break reading }
                }
            }
        }
        return (Int(response.status.code), events)
    }

    static func summary(_ events: [Event]) -> [String] {
        events.map { e in
            let status = e.data["status"]?.stringValue
            return status.map { "\(e.name)(\($0))" } ?? e.name
        }
    }

    @Test func successSequenceAndResume() async throws {
        let c = try await TestCluster()
        try await c.startAgent("s1")
        try await c.waitAvailable(["s1"])
        let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["s1"]))
        let live = try await Self.read(c, "pushy/job_status_feed/\(id)")
        #expect(live.status == 200)
        #expect(Self.summary(live.events) == [
            "start", "quorum_vote(success)", "quorum_succeeded", "run_start", "run_complete(success)",
            "job_complete(complete)",
        ])
        #expect(live.events.map(\.id) == (1...6).map { "job-\($0)" })
        #expect(live.events.allSatisfy { $0.data["timestamp"]?.stringValue?.hasSuffix("Z") == true })
        #expect(live.events[0].data["user"]?.stringValue == "admin")
        #expect(live.events[0].data["capture"]?.boolValue == false)

        let resumed = try await Self.read(c, "pushy/job_status_feed/\(id)", lastEventId: "job-3")
        #expect(resumed.events.map(\.id) == ["job-4", "job-5", "job-6"])
        let unknown = try await Self.read(c, "pushy/job_status_feed/\(id)", lastEventId: "bogus")
        #expect(unknown.events.count == 6)

        let notAcceptable = try await Self.read(c, "pushy/job_status_feed/\(id)", accept: "application/json")
        #expect(notAcceptable.status == 406)
        let missing = try await Self.read(c, "pushy/job_status_feed/0123456789abcdef0123456789abcdef")
        #expect(missing.status == 404)
        await c.shutdown()
    }

    @Test func offlineNodeSequence() async throws {
        let c = try await TestCluster()
        try await c.createNode("ghost")
        let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["ghost"]))
        let feed = try await Self.read(c, "pushy/job_status_feed/\(id)")
        #expect(Self.summary(feed.events) == ["start", "quorum_vote(down)", "rehab", "job_complete(quorum_failed)"])
        await c.shutdown()
    }

    @Test func votingTimeoutSequence() async throws {
        let c = try await TestCluster(votingTimeout: 1)
        let mute = try await MuteAgent.start(c, name: "mute")
        try await c.waitAvailable(["mute"])
        let id = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["mute"]))
        let feed = try await Self.read(c, "pushy/job_status_feed/\(id)")
        #expect(Self.summary(feed.events) == ["start", "quorum_vote(voting_timeout)", "job_complete(quorum_failed)"])
        mute.close()
        await c.shutdown()
    }

    @Test func runTimeoutAndAbortSequences() async throws {
        let c = try await TestCluster()
        try await c.startAgent("t1")
        try await c.waitAvailable(["t1"])
        let timed = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["t1"], runTimeout: 1))
        let feed = try await Self.read(c, "pushy/job_status_feed/\(timed)")
        #expect(Self.summary(feed.events) == [
            "start", "quorum_vote(success)", "quorum_succeeded", "run_start", "job_complete(timed_out)",
        ])
        try await c.waitAvailable(["t1"])

        let aborted = try await c.admin.startJob(JobRequest(command: "sleep", nodes: ["t1"]))
        try await c.eventually("running") { try await c.admin.job(aborted).status == .running }
        let reader = Task { try await Self.read(c, "pushy/job_status_feed/\(aborted)") }
        _ = try await c.admin.abortJob(aborted)
        let events = try await reader.value.events
        #expect(Self.summary(events) == [
            "start", "quorum_vote(success)", "quorum_succeeded", "run_start", "aborted", "job_complete(aborted)",
        ])
        #expect(events.first { $0.name == "aborted" }?.data["user"]?.stringValue == "admin")
        let job = try await c.admin.job(aborted)
        #expect(job.status == .aborted)
        #expect(job.count(.aborted) == 1)
        await c.shutdown()
    }

    @Test func orgFeedCarriesStartAndCompleteOfEveryJob() async throws {
        let c = try await TestCluster()
        try await c.startAgent("o1")
        try await c.waitAvailable(["o1"])
        let reader = Task { try await Self.read(c, "pushy/job_status_feed", limit: 4) }
        try await Task.sleep(for: .milliseconds(300))
        let a = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["o1"]))
        _ = try await c.waitFinished(a)
        let b = try await c.admin.startJob(JobRequest(command: "ok", nodes: ["o1"]))
        _ = try await c.waitFinished(b)
        let events = try await reader.value.events
        #expect(events.map(\.name) == ["start", "job_complete", "start", "job_complete"])
        #expect(events.map { $0.data["job"]?.stringValue } == [a, a, b, b])
        #expect(events.map(\.id) == ["org-1", "org-2", "org-3", "org-4"])

        let resumed = try await Self.read(c, "pushy/job_status_feed", lastEventId: "org-2", limit: 2)
        #expect(resumed.events.map(\.id) == ["org-3", "org-4"])
        let gap = try await Self.read(c, "pushy/job_status_feed", lastEventId: "org-999", limit: 5)
        #expect(gap.events.first?.name == "start_of_history")
        #expect(gap.events.count == 5)
        await c.shutdown()
    }
}

/// An agent that connects, heartbeats and answers `abort`, but never votes (for voting timeouts).
final class MuteAgent: Sendable {
    let transport: ZMQAgentTransport
    let task: Task<Void, Never>

    static func start(_ c: TestCluster, name: String) async throws -> MuteAgent {
        try await c.createNode(name)
        let (key, _) = c.keys[name]!
        let rest = try PushyRESTClient(orgURL: c.orgURL, userId: name, key: key, tls: c.tls)
        try await rest.reportNode(NodeReport(name: name))
        let curve = try CurveKeyPair.generate()
        let config = try await rest.config(node: name, ccpk: curve.publicKey)
        let session = try SessionKey.decrypt(base64: config.encodedSessionKey, with: key).bytes
        let transport = try ZMQAgentTransport(context: try ZMQContext(), options: .init(
            subEndpoint: config.outAddr, dealerEndpoint: config.commandAddr,
            curveServerKey: config.curvePublicKey, curveKeyPair: curve))
        let incarnation = UUID().uuidString
        let seq = Counter()
        @Sendable func send(_ type: AgentMessageType, jobId: String? = nil) {
            let m = AgentMessage(node: name, client: "test", org: "pushy", type: type, sequence: seq.next(),
                                 timestamp: Date(), incarnationId: incarnation, jobId: jobId,
                                 jobState: type == .heartbeat ? .idle : nil)
            transport.send(MessageSigner.hmacFrames(body: m.bodyBytes, key: session))
        }
        send(.heartbeat)
        let task = Task {
            let beat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(TestCluster.heartbeat))
                    send(.heartbeat)
                }
            }
            for await inbound in transport.inbound {
                if case .command(let frames) = inbound, frames.count == 2,
                   let m = try? ServerMessage.parse(frames[1]), m.messageType == .abort {
                    send(.aborted)
                }
            }
            beat.cancel()
        }
        return MuteAgent(transport: transport, task: task)
    }

    init(transport: ZMQAgentTransport, task: Task<Void, Never>) {
        self.transport = transport
        self.task = task
    }

    func close() {
        transport.close()
        task.cancel()
    }
}

/// A thread-safe counter for message sequence numbers.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}
