import Foundation

/// A request for jobs on behalf of one agent of one dispatcher.
public struct ClaimParams: Sendable {
    /// The dispatcher that will hold the jobs.
    public var dispatcher: UUID
    /// Which queues to take from; `nil` takes from every queue.
    public var queues: [String]?
    /// At most this many jobs: the agent's free capacity.
    public var limit: Int
    /// The order in which to take jobs.
    public var policy: AgentPolicy
    /// Which jobs the agent takes.
    public var filter: JobFilter
    /// The time of the claim.
    public var now: Date
    /// How long the hold lasts unless renewed by a ping.
    public var lease: Duration

    /// Creates claim parameters.
    public init(dispatcher: UUID, queues: [String]? = nil, limit: Int, policy: AgentPolicy = .fifo,
                filter: JobFilter = .any, now: Date, lease: Duration = .seconds(30)) {
        self.dispatcher = dispatcher
        self.queues = queues
        self.limit = limit
        self.policy = policy
        self.filter = filter
        self.now = now
        self.lease = lease
    }
}
