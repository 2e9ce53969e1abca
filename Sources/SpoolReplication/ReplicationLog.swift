import Foundation

/// The primary's retained log: the latest captured transactions, kept within a size and an age,
/// from which a secondary's greeting is answered.
///
/// The log starts at a ``base`` position (the empty store, or a snapshot's) and grows one
/// transaction at a time, each following the last by number and running checksum. Trimming drops
/// the oldest transactions and moves the base past them; a secondary behind the base needs a
/// snapshot.
public struct ReplicationLog: Sendable {
    /// How much the log keeps.
    public struct Limits: Sendable, Hashable {
        /// The most page bytes retained.
        public var bytes: Int
        /// How long a transaction is retained after it was captured.
        public var age: Duration

        /// Limits; by default 256 MiB and an hour.
        public init(bytes: Int = 256 << 20, age: Duration = .seconds(3600)) {
            self.bytes = bytes
            self.age = age
        }
    }

    /// What the log says to a secondary at `position`.
    public enum Lookup: Sendable, Hashable {
        /// Send these transactions (none when the secondary is up to date).
        case transactions([ReplicationTransaction])
        /// The secondary is behind what the log retains: it needs a snapshot first.
        case notRetained(oldest: UInt64)
        /// The position is not one of this primary's history: a transaction it never had, or a
        /// checksum that differs from its own at that transaction.
        case unknown(String)
    }

    private struct Entry: Sendable {
        var transaction: ReplicationTransaction
        var bytes: Int
        var captured: ContinuousClock.Instant
    }

    /// The limits.
    public var limits: Limits
    /// The position just before the oldest retained transaction.
    public private(set) var base: ReplicationPosition
    /// The last position: the newest transaction's, or the base when none is retained.
    public private(set) var position: ReplicationPosition
    /// The page bytes retained.
    public private(set) var bytes = 0
    private var entries: [Entry] = []
    private var first = 0

    /// An empty log starting at `base`.
    public init(base: ReplicationPosition = .empty, limits: Limits = Limits()) {
        self.base = base
        position = base
        self.limits = limits
    }

    /// How many transactions are retained.
    public var count: Int { entries.count - first }

    /// Appends the next transaction, captured at `now`, then trims to the limits. A transaction
    /// that does not follow the last position by number is refused. Its checksum is taken as
    /// the capture chained it from the same history (``ReplicationTransaction/checksum(after:)``),
    /// not hashed again here: every secondary checks it before applying anything.
    public mutating func append(_ transaction: ReplicationTransaction, at now: ContinuousClock.Instant = .now) throws(ReplicationStreamError) {
        guard transaction.number == position.transaction + 1 else {
            throw .outOfOrder("transaction \(transaction.number) appended after \(position.transaction)")
        }
        let size = transaction.pages.reduce(0) { $0 + $1.bytes.count }
        entries.append(Entry(transaction: transaction, bytes: size, captured: now))
        bytes += size
        position = ReplicationPosition(transaction: transaction.number, checksum: transaction.checksum)
        trim(now: now)
    }

    /// Drops the oldest transactions while the log is over its size or they are over its age.
    public mutating func trim(now: ContinuousClock.Instant = .now) {
        while first < entries.count, bytes > limits.bytes || now - entries[first].captured > limits.age {
            let dropped = entries[first]
            bytes -= dropped.bytes
            base = ReplicationPosition(transaction: dropped.transaction.number, checksum: dropped.transaction.checksum)
            first += 1
        }
        if first > 64, first * 2 > entries.count {
            entries.removeFirst(first)
            first = 0
        }
    }

    /// What to send a secondary that stands at `secondary`.
    public func after(_ secondary: ReplicationPosition) -> Lookup {
        if secondary.transaction > position.transaction {
            return .unknown("transaction \(secondary.transaction) is ahead of this primary's last, \(position.transaction)")
        }
        if secondary.transaction < base.transaction {
            return .notRetained(oldest: base.transaction + 1)
        }
        let known = secondary.transaction == base.transaction
            ? base.checksum
            : entries[first + Int(secondary.transaction - base.transaction) - 1].transaction.checksum
        guard known == secondary.checksum else {
            return .unknown("the checksum at transaction \(secondary.transaction) differs from this primary's")
        }
        return .transactions(entries[(first + Int(secondary.transaction - base.transaction))...].map(\.transaction))
    }

    /// When the primary captured transaction `number` (microseconds since 1970), if retained.
    public func capturedAt(_ number: UInt64) -> UInt64? {
        guard number > base.transaction, number <= position.transaction else { return nil }
        return entries[first + Int(number - base.transaction) - 1].transaction.capturedAt
    }

    /// A secondary's lag behind this log, from the last transaction it reported applied.
    public func lag(of applied: UInt64, now: Date) -> ReplicationStatus.Lag {
        guard position.transaction > applied else { return ReplicationStatus.Lag(transactions: 0, seconds: 0) }
        let seconds = capturedAt(applied + 1).map { max(0, now.timeIntervalSince1970 - Double($0) / 1e6) }
        return ReplicationStatus.Lag(transactions: position.transaction - applied, seconds: seconds)
    }

    /// The transactions after number `after`, all retained (for a secondary already streaming).
    public func transactions(after number: UInt64) -> [ReplicationTransaction] {
        guard number >= base.transaction, number < position.transaction else { return [] }
        return entries[(first + Int(number - base.transaction))...].map(\.transaction)
    }
}

/// The primary's answer to a connection's first message.
public enum PrimaryGreeting: Sendable, Hashable {
    /// Stream these transactions, then each new one.
    case stream([ReplicationTransaction])
    /// Send a snapshot first: the secondary is behind the retained log.
    case snapshot
    /// Close with this refusal.
    case refuse(String)
    /// The secondary follows a primary promoted after this one (its term is higher): this
    /// primary was superseded and must stop taking writes.
    case superseded(term: UInt64)

    /// The answer to `message` from a connecting secondary, against `log` of a primary at `term`.
    /// A secondary of an older term gets a snapshot whatever its position: its copy may hold
    /// what a primary it followed wrote after this one's history parted from it.
    public static func answer(_ message: ReplicationMessage, log: ReplicationLog, term: UInt64) -> PrimaryGreeting {
        guard case let .hello(version, secondaryTerm, position) = message else {
            return .refuse("a secondary greets first (\(ReplicationMessage.identifier) and its position)")
        }
        guard version == ReplicationMessage.version else {
            return .refuse("protocol version \(version) is not spoken here; this primary speaks version \(ReplicationMessage.version)")
        }
        if secondaryTerm > term { return .superseded(term: secondaryTerm) }
        if secondaryTerm < term { return .snapshot }
        switch log.after(position) {
        case .transactions(let transactions): return .stream(transactions)
        case .notRetained: return .snapshot
        case .unknown(let reason): return .refuse("position \(position.transaction) is not in this primary's history: \(reason)")
        }
    }
}
