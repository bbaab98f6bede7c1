import Foundation
import PushyTestSupport
import PushyAPIClient
import PushyProtocol
import Testing

/// Issue 3 end to end: a node enrols itself with a one-time token and joins over TLS + CURVE
/// as a real `pushy-client` process; a writer starts a job, a reader reads it, and the reader's
/// own attempt to start one is refused.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SecureClusterTests {
    @Test func enrolledAgentsOverTLSAndCurveWithWriterAndReader() async throws {
        let c = try await TestCluster()
        #expect(c.orgURL.hasPrefix("https://"))

        // A writer and a reader, each with their own key.
        let writerKey = try ClusterKeys.named("wendy"), readerKey = try ClusterKeys.named("rita")
        try await c.admin.createUser(name: "wendy", publicKeyPEM: writerKey.publicKey.pemRepresentation)
        try await c.admin.createUser(name: "rita", publicKeyPEM: readerKey.publicKey.pemRepresentation)
        _ = try await c.admin.addGroupMember(group: "pushy_job_writers", type: "user", name: "wendy")
        _ = try await c.admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "wendy")
        _ = try await c.admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "rita")
        _ = try await c.admin.addGroupMember(group: "pushy_job_readers", type: "user", name: "admin")
        let writer = try PushyRESTClient(orgURL: c.orgURL, userId: "wendy", key: writerKey, tls: c.tls)
        let reader = try PushyRESTClient(orgURL: c.orgURL, userId: "rita", key: readerKey, tls: c.tls)

        // A new node enrols itself: no admin touches its private key.
        let token = try await c.admin.createEnrollmentToken(expiresIn: 600)
        let keyPath = c.dataDir + "/enrolled/newnode.pem"
        var args = ["--server-url", c.orgURL, "--trusted-cert", c.certificatePath, "--node", "newnode",
                    "--key", keyPath, "--enroll-token", token.token, "--role", "web", "--log-level", "warning",
                    "--file-dir", c.dataDir + "/agent-newnode"]
        for w in TestCluster.whitelist { args += ["--whitelist", w] }
        c.processes["newnode"] = try ProcessRun(Command(TestCluster.binary("pushy-client"), args), name: "pushy-client newnode (enrolling)")
        try await c.startAgent("inproc", roles: ["web"])
        try await c.waitAvailable(["newnode", "inproc"])
        let attrs = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)

        // The token was single use.
        do {
            try await PushyRESTClient.enroll(orgURL: c.orgURL, token: token.token, name: "another",
                                             publicKeyPEM: try KeysByName.unused().publicKey.pemRepresentation,
                                             httpClient: try c.tls.httpClient())
            Issue.record("a used token enrolled a second node")
        } catch let error as PushyClientError {
            #expect(error.status == 401)
        }

        let rows = try await writer.searchNodes("role:web")
        #expect(rows.compactMap { $0["name"]?.stringValue }.sorted() == ["inproc", "newnode"])
        let id = try await writer.startJob(JobRequest(command: "ok", nodes: ["newnode", "inproc"]))
        let job = try await c.waitFinished(id)
        #expect(job.status == .complete)
        #expect(job.count(.succeeded) == 2)

        #expect(try await reader.job(id).status == .complete)
        do {
            _ = try await reader.startJob(JobRequest(command: "ok", nodes: ["newnode"]))
            Issue.record("a reader started a job")
        } catch {
            #expect(error.status == 403)
        }
        let actions = try await c.admin.audit().map(\.action)
        #expect(actions.contains("job.created"))
        #expect(actions.contains("client.enrolled"))
        await c.shutdown()
    }
}
