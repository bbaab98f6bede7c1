import ArgumentParser
import PushyProtocol

/// Rate control of `pushy job start` (issue 13): how fast the job reaches its nodes.
struct RateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Most nodes running the command at once: a count (10) or a percentage of the nodes (25%).",
        valueName: "N|N%"), transform: { try RateOptions.amount($0, "--max-concurrency") })
    var maxConcurrency: RateControl.Amount?

    @Option(name: .long, help: ArgumentHelp(
        "Stop launching nodes once this many launched nodes did not succeed (count or percentage); "
            + "running ones finish, the rest are skipped.",
        valueName: "N|N%"), transform: { try RateOptions.amount($0, "--max-errors") })
    var maxErrors: RateControl.Amount?

    @Option(name: .long, help: ArgumentHelp(
        "Run the nodes in batches of this many (count or percentage); a batch starts when the previous one ended.",
        valueName: "N|N%"), transform: { try RateOptions.amount($0, "--batch-size") })
    var batchSize: RateControl.Amount?

    @Option(name: .long, help: ArgumentHelp(
        "Seconds to wait between batches (needs --batch-size or --canary).", valueName: "seconds"))
    var batchWait: Double?

    @Option(name: .long, help: ArgumentHelp(
        "Run the first N nodes alone first; stop the job if any of them fails.", valueName: "N"))
    var canary: Int?

    func validate() throws {
        if let batchWait {
            guard batchWait >= 0, batchWait <= 86_400 else { throw ValidationError("--batch-wait must be 0 to 86400 seconds") }
            guard batchSize != nil || canary != nil else {
                throw ValidationError("--batch-wait is the pause between batches: give --batch-size (or --canary) too")
            }
        }
        if let canary, canary < 1 { throw ValidationError("--canary must be a number of nodes >= 1") }
    }

    /// The rate control asked for; nil when no option was given.
    var rateControl: RateControl? {
        let r = RateControl(maxConcurrency: maxConcurrency, maxErrors: maxErrors, batchSize: batchSize,
                            batchWait: batchWait, canary: canary)
        return r.isEmpty ? nil : r
    }

    static func amount(_ text: String, _ option: String) throws(ValidationError) -> RateControl.Amount {
        guard let a = RateControl.Amount.parse(text) else {
            throw ValidationError("\(option) takes a number of nodes >= 1 (e.g. 3) or a percentage above 0% (e.g. 10%)")
        }
        return a
    }
}
