/// What the runtime needs to run a job's command: write its job file, start it, kill its
/// process group. `ProcessRunner` is the real one (posix_spawn); tests use a stand-in that
/// exits when told to.
protocol ProcessLauncher: Sendable {
    /// Writes the job's `file` payload (0600, owned by `owner` when given); returns its path.
    func writeJobFile(_ bytes: [UInt8], owner: ProcessRunner.RunAs?) throws -> String
    /// Starts `commandLine`; `done` is awaited once with the exit status (128+signal when killed).
    func spawn(jobId: String, commandLine: String, environment: [String: String], dir: String?,
               runAs: ProcessRunner.RunAs?, capture: Bool, jobFile: String?,
               done: @escaping @Sendable (Int32) async -> Void) throws -> ProcessRunner.Handle
    /// SIGTERM to the job's process group, SIGKILL after `grace` seconds if any is left.
    func terminate(_ handle: ProcessRunner.Handle, grace: Double)
}
