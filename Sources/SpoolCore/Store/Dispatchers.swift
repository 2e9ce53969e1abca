import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dispatcher introducing itself to the store.
public struct DispatcherRegistration: Sendable, Hashable {
    /// The dispatcher's persistent UUID.
    public var id: UUID
    /// The host it runs on.
    public var host: String
    /// Its process id.
    public var pid: Int
    /// Its agents.
    public var agents: [AgentInfo]
    /// The time of registration.
    public var now: Date
    /// How long a dispatcher may stay silent before it counts as dead: a registration of an id
    /// whose holder pinged more recently than this, from another process, is refused.
    public var deadAfter: Duration

    /// Creates a registration.
    public init(id: UUID, host: String, pid: Int, agents: [AgentInfo], now: Date, deadAfter: Duration = .seconds(10)) {
        self.id = id
        self.host = host
        self.pid = pid
        self.agents = agents
        self.now = now
        self.deadAfter = deadAfter
    }
}

/// A dispatcher's periodic sign of life.
public struct Ping: Sendable, Hashable {
    /// The dispatcher.
    public var dispatcher: UUID
    /// Its agents as they are now.
    public var agents: [AgentInfo]
    /// The time of the ping.
    public var now: Date
    /// The new lease of every job it holds.
    public var lease: Duration
    /// Jobs the store says this dispatcher holds, that it does not list as held and that were
    /// claimed before this time are rescued at once: a claim whose commit succeeded but whose
    /// answer was lost, or a finish that could not be recorded, left them behind. Only claims
    /// that have returned may be older; `nil` rescues nothing.
    public var rescueUnlistedBefore: Date?

    /// Creates a ping.
    public init(dispatcher: UUID, agents: [AgentInfo], now: Date, lease: Duration, rescueUnlistedBefore: Date? = nil) {
        self.dispatcher = dispatcher
        self.agents = agents
        self.now = now
        self.lease = lease
        self.rescueUnlistedBefore = rescueUnlistedBefore
    }

    /// Why a job found by ``rescueUnlistedBefore`` is rescued, for its error record.
    public var unlistedReason: String {
        "its dispatcher \(dispatcher.uuidString.lowercased()) held it without running it (a claim's answer or a finish was lost)"
    }
}

/// What the store answers a ping.
public struct PingReply: Sendable, Hashable {
    /// Jobs the dispatcher holds that someone asked to cancel.
    public var cancelRequested: [JobID]
    /// Jobs the dispatcher believes it holds but no longer does (rescued elsewhere).
    public var lost: [JobID]
    /// Jobs it held without listing them, rescued (see ``Ping/rescueUnlistedBefore``).
    public var rescued: [Job]

    /// Creates a reply.
    public init(cancelRequested: [JobID], lost: [JobID], rescued: [Job] = []) {
        self.cancelRequested = cancelRequested
        self.lost = lost
        self.rescued = rescued
    }
}

/// The state of a dispatcher as the store records it.
public enum DispatcherState: String, Sendable, Codable {
    /// Registered and pinging.
    case active
    /// Shut down cleanly.
    case inactive
    /// Its pings stopped; its jobs were rescued.
    case dead
}

/// A dispatcher as the store shows it.
public struct DispatcherInfo: Hashable, Sendable, Codable {
    /// Its persistent UUID.
    public var id: UUID
    /// The host it runs on.
    public var host: String
    /// Its process id.
    public var pid: Int
    /// Its recorded state.
    public var state: DispatcherState
    /// When it registered last.
    public var startedAt: Date
    /// When it pinged last.
    public var lastPingAt: Date
    /// Its agents.
    public var agents: [AgentInfo]

    /// Creates a dispatcher record.
    public init(id: UUID, host: String, pid: Int, state: DispatcherState, startedAt: Date, lastPingAt: Date, agents: [AgentInfo]) {
        self.id = id
        self.host = host
        self.pid = pid
        self.state = state
        self.startedAt = startedAt
        self.lastPingAt = lastPingAt
        self.agents = agents
    }
}

extension DispatcherRegistration {
    /// Why this registration must be refused, given the store's record of the same id, or `nil`
    /// when it may go ahead (and rescue the jobs the id held).
    ///
    /// Two live processes must never act as one dispatcher: each would rescue, as its own
    /// leftovers, the jobs the other is running. A record is provably stale when it is not
    /// active, when its last ping is older than ``deadAfter``, when it names this very process
    /// (same host and pid: a restart that reused the pid), or when it names a process on this
    /// host that no longer runs. Anything else (another host, or a running pid here) is a live
    /// holder, and the registration is refused with a ``SpoolError/Code/dispatcherInUse`` error
    /// that names the holder and the way out.
    public func conflict(with existing: DispatcherInfo?,
                         isRunning: (Int) -> Bool = LocalProcess.isRunning) -> SpoolError? {
        guard let existing, existing.state == .active else { return nil }
        let silence = now.timeIntervalSince(existing.lastPingAt)
        guard silence < deadAfter.seconds else { return nil }
        if existing.host == host {
            if existing.pid == pid || !isRunning(existing.pid) { return nil }
        }
        let ago = String(format: "%.1f", max(0, silence))
        return SpoolError(.dispatcherInUse, """
            dispatcher \(id.uuidString.lowercased()) is in use by process \(existing.pid) on host \(existing.host) \
            (last ping \(ago) s ago); give this process an identity of its own with --uuid-file PATH or \
            SPOOL_UUID_FILE, or stop that process (it counts as dead \(deadAfter.seconds) s after its last ping)
            """)
    }
}

/// Questions about processes on this host.
public enum LocalProcess {
    /// Whether a process with `pid` exists on this host (signal 0 probes without signalling).
    public static func isRunning(_ pid: Int) -> Bool {
        guard pid > 0, pid <= Int(Int32.max) else { return false }
        if kill(pid_t(pid), 0) == 0 { return true }
        return errno == EPERM
    }
}
