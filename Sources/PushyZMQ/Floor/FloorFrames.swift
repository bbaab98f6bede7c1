/// The floor (issue 16): what libzmq and the kernel cost for Pushy's traffic with no Pushy
/// work on top. `FloorServer` and `FloorSwarm` exchange, per node, the messages of a Pushy job
/// (commit → ack_commit → run → ack_run → result, or for a job whose quorum needs no vote
/// Pushy's `commit_run` exchange: commit_run → ack_run → result) and Pushy's heartbeats, each as two frames
/// (header, body) of the sizes Pushy's frames have (`FloorFrames`, filled in from the real
/// messages by `FloorTraffic` in PushySwarm), with no JSON, HMAC, state machine or store.
/// Benchmark-only code; it lives here because PushyZMQ is the one module that calls libzmq.

/// The kinds of floor message, in the first byte of every body.
enum FloorKind: UInt8, CaseIterable {
    case heartbeat = 1, broadcast, commit, ackCommit, run, ackRun, result
    /// A commit that runs at once (Pushy's `commit_run`, issue 16): answered ack_run, result.
    case commitRun
}

/// Sizes of the two frames of every kind of message, copied from Pushy's.
public struct FloorFrames: Sendable, Equatable, CustomStringConvertible {
    /// One message's header and body frame sizes in bytes.
    public struct Size: Sendable, Equatable {
        public var header: Int
        public var body: Int
        public init(header: Int, body: Int) {
            self.header = header
            self.body = body
        }
        public var total: Int { header + body }
    }

    /// Agent → server, every interval.
    public var heartbeat: Size
    /// Server → every agent (PUB), every interval.
    public var broadcast: Size
    /// Server → agent, then agent → server, in job order.
    public var commit: Size
    public var ackCommit: Size
    public var run: Size
    public var ackRun: Size
    public var result: Size
    /// Server → agent: a commit with `commit_run` (single-node jobs, quorum ≤ 1).
    public var commitRun: Size

    /// Every body carries its kind, the node's index and the job's number (9 bytes).
    public static let minimumBody = 9

    public init(heartbeat: Size, broadcast: Size, commit: Size, ackCommit: Size, run: Size, ackRun: Size, result: Size,
                commitRun: Size? = nil) {
        self.heartbeat = heartbeat
        self.broadcast = broadcast
        self.commit = commit
        self.ackCommit = ackCommit
        self.run = run
        self.ackRun = ackRun
        self.result = result
        // `,"commit_run":true` on the commit's body when not given.
        self.commitRun = commitRun ?? Size(header: commit.header, body: commit.body + 18)
    }

    static let names = ["heartbeat", "broadcast", "commit", "ack_commit", "run", "ack_run", "result", "commit_run"]

    var all: [Size] { [heartbeat, broadcast, commit, ackCommit, run, ackRun, result, commitRun] }

    func size(_ kind: FloorKind) -> Size { all[Int(kind.rawValue) - 1] }

    /// `heartbeat=52+231,broadcast=...`: the form `parse` reads (command-line arguments).
    public var description: String {
        zip(Self.names, all).map { "\($0)=\($1.header)+\($1.body)" }.joined(separator: ",")
    }

    /// Reads `description`'s form; every kind must be present, every body ≥ `minimumBody`.
    public static func parse(_ text: String) throws(ZMQError) -> FloorFrames {
        var found: [String: Size] = [:]
        for item in text.split(separator: ",") {
            let pair = item.split(separator: "=")
            let parts = pair.count == 2 ? pair[1].split(separator: "+") : []
            guard parts.count == 2, let h = Int(parts[0]), let b = Int(parts[1]), h >= 0, b >= minimumBody else {
                throw .invalid("bad frame sizes '\(item)': expected KIND=HEADER+BODY with a body of at least \(minimumBody) bytes")
            }
            found[String(pair[0])] = Size(header: h, body: b)
        }
        let sizes = names.map { found[$0] }
        guard sizes.allSatisfy({ $0 != nil }) else {
            throw .invalid("frame sizes must name every kind: \(names.joined(separator: ", "))")
        }
        return FloorFrames(heartbeat: sizes[0]!, broadcast: sizes[1]!, commit: sizes[2]!, ackCommit: sizes[3]!,
                           run: sizes[4]!, ackRun: sizes[5]!, result: sizes[6]!, commitRun: sizes[7]!)
    }
}

/// Message counts of one side of the floor. The two sides' counts must agree once traffic has
/// stopped: every message sent was received (`FloorCounts.mismatches`).
public struct FloorCounts: Sendable, Equatable, CustomStringConvertible {
    public var heartbeats = 0
    public var broadcasts = 0
    public var commits = 0
    public var ackCommits = 0
    public var runs = 0
    public var ackRuns = 0
    public var results = 0
    /// Messages of a wrong size, kind, node or job, duplicates, or out of order.
    public var unexpected = 0
    public var sendFailures = 0
    /// Swarm only: the fewest broadcasts any one agent received.
    public var fewestBroadcasts = 0
    /// Server: nodes heard from (a heartbeat); swarm: agents.
    public var nodes = 0

    public init() {}

    static let keys = ["nodes", "heartbeats", "broadcasts", "fewest_broadcasts", "commits", "ack_commits", "runs",
                       "ack_runs", "results", "unexpected", "send_failures"]

    var values: [Int] {
        [nodes, heartbeats, broadcasts, fewestBroadcasts, commits, ackCommits, runs, ackRuns, results, unexpected, sendFailures]
    }

    /// `nodes=200 heartbeats=… …` (one line of the control protocol).
    public var description: String {
        zip(Self.keys, values).map { "\($0)=\($1)" }.joined(separator: " ")
    }

    /// Reads `description`'s form (unknown keys are ignored, missing ones are 0).
    public static func parse<S: StringProtocol>(_ words: [S]) -> FloorCounts {
        var c = FloorCounts()
        for word in words {
            let pair = word.split(separator: "=")
            guard pair.count == 2, let v = Int(pair[1]) else { continue }
            switch String(pair[0]) {
            case "nodes": c.nodes = v
            case "heartbeats": c.heartbeats = v
            case "broadcasts": c.broadcasts = v
            case "fewest_broadcasts": c.fewestBroadcasts = v
            case "commits": c.commits = v
            case "ack_commits": c.ackCommits = v
            case "runs": c.runs = v
            case "ack_runs": c.ackRuns = v
            case "results": c.results = v
            case "unexpected": c.unexpected = v
            case "send_failures": c.sendFailures = v
            default: break
            }
        }
        return c
    }

    /// Adds another process's counts (a swarm of several processes); `fewestBroadcasts` is the minimum.
    public static func + (a: FloorCounts, b: FloorCounts) -> FloorCounts {
        var c = FloorCounts()
        c.nodes = a.nodes + b.nodes
        c.heartbeats = a.heartbeats + b.heartbeats
        c.broadcasts = a.broadcasts + b.broadcasts
        c.fewestBroadcasts = a.nodes == 0 ? b.fewestBroadcasts : b.nodes == 0 ? a.fewestBroadcasts : min(a.fewestBroadcasts, b.fewestBroadcasts)
        c.commits = a.commits + b.commits
        c.ackCommits = a.ackCommits + b.ackCommits
        c.runs = a.runs + b.runs
        c.ackRuns = a.ackRuns + b.ackRuns
        c.results = a.results + b.results
        c.unexpected = a.unexpected + b.unexpected
        c.sendFailures = a.sendFailures + b.sendFailures
        return c
    }

    /// Where the server's counts (`self`) and the agents' (`agents`, all processes added) disagree,
    /// once traffic has stopped; empty when every message sent was received exactly once and
    /// nothing unexpected or failed was seen. `published` broadcasts went out after every agent
    /// had connected, so each agent must have received at least that many.
    public func mismatches(agents: FloorCounts, publishedSinceConnected published: Int) -> [String] {
        var m: [String] = []
        func check(_ what: String, sent: Int, received: Int) {
            if sent != received { m.append("\(what): \(sent) sent, \(received) received") }
        }
        check("heartbeats", sent: agents.heartbeats, received: heartbeats)
        check("commits", sent: commits, received: agents.commits)
        check("ack_commits", sent: agents.ackCommits, received: ackCommits)
        check("runs", sent: runs, received: agents.runs)
        check("ack_runs", sent: agents.ackRuns, received: ackRuns)
        check("results", sent: agents.results, received: results)
        if agents.fewestBroadcasts < published {
            m.append("broadcasts: an agent received \(agents.fewestBroadcasts), \(published) were published after all connected")
        }
        if unexpected + agents.unexpected > 0 { m.append("unexpected messages: server \(unexpected), agents \(agents.unexpected)") }
        if sendFailures + agents.sendFailures > 0 { m.append("send failures: server \(sendFailures), agents \(agents.sendFailures)") }
        return m
    }
}
