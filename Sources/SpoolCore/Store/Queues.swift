/// A queue with its pause flag and job counts.
public struct QueueInfo: Hashable, Sendable {
    /// The queue's name.
    public var name: String
    /// Whether it hands out no jobs.
    public var paused: Bool
    /// How many jobs are in each state.
    public var counts: [JobState: Int]

    /// Creates a queue record.
    public init(name: String, paused: Bool, counts: [JobState: Int]) {
        self.name = name
        self.paused = paused
        self.counts = counts
    }
}
