import PushyAPIClient
import PushyProtocol
import PushyZMQ

/// What a `Swarm` simulates and how it connects.
public struct SwarmConfiguration: Sendable {
    /// Whose credentials sign the config requests (spec 7.1).
    public enum Identity: Sendable {
        /// Each agent fetches its own config signed as its own client, with a key from this pool
        /// (agent i uses key i % pool.count). The server stores the pool key as each client's
        /// public key, so keys are shared, but every agent still gets its own session key.
        /// Generating 10,000 RSA keys would take minutes; a small pool takes a second.
        case nodeKeys([RSAPrivateKey])
        /// An admin user fetches every agent's config (allowed by the issue); each agent still
        /// gets its own session key, encrypted to the admin's key.
        case admin(userId: String, key: RSAPrivateKey)
    }

    /// The org URL, e.g. `http://127.0.0.1:10003/organizations/pushy`.
    public var orgURL: String
    /// Other servers' org URLs (several servers on one database, issue 17), as a real agent's
    /// `server_url` list: an agent stays with the server that answers and, when it stops
    /// answering or goes silent, moves to the next. Agent i tries them rotated by i, as an
    /// operator gives hosts different orders, so a dead server's agents spread over the others.
    public var fallbackURLs: [String] = []
    /// How the server's HTTPS certificate is checked (the lead added this for TLS-by-default).
    public var tls: ClientTLS = .system
    /// Agents in this process and the global index of the first (names are `prefix-NNNNNN`).
    public var count: Int
    public var firstIndex = 0
    public var prefix = "swarm"
    public var identity: Identity
    /// Simulated command run time, seconds (0 = succeed/fail right after `ack_run`).
    public var commandSeconds = 0.0
    /// Share of agents whose commands fail / who nack commits. Chosen by index, evenly spread
    /// and deterministic (`Swarm.isSelected(index:ratio:)`), so a test knows which ones.
    public var failRatio = 0.0
    public var nackRatio = 0.0
    /// Each agent's first connect happens at a random moment in [0, connectSplay) seconds.
    public var connectSplaySeconds = 0.0
    /// Agent i connects to 127.0.0.(1 + i % addressSpread) instead of the advertised loopback
    /// host, so no single destination address runs out of ephemeral ports (~28k per address).
    /// Needs a server listening on 0.0.0.0. 1 = use the advertised address as is.
    public var addressSpread = 1
    /// Agents per I/O thread (each thread polls 2 sockets per agent on every wake-up).
    public var shardSize = 400
    /// Concurrent config requests.
    public var fetchConcurrency = 8
    /// Concurrent config requests of agents moving to another server because theirs went
    /// silent (nil: `fetchConcurrency`). Real agents are separate machines that move within one
    /// heartbeat interval's splay; a cluster bench sets this high so that the time a server's
    /// agents take to move is the servers', not this process's queue.
    public var moveConcurrency: Int?
    /// libzmq background I/O threads for this process's context.
    public var ioThreads = 1
    /// Socket settings. The DEALER's send high-water mark is 1,000 rather than the agent's 3:
    /// a real agent has its own libzmq I/O thread, but here one I/O thread serves thousands of
    /// connections, and an agent that answers `run` with `ack_run` and `succeeded` at once would
    /// otherwise lose messages to `EAGAIN` while that thread is busy.
    public var transport: ZMQSwarmTransport.Options = {
        var o = ZMQSwarmTransport.Options()
        o.sendHighWaterMark = 1000
        return o
    }()
    /// Keep, per job and agent, what the agent did (`AgentJobEvent`s) until `Swarm.report(job:)`
    /// hands it out: the soak compares it with the server's view of the job. Off for the bench.
    public var recordJobs = false
    /// Ask for `commit_run` (issue 16) as `pushy-client` does: a commit that carries it is
    /// answered `ack_run` and run at once. Off: the reference exchange only (a Push Jobs client).
    public var commitRun = true
    /// Longest wait for one REST call.
    public var requestTimeoutSeconds = 30

    /// The servers agent `index` tries, in order: `orgURL` first, then the fallbacks rotated by `index`.
    public func serverURLs(index: Int) -> [String] {
        guard !fallbackURLs.isEmpty else { return [orgURL] }
        let shift = index % fallbackURLs.count
        return [orgURL] + fallbackURLs[shift...] + fallbackURLs[..<shift]
    }

    public init(orgURL: String, count: Int, identity: Identity) {
        self.orgURL = orgURL
        self.count = count
        self.identity = identity
    }

    /// File descriptors one agent costs in this process: a SUB and a DEALER, each with a
    /// libzmq mailbox (eventfd) and a TCP socket.
    public static let descriptorsPerAgent = 4
    /// Descriptors kept for everything else (threads' wake fds, HTTP, logs, stdio).
    public static let descriptorReserve = 128
}
