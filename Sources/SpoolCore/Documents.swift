import Foundation

// The JSON shapes of queues, quotas and dispatchers, shared by the CLI's `--json` output and
// the HTTP API so that each is documented once. Jobs use `Job`'s own `Codable` form.

/// A queue as JSON: `{"name", "paused", "counts": {state: n}}`, with every state present.
public struct QueueDocument: Codable, Hashable, Sendable {
    /// The queue's name.
    public var name: String
    /// Whether it hands out no jobs.
    public var paused: Bool
    /// Jobs per state, keyed by the state's name; every state is present.
    public var counts: [String: Int]

    /// The document of `info`.
    public init(_ info: QueueInfo) {
        name = info.name
        paused = info.paused
        counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, info.counts[$0] ?? 0) })
    }
}

/// A quota as JSON: `{"name", "size", "running": [job ids], "filled"}`.
public struct QuotaDocument: Codable, Hashable, Sendable {
    /// The quota's name.
    public var name: String
    /// How many jobs naming it may run at once.
    public var size: Int
    /// The running jobs that name it.
    public var running: [JobID]
    /// Whether no further job naming it may start.
    public var filled: Bool

    /// The document of `info`.
    public init(_ info: QuotaInfo) {
        name = info.name
        size = info.size
        running = info.running
        filled = info.filled
    }
}

/// A dispatcher as JSON: `{"id", "host", "pid", "state", "startedAt", "lastPingAt", "agents"}`,
/// times in ISO 8601 UTC and the id in lowercase.
public struct DispatcherDocument: Codable, Hashable, Sendable {
    /// Its persistent UUID, lowercase.
    public var id: String
    /// The host it runs on.
    public var host: String
    /// Its process id.
    public var pid: Int
    /// Its recorded state: `active`, `inactive` or `dead`.
    public var state: DispatcherState
    /// When it registered last.
    public var startedAt: String
    /// When it pinged last.
    public var lastPingAt: String
    /// Its agents with their running and recently completed jobs.
    public var agents: [AgentInfo]

    /// The document of `info`.
    public init(_ info: DispatcherInfo) {
        id = info.id.uuidString.lowercased()
        host = info.host
        pid = info.pid
        state = info.state
        startedAt = ISO8601.format(info.startedAt)
        lastPingAt = ISO8601.format(info.lastPingAt)
        agents = info.agents
    }
}
