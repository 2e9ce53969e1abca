import Foundation

/// What a primary or a secondary says of itself, about once a second, for `spool status`,
/// `GET /status`, `/metrics` and the dashboard of processes that share its store: a JSON file
/// next to the store (`PATH-replication-status`).
public struct ReplicationStatus: Codable, Sendable, Hashable {
    /// How far a copy is behind its primary.
    public struct Lag: Codable, Sendable, Hashable {
        /// Transactions the primary has that the copy has not applied.
        public var transactions: UInt64
        /// How old the copy's view of the primary is: 0 when it has everything the primary
        /// said it has, else the time since the primary captured the oldest transaction the copy
        /// lacks (or, a secondary's own view, the last one it applied); `nil` when unknown.
        public var seconds: Double?

        /// A lag.
        public init(transactions: UInt64, seconds: Double?) {
            self.transactions = transactions
            self.seconds = seconds
        }
    }

    /// A secondary as its primary sees it.
    public struct Secondary: Codable, Sendable, Hashable {
        /// Where it connects from.
        public var address: String
        /// The last transaction it reported applied.
        public var transaction: UInt64
        /// How far behind it is.
        public var lag: Lag

        /// A secondary's line.
        public init(address: String, transaction: UInt64, lag: Lag) {
            self.address = address
            self.transaction = transaction
            self.lag = lag
        }
    }

    /// `primary` or `secondary`.
    public var role: String
    /// The primary's term (for a secondary, of the primary its copy came from).
    public var term: UInt64
    /// The last transaction captured (primary) or applied (secondary).
    public var transaction: UInt64
    /// When this was written (ISO 8601).
    public var updatedAt: String
    /// A primary: where it listens. A secondary: the primary it follows.
    public var address: String
    /// A secondary: whether it is connected to its primary now.
    public var connected: Bool?
    /// A secondary: how far behind its primary it is.
    public var lag: Lag?
    /// A primary: the secondaries connected now.
    public var secondaries: [Secondary]?

    /// A status.
    public init(role: String, term: UInt64, transaction: UInt64, updatedAt: String, address: String,
                connected: Bool? = nil, lag: Lag? = nil, secondaries: [Secondary]? = nil) {
        self.role = role
        self.term = term
        self.transaction = transaction
        self.updatedAt = updatedAt
        self.address = address
        self.connected = connected
        self.lag = lag
        self.secondaries = secondaries
    }

    /// A secondary's lag from what its stream knows: the primary's last transaction, its own,
    /// and when the primary captured the last one it applied (microseconds since 1970; 0 unknown).
    public static func lag(primaryLast: UInt64, applied: UInt64, appliedCapturedAt: UInt64, now: Date) -> Lag {
        guard primaryLast > applied else { return Lag(transactions: 0, seconds: 0) }
        let seconds = appliedCapturedAt == 0 ? nil : max(0, now.timeIntervalSince1970 - Double(appliedCapturedAt) / 1e6)
        return Lag(transactions: primaryLast - applied, seconds: seconds)
    }
}
