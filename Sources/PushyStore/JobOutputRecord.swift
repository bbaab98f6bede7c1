import Foundation

/// Captured output of one node in one job: exact bytes, and whether the agent cut them to
/// their tail to fit its message limit (spec 12 point 8).
public struct JobOutputRecord: Sendable, Hashable {
    public var jobId: String
    public var node: String
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool

    public init(jobId: String, node: String, stdout: [UInt8], stderr: [UInt8], stdoutTruncated: Bool = false,
                stderrTruncated: Bool = false) {
        self.jobId = jobId
        self.node = node
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
    }
}
