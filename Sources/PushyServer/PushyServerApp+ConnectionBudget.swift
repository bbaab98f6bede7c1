import Logging
import PushyZMQ

extension PushyServerApp {
    /// The server's descriptor budget (`max_agent_connections`, else the file limit — the soft
    /// limit raised to the hard one first — minus a reserve), logging its state changes: one line when it fills, one when it has room again,
    /// refusals and accept failures at most once per `ConnectionBudgetState.reportInterval`.
    static func makeConnectionBudget(config: ServerConfiguration, logger: Logger) -> ConnectionBudget {
        let fileLimit = ConnectionBudget.raiseFileLimitToHard()
        let budget = config.maxAgentConnections ?? ConnectionBudgetState.defaultBudget(fileLimit: fileLimit)
        let result = ConnectionBudget(budget: budget, fileLimit: fileLimit) { notice in
            log(notice, fileLimit: fileLimit, logger: logger)
        }
        logger.info("connection budget: \(result.budget) connections (\(result.budget / ConnectionBudgetState.connectionsPerAgent) agents; file limit \(fileLimit))")
        if budget > fileLimit {
            logger.warning("max_agent_connections (\(budget)) is above the file limit (\(fileLimit)): at the limit libzmq spins at 100 % CPU; lower it or raise LimitNOFILE")
        }
        return result
    }

    static func log(_ notice: ConnectionBudgetState.Notice, fileLimit: Int, logger: Logger) {
        switch notice {
        case .budgetReached(let open, let budget, let resumeBelow):
            logger.warning("connection budget reached: \(open) of \(budget) connections (file limit \(fileLimit)); refusing new agents until below \(resumeBelow) — raise the file limit (LimitNOFILE) or add a server")
        case .resumed(let open, let budget):
            logger.notice("connection budget: \(open) of \(budget) connections open; accepting new agents again")
        case .refusals(let count, let open, let budget):
            logger.warning("refused \(count) ZeroMQ connection(s) since the last report: connection budget full (\(open) of \(budget))")
        case .acceptFailures(let count, let errno):
            logger.error("ZeroMQ accept() failed \(count) time(s) since the last report (errno \(errno)\(errno == 24 || errno == 23 ? ", too many open files" : "")): the process is at its file limit (\(fileLimit)); lower max_agent_connections or raise LimitNOFILE")
        }
    }
}
