import Foundation
import GRDB
import SpoolCore

/// The store's own message queue: a ``Transport`` kept in the store's SQLite file, shared by
/// every process that opens it and written through the store's group commit.
///
/// A received message is leased to this endpoint until it is settled, its visibility passes,
/// or the endpoint closes (its leases are then released at once). Receives wait by polling
/// every 20 ms, or less when a message is published in this process.
///
/// Messages with ordering keys (``orderKeysHeader``) are ordered by key: one is handed out only
/// once no earlier message of its destination that shares a key is left, so several receivers
/// never handle two messages of one key at once or out of order.
public final class TableQueue: Transport {
    private let store: SQLiteStore
    private let holder = UUID().uuidString.lowercased()

    /// Opens an endpoint on `store`'s queues.
    public init(store: SQLiteStore) { self.store = store }

    public func publish(_ messages: [TransportMessage], to destination: String) async throws {
        guard !destination.isEmpty else { throw SpoolError(.invalidArgument, "destination must not be empty") }
        let now = SQLiteRows.micros(Date())
        // A message's ordering keys go in with one statement, from the header's JSON array, once
        // the header was read as an array of strings (otherwise the message has none).
        let rows = messages.map { message in
            (message, TransportMessage.headersJSON(message.headers), orderKeys(message.headers).isEmpty ? nil : message.headers[orderKeysHeader])
        }
        try await store.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO messages (destination, id, headers, body, available_at, ordered) VALUES (?, ?, ?, ?, ?, ?)
                """)
            let keys = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO message_keys (destination, key, seq) SELECT ?, value, ? FROM json_each(?)
                """)
            for (message, headers, keysJSON) in rows {
                try insert.execute(arguments: [destination, message.id, headers, Data(message.body), now, keysJSON == nil ? 0 : 1])
                if let keysJSON { try keys.execute(arguments: [destination, db.lastInsertedRowID, keysJSON]) }
            }
        }
        store.publishSignals.published(to: destination)
    }

    public func receive(from destination: String, limit: Int, wait: Duration, visibility: Duration) async throws -> [TransportDelivery] {
        guard limit > 0 else { return [] }
        return try await store.publishSignals.poll(destination, wait: wait) {
            try await take(from: destination, limit: limit, visibility: visibility)
        }
    }

    private func take(from destination: String, limit: Int, visibility: Duration) async throws -> [TransportDelivery] {
        let now = Date()
        let nowMicros = SQLiteRows.micros(now), until = SQLiteRows.micros(now.addingTimeInterval(visibility.seconds))
        let holder = self.holder
        return try await store.write { db in
            // Ordered messages whose key an earlier message still holds are passed over; a few
            // more candidates than asked for are read (without their bodies) so that a blocked
            // one does not starve the rest.
            var candidates: [(seq: Int64, ordered: Bool)] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: Self.candidatesSQL), arguments: [destination, nowMicros, nowMicros, limit * 4])
            while let row = try rows.next() { candidates.append((row[0], row[1] as Int64 != 0)) }
            if candidates.contains(where: \.ordered) {
                candidates = try Self.unblocked(candidates, limit: limit, of: destination, in: db)
            }
            guard !candidates.isEmpty else { return [] }
            // One statement leases them all (their numbers as a JSON array).
            var numbers = JSONWriter(capacity: 2 + min(limit, candidates.count) * 12)
            numbers.array { writer in for candidate in candidates.prefix(limit) { writer.int(Int(candidate.seq)) } }
            let leased = try Row.fetchCursor(db.cachedStatement(sql: """
                UPDATE messages SET deliveries = deliveries + 1, leased_until = ?, holder = ?
                WHERE seq IN (SELECT value FROM json_each(?))
                RETURNING seq, id, headers, body, deliveries
                """), arguments: [until, holder, numbers.text])
            var deliveries: [(seq: Int64, delivery: TransportDelivery)] = []
            deliveries.reserveCapacity(min(limit, candidates.count))
            while let row = try leased.next() {
                let seq: Int64 = row[0], headersText: String = row[2], body: Data = row[3], count: Int = row[4]
                deliveries.append((seq, TransportDelivery(message: TransportMessage(id: row[1], headers: TransportMessage.headers(json: headersText), body: Array(body)),
                                                          destination: destination, deliveryCount: count,
                                                          receipt: TableQueueReceipt(seq: seq, deliveries: count).text)))
            }
            return deliveries.sorted { $0.seq < $1.seq }.map(\.delivery)
        }
    }

    /// A receive's candidates: the first messages of a destination, in publish order, that are
    /// due and not leased (read from the `messages_in_order` index alone, no sort).
    static let candidatesSQL = """
        SELECT seq, ordered FROM messages
        WHERE destination = ? AND available_at <= ? AND (leased_until IS NULL OR leased_until <= ?)
        ORDER BY seq LIMIT ?
        """

    /// The first `limit` of `candidates` (in publish order) that no earlier message of
    /// `destination` holds back by a shared ordering key. The keys of every message from the first
    /// candidate to the last are read in one walk, so that a later candidate is held back by an
    /// earlier one (taken now, blocked, or held elsewhere); messages before the first candidate
    /// (held elsewhere, or waiting to be tried again) are asked about key by key, and only when
    /// one seek says there are any.
    private static func unblocked(_ candidates: [(seq: Int64, ordered: Bool)], limit: Int, of destination: String,
                                  in db: Database) throws -> [(seq: Int64, ordered: Bool)] {
        guard let first = candidates.first?.seq, let last = candidates.last?.seq else { return [] }
        let anyEarlier = try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM message_keys WHERE destination = ? AND seq < ?)
            """), arguments: [destination, first]) ?? false
        let earlier = try db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM message_keys WHERE destination = ? AND key = ? AND seq < ?)
            """)
        // Keys held by a message at or after the first candidate and before the one looked at.
        var held = Set<String>()
        var free: [(seq: Int64, ordered: Bool)] = []
        var next = candidates.startIndex
        // The message `seq` with `keys`: a candidate is taken unless an earlier message holds one
        // of its keys; candidates before it have no keys and are taken.
        func look(at seq: Int64, keys: [String]) throws {
            while next < candidates.endIndex, candidates[next].seq < seq, free.count < limit {
                free.append(candidates[next])
                next += 1
            }
            if next < candidates.endIndex, candidates[next].seq == seq, free.count < limit {
                var blocked = keys.contains(where: held.contains)
                if !blocked, anyEarlier {
                    blocked = try keys.contains { key in try Bool.fetchOne(earlier, arguments: [destination, key, first]) ?? false }
                }
                if !blocked { free.append(candidates[next]) }
                next += 1
            }
            held.formUnion(keys)
        }
        let rows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT seq, key FROM message_keys WHERE destination = ? AND seq BETWEEN ? AND ? ORDER BY seq
            """), arguments: [destination, first, last])
        var seq: Int64?, keys: [String] = []
        while free.count < limit, let row = try rows.next() {
            let rowSeq: Int64 = row[0]
            if let current = seq, current != rowSeq {
                try look(at: current, keys: keys)
                keys.removeAll(keepingCapacity: true)
            }
            seq = rowSeq
            keys.append(row[1])
        }
        if let seq, free.count < limit { try look(at: seq, keys: keys) }
        while next < candidates.endIndex, free.count < limit {
            free.append(candidates[next])
            next += 1
        }
        return free
    }

    public func acknowledge(_ delivery: TransportDelivery) async throws {
        try await acknowledge([delivery])
    }

    /// Settles every held one of `deliveries` in one write transaction; throws for the first that
    /// was no longer held, after settling the rest.
    public func acknowledge(_ deliveries: [TransportDelivery]) async throws {
        let receipts = try deliveries.map { (delivery: $0, receipt: try TableQueueReceipt($0)) }
        let stale = try await store.write { db -> TransportDelivery? in
            let delete = try db.cachedStatement(sql: """
                DELETE FROM messages WHERE seq = ? AND deliveries = ? AND leased_until IS NOT NULL RETURNING destination
                """)
            let keys = try db.cachedStatement(sql: "DELETE FROM message_keys WHERE destination = ? AND seq = ?")
            var stale: TransportDelivery?
            for (delivery, receipt) in receipts {
                guard let destination = try String.fetchOne(delete, arguments: [receipt.seq, receipt.deliveries]) else {
                    stale = stale ?? delivery
                    continue
                }
                try keys.execute(arguments: [destination, receipt.seq])
            }
            return stale
        }
        if let stale { throw TableQueueReceipt.notHeld(stale) }
    }

    public func retry(_ delivery: TransportDelivery, after delay: Duration) async throws {
        let receipt = try TableQueueReceipt(delivery)
        let at = SQLiteRows.micros(Date().addingTimeInterval(delay.seconds))
        try await store.write { db in
            try db.execute(sql: """
                UPDATE messages SET leased_until = NULL, holder = NULL, available_at = ?
                WHERE seq = ? AND deliveries = ? AND leased_until IS NOT NULL
                """, arguments: [at, receipt.seq, receipt.deliveries])
            try Self.requireSettled(db, delivery)
        }
    }

    public func deadLetter(_ delivery: TransportDelivery, reason: String) async throws {
        let receipt = try TableQueueReceipt(delivery)
        var headers = delivery.message.headers
        headers[deadLetterReasonHeader] = reason
        let headersText = TransportMessage.headersJSON(headers)
        let target = deadLetterDestination(for: delivery.destination)
        let now = SQLiteRows.micros(Date())
        try await store.write { db in
            let source = try String.fetchOne(db, sql: "SELECT destination FROM messages WHERE seq = ?", arguments: [receipt.seq])
            try db.execute(sql: """
                UPDATE messages SET destination = ?, headers = ?, available_at = ?, deliveries = 0, leased_until = NULL, holder = NULL,
                                    seq = (SELECT MAX(seq) + 1 FROM messages), ordered = 0
                WHERE seq = ? AND deliveries = ? AND leased_until IS NOT NULL
                """, arguments: [target, headersText, now, receipt.seq, receipt.deliveries])
            try Self.requireSettled(db, delivery)
            // A dead letter holds back nothing.
            try db.execute(sql: "DELETE FROM message_keys WHERE destination = ? AND seq = ?", arguments: [source, receipt.seq])
        }
        store.publishSignals.published(to: target)
    }

    public func backlog(of destination: String) async throws -> TransportBacklog {
        let now = SQLiteRows.micros(Date())
        return try await store.pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT count(*) FILTER (WHERE available_at <= ?1 AND (leased_until IS NULL OR leased_until <= ?1)),
                       count(*) FILTER (WHERE leased_until > ?1),
                       min(available_at) FILTER (WHERE available_at <= ?1 AND (leased_until IS NULL OR leased_until <= ?1))
                FROM messages WHERE destination = ?2
                """, arguments: [now, destination])
            return TransportBacklog(waiting: row?[0] ?? 0, inFlight: row?[1] ?? 0,
                                    oldestWaiting: (row?[2] as Int64?).map(SQLiteRows.date))
        }
    }

    public func close() async throws {
        let holder = self.holder
        try await store.write { db in
            try db.execute(sql: "UPDATE messages SET leased_until = NULL, holder = NULL WHERE holder = ?", arguments: [holder])
        }
    }

    private static func requireSettled(_ db: Database, _ delivery: TransportDelivery) throws {
        guard db.changesCount == 1 else { throw TableQueueReceipt.notHeld(delivery) }
    }
}
