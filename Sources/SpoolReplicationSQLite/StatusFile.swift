import Foundation
import SpoolCore
import SpoolReplication

/// The file in which a primary or a secondary says how it stands (`PATH-replication-status`,
/// ``ReplicationStatus`` as JSON, replaced whole about once a second), and what other processes
/// on the store make of it: a part of the self-test and lines of `/metrics`.
public enum StatusFile {
    /// A status older than this means the process that wrote it is not running.
    public static let staleAfter: TimeInterval = 5

    /// The status file of the store at `path`.
    public static func path(of store: String) -> String { store + "-replication-status" }

    /// Replaces the status of the store at `store`.
    static func write(_ status: ReplicationStatus, of store: String) {
        guard let data = try? JSONEncoder().encode(status) else { return }
        let target = path(of: store), temporary = target + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        rename(temporary, target)
    }

    /// The status of the store at `store`, if it is replicated.
    public static func read(of store: String) -> ReplicationStatus? {
        guard let data = FileManager.default.contents(atPath: path(of: store)) else { return nil }
        return try? JSONDecoder().decode(ReplicationStatus.self, from: data)
    }

    /// The self-test's `replication` part for the store at `store`: `nil` when it is not
    /// replicated; failing when the status is stale or a secondary is not connected.
    public static func check(store: String, now: Date = Date()) -> (ok: Bool, detail: String)? {
        guard let status = read(of: store) else { return nil }
        let age = ISO8601.parse(status.updatedAt).map { now.timeIntervalSince($0) } ?? .infinity
        guard age <= staleAfter else {
            return (false, "\(status.role == "primary" ? "spool replicate" : "spool secondary") on this store last reported \(age.isFinite ? "\(Int(age)) s ago" : "at an unreadable time"): it is not running")
        }
        if status.role == "primary" {
            let secondaries = status.secondaries ?? []
            let each = secondaries.map { "\($0.address) \(describe($0.lag))" }.joined(separator: "; ")
            let count = secondaries.count == 1 ? "1 secondary" : "\(secondaries.count) secondaries"
            return (true, "primary at term \(status.term), transaction \(status.transaction), serving \(status.address); \(count)\(each.isEmpty ? "" : ": " + each)")
        }
        let lag = status.lag.map(describe) ?? "lag unknown"
        guard status.connected == true else {
            return (false, "secondary of \(status.address) at term \(status.term), transaction \(status.transaction): not connected to its primary (\(lag) when last connected)")
        }
        return (true, "secondary of \(status.address) at term \(status.term), transaction \(status.transaction), \(lag)")
    }

    /// `/metrics` lines for the store at `store` (none when it is not replicated or the status
    /// is stale): `spool_replication_lag_transactions` and `spool_replication_lag_seconds`,
    /// labelled with the role and the peer.
    public static func metrics(store: String, now: Date = Date()) -> String {
        guard let status = read(of: store),
              let updated = ISO8601.parse(status.updatedAt), now.timeIntervalSince(updated) <= staleAfter else { return "" }
        var lags: [(labels: String, lag: ReplicationStatus.Lag)] = []
        if status.role == "primary" {
            lags = (status.secondaries ?? []).map { (#"role="primary",secondary="\#(escape($0.address))""#, $0.lag) }
        } else if let lag = status.lag {
            lags = [(#"role="secondary",primary="\#(escape(status.address))""#, lag)]
        }
        var text = """
            # HELP spool_replication_lag_transactions Transactions a secondary has not yet applied.
            # TYPE spool_replication_lag_transactions gauge

            """
        for (labels, lag) in lags { text += "spool_replication_lag_transactions{\(labels)} \(lag.transactions)\n" }
        text += """
            # HELP spool_replication_lag_seconds How old a secondary's copy is behind its primary, in seconds.
            # TYPE spool_replication_lag_seconds gauge

            """
        for (labels, lag) in lags { text += "spool_replication_lag_seconds{\(labels)} \(lag.seconds.map { "\($0)" } ?? "NaN")\n" }
        return text
    }

    private static func describe(_ lag: ReplicationStatus.Lag) -> String {
        lag.transactions == 0 ? "up to date"
            : "\(lag.transactions) transaction\(lag.transactions == 1 ? "" : "s") behind" + (lag.seconds.map { String(format: " (%.3f s)", $0) } ?? "")
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
