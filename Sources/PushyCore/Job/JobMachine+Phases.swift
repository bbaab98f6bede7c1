import PushyProtocol

/// How `JobMachine` answers a node's message in each phase of the job: voting, run-at-commit
/// (issue 16's combined commit and run) and running.
extension JobMachine {
    mutating func handleVoting(_ node: String, _ current: NodeJobStatus, _ input: Input, _ now: Double,
                               _ actions: inout [Action]) {
        switch (current, input) {
        case (.new, .ackCommit):
            set(node, .ready, reason: nil, into: &actions)
            actions.append(.event(.vote(node, "success")))
        case (.ready, .ackCommit):
            actions.append(.event(.vote(node, "unexpected_commit")))
        case (.new, .nackCommit(let reason)):
            set(node, .nacked, reason: "nacked: \(reason ?? "refused by the node")", into: &actions)
            actions.append(.event(.vote(node, "failure")))
        case (.ready, .nackCommit):
            set(node, .unavailable, reason: "lost availability after acking the commit", into: &actions)
            actions.append(.event(.vote(node, "lost_availibility")))
            rehab(node, into: &actions)
        case (_, .ackCommit), (_, .nackCommit):
            actions.append(.event(.vote(node, "client_died_while_voting")))
            rehab(node, into: &actions)
        case (.new, .down(let reason)), (.ready, .down(let reason)):
            set(node, .unavailable, reason: reason, into: &actions)
            actions.append(.event(.vote(node, "down")))
            rehab(node, into: &actions)
        case (.ready, .disowned(let reason)):
            set(node, .unavailable, reason: reason, into: &actions)
            actions.append(.event(.vote(node, "down")))
        case (.new, _), (.ready, _):
            set(node, .unavailable, reason: "unexpected message while voting: \(input)", into: &actions)
            rehab(node, into: &actions)
        case (_, .down), (_, .aborted), (_, .disowned):
            // A finished node going away, or answering the abort we sent it, needs no new reset.
            break
        default:
            rehab(node, into: &actions)
        }
        evaluateQuorumIfVoted(now: now, into: &actions)
    }

    /// A node told to run at its commit, while the job still votes: its `ack_run` is its vote
    /// and its start; its result may come before the vote ends. Anything else is as for a vote
    /// (a nack, going down) or, once it runs, as for a running node.
    mutating func handleRunAtCommit(_ node: String, _ current: NodeJobStatus, _ input: Input, _ now: Double,
                                    _ actions: inout [Action]) {
        switch (current, input) {
        case (.new, .ackRun):
            set(node, .running, reason: nil, into: &actions)
            actions.append(.event(.vote(node, "success")))
            // The reference order: the vote, `quorum_succeeded` (when this was the last vote),
            // then `run_start`.
            evaluateQuorumIfVoted(now: now, into: &actions)
            actions.append(.event(JobFeedEvent("run_start", [("node", .string(node))])))
            return
        case (.new, .succeeded), (.new, .failed):
            // Its `ack_run` was lost on the way, but the result says it ran.
            actions.append(.event(.vote(node, "success")))
            set(node, .running, reason: nil, into: &actions)
            evaluateQuorumIfVoted(now: now, into: &actions)
            handleRunning(node, .running, input, now, &actions)
            if status == .running {
                if let after = nodes[node], after.isTerminal { ended(node, after, now: now, into: &actions) }
                completeIfDone(now: now, into: &actions)
            }
            return
        case (.new, _), (.ready, _):
            handleVoting(node, current, input, now, &actions)
            return
        default:
            handleRunning(node, current, input, now, &actions)
        }
        evaluateQuorumIfVoted(now: now, into: &actions)
    }

    mutating func handleRunning(_ node: String, _ current: NodeJobStatus, _ input: Input, _ now: Double,
                                _ actions: inout [Action]) {
        switch (current, input) {
        case (.queued, .ackCommit):
            // The same commit answered again: it still waits for its turn.
            break
        case (.queued, .nackCommit), (.queued, .aborted):
            leaveQueue(node, .unavailable, reason: "left the job while waiting to be launched (\(input))", into: &actions)
            rehab(node, into: &actions)
        case (.queued, .down(let reason)):
            leaveQueue(node, .unavailable, reason: "lost while waiting to be launched: \(reason)", into: &actions)
            rehab(node, into: &actions)
        case (.queued, .disowned(let reason)):
            leaveQueue(node, .unavailable, reason: "lost while waiting to be launched: \(reason)", into: &actions)
        case (.queued, _):
            leaveQueue(node, .crashed, reason: "unexpected message while waiting to be launched: \(input)", into: &actions)
            rehab(node, into: &actions)
        case (.ready, .ackRun):
            set(node, .running, reason: nil, into: &actions)
            actions.append(.event(JobFeedEvent("run_start", [("node", .string(node))])))
        case (.running, .ackRun):
            break
        case (.ready, .nackRun):
            set(node, .failed, reason: "the node refused to run the job", into: &actions)
            actions.append(.event(.runComplete(node, "run_nacked")))
            rehab(node, into: &actions)
        case (.running, .nackRun) where runResent.contains(node):
            // The answer to a `run` sent again (`noteRunResent`) by an agent that nacks a second
            // `run` for the job it already runs (Push Jobs clients do): the first one arrived.
            resentRunAnswered(node)
        case (.running, .nackRun):
            set(node, .failed, reason: "the node refused to run the job while running it", into: &actions)
            actions.append(.event(.runComplete(node, "run_nacked_while_running")))
            rehab(node, into: &actions)
        case (.running, .succeeded):
            set(node, .succeeded, reason: nil, into: &actions)
            actions.append(.event(.runComplete(node, "success")))
        case (.running, .failed(let reason)):
            set(node, .failed, reason: reason, into: &actions)
            actions.append(.event(.runComplete(node, "failure")))
        case (.succeeded, .succeeded), (.failed, .failed):
            // The same result again (the agent resends what a closed connection may have lost).
            break
        case (_, .succeeded) where current.isTerminal, (_, .failed) where current.isTerminal:
            // A result for a node the job already ended (crashed when its heartbeats disowned
            // the job, timed out, aborted): too late to count; the agent is idle, so no reset.
            break
        case (.ready, .down(let reason)), (.running, .down(let reason)):
            set(node, .crashed, reason: "lost during run: \(reason)", into: &actions)
            actions.append(.event(.runComplete(node, "crashed")))
            rehab(node, into: &actions)
        case (.ready, .disowned(let reason)), (.running, .disowned(let reason)):
            set(node, .crashed, reason: "lost during run: \(reason)", into: &actions)
            actions.append(.event(.runComplete(node, "crashed")))
        case (.ready, .succeeded):
            // Its `ack_run` was lost on the way, but the result says it ran.
            set(node, .succeeded, reason: nil, into: &actions)
            actions.append(.event(.runComplete(node, "success")))
        case (.ready, .failed(let reason)):
            set(node, .failed, reason: reason, into: &actions)
            actions.append(.event(.runComplete(node, "failure")))
        case (.ready, _), (.running, _):
            set(node, .crashed, reason: "unexpected message during run: \(input)", into: &actions)
            actions.append(.event(.runComplete(node, "crashed")))
            rehab(node, into: &actions)
        case (_, .down), (_, .aborted), (_, .disowned):
            // A finished node going away, or answering the abort we sent it, needs no new reset.
            break
        default:
            actions.append(.event(.runComplete(node, "client_died_while_running")))
            rehab(node, into: &actions)
        }
    }
}
