import Foundation
import SpoolCore

/// How a dispatcher runs: its identity, what it takes, and its timings.
public struct DispatcherConfiguration: Sendable {
    /// The dispatcher's persistent UUID (see ``DispatcherIdentity``).
    public var id: UUID
    /// Queues to take from; `nil` takes from every queue.
    public var queues: [String]?
    /// Its agents; the default is one agent named `main`.
    public var agents: [AgentSpec] = [.main]
    /// Periodic jobs this dispatcher helps fire (each tick fires once across all dispatchers).
    public var cron: [CronSchedule] = []
    /// How often an idle agent looks for work it was not told about (other processes' jobs).
    public var pollInterval: Duration = .milliseconds(500)
    /// How often the dispatcher pings, renews leases and looks for dead dispatchers.
    public var pingInterval: Duration = .seconds(2)
    /// How long a dispatcher may stay silent before others declare it dead.
    public var deadAfter: Duration = .seconds(10)
    /// How long a claim holds a job without a ping renewing it: unless set, three times
    /// ``deadAfter`` and at least 30 s, so a dispatcher's jobs outlive the pings it may miss
    /// before others declare it dead.
    public var lease: Duration {
        get { chosenLease ?? max(.seconds(30), deadAfter * 3) }
        set { chosenLease = newValue }
    }
    private var chosenLease: Duration?
    /// How long running jobs may finish after a shutdown begins, before they are returned.
    public var gracePeriod: Duration = .seconds(25)
    /// How long a shutdown's last store calls (returning unfinished jobs, recording the
    /// dispatcher inactive) may take together once its jobs are done or the grace period is
    /// over; past it the dispatcher gives up on a store that stopped answering and ends anyway,
    /// leaving what it holds to be rescued when the leases expire. A claim still in flight
    /// when the grace period ends gets as long. With the defaults a shutdown takes about 30
    /// seconds at most, a container platform's usual limit.
    public var shutdownTimeout: Duration = .seconds(5)
    /// The delays between attempts.
    public var backoff: Backoff = .default
    /// How many completed job ids each agent keeps.
    public var completedHistory = 10
    /// How long finished jobs are kept before they are deleted (``Retention/standard``: completed
    /// jobs a day, cancelled and discarded ones a week).
    public var retention: Retention = .standard
    /// How often retention runs: each time, one dispatcher of the store deletes what is due.
    public var retentionInterval: Duration = .seconds(60)
    /// How many jobs one prune deletes in one transaction: small, so a claim never waits long.
    public var pruneBatch = 500
    /// The largest share of time retention spends deleting: after each batch it pauses (at least
    /// 5 ms) so that its batches hold the store's write lock at most this share of the time
    /// (measured inside the lock: the wait for it does not lengthen the pause), leaving the rest
    /// to the jobs. When jobs finish faster than that share deletes them, finished jobs stay
    /// longer than their age until the load eases.
    public var pruneShare = 0.125

    /// Creates a configuration with the defaults.
    public init(id: UUID) { self.id = id }
}
