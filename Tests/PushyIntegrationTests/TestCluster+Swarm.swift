import PushySwarm

extension TestCluster {
    /// Registers and starts `swarm` against this cluster, runs `body`, then stops the swarm and
    /// shuts the cluster down, whether `body` succeeded or threw.
    func running(_ swarm: Swarm, _ body: () async throws -> Void) async throws {
        do {
            try await swarm.register(admin: admin)
            swarm.start()
            try await body()
        } catch {
            swarm.stop()
            await shutdown()
            throw error
        }
        swarm.stop()
        await shutdown()
    }
}
