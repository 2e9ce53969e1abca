import Foundation
import Logging
import PostgresNIO
import SpoolCore

/// The PostgreSQL store's own message queue: a ``Transport`` kept in the store's schema, shared
/// by every process (on any machine) that opens the store.
///
/// Receivers take messages with `FOR UPDATE SKIP LOCKED`, so any number of them share a
/// destination without handing a message out twice. A received message is leased to its
/// endpoint until it is settled, its visibility passes, or the endpoint closes (its leases are
/// then released at once). A receive waits by polling every 20 ms, or less when a message is
/// published through this store instance.
///
/// Messages with ordering keys (``orderKeysHeader``) are ordered by key, as on the SQLite store's
/// table queue: one is handed out only once no earlier message of its destination that shares a
/// key is left. Publishes of ordered messages to one destination take turns (a transaction-scoped
/// advisory lock), so their sequence numbers follow commit order and no receiver can see a later
/// one before an earlier one commits.
public final class PostgresTableQueue: Transport {
    private let store: PostgresStore
    private let holder = UUID().uuidString.lowercased()

    /// Opens an endpoint on `store`'s queues.
    public init(store: PostgresStore) { self.store = store }

    public func publish(_ messages: [TransportMessage], to destination: String) async throws {
        guard !destination.isEmpty else { throw SpoolError(.invalidArgument, "destination must not be empty") }
        guard !messages.isEmpty else { return }
        let now = PostgresRows.micros(Date())
        let keys = messages.map { orderKeys($0.headers) }
        let ids = messages.map(\.id), headers = messages.map { TransportMessage.headersJSON($0.headers) }
        let bodies = messages.map { ByteBuffer(bytes: $0.body) }, ordered = keys.map { !$0.isEmpty }
        let (schema, logger) = (store.schema, store.logger)
        try await store.transaction { connection in
            if ordered.contains(true) {
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\("spool.messages." + schema.name + "." + destination)))",
                                           logger: logger)
            }
            // Rows go from unnest into the INSERT in input order, so their seq values ascend with it.
            var seqs: [Int64] = []
            for try await seq in try await connection.query("""
                INSERT INTO \(unescaped: schema.messages) (destination, id, headers, body, published_at, available_at, ordered)
                SELECT \(destination), v.id, v.headers, v.body, \(now), \(now), v.ordered
                FROM unnest(\(ids)::text[], \(headers)::text[], \(bodies)::bytea[], \(ordered)::boolean[]) WITH ORDINALITY
                     AS v(id, headers, body, ordered, n)
                ORDER BY v.n
                RETURNING seq
                """, logger: logger).decode(Int64.self) { seqs.append(seq) }
            guard ordered.contains(true) else { return }
            seqs.sort()
            var keySeqs: [Int64] = [], keyNames: [String] = []
            for (seq, messageKeys) in zip(seqs, keys) {
                for key in Set(messageKeys) {
                    keySeqs.append(seq)
                    keyNames.append(key)
                }
            }
            try await connection.query("""
                INSERT INTO \(unescaped: schema.messageKeys) (destination, key, seq)
                SELECT \(destination), k.key, k.seq FROM unnest(\(keyNames)::text[], \(keySeqs)::bigint[]) AS k(key, seq)
                """, logger: logger)
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
        let nowMicros = PostgresRows.micros(now), until = PostgresRows.micros(now.addingTimeInterval(visibility.seconds))
        let (schema, logger, holder) = (store.schema, store.logger, self.holder)
        let rows = try await store.transaction { connection in
            // An ordered message is passed over while an earlier message of its destination that
            // shares a key is left; key rows go only when their message is settled.
            var rows: [(Int64, String, String, ByteBuffer, Int)] = []
            for try await row in try await connection.query("""
                WITH taken AS (
                    SELECT m.seq FROM \(unescaped: schema.messages) AS m
                    WHERE m.destination = \(destination) AND m.available_at <= \(nowMicros)
                      AND (m.leased_until IS NULL OR m.leased_until <= \(nowMicros))
                      AND (NOT m.ordered OR NOT EXISTS (
                          SELECT 1 FROM \(unescaped: schema.messageKeys) AS mine
                          JOIN \(unescaped: schema.messageKeys) AS earlier
                            ON earlier.destination = mine.destination AND earlier.key = mine.key AND earlier.seq < mine.seq
                          WHERE mine.destination = \(destination) AND mine.seq = m.seq))
                    ORDER BY m.seq LIMIT \(limit)
                    FOR UPDATE OF m SKIP LOCKED
                )
                UPDATE \(unescaped: schema.messages) AS m
                SET deliveries = m.deliveries + 1, leased_until = \(until), holder = \(holder)
                FROM taken WHERE m.seq = taken.seq
                RETURNING m.seq, m.id, m.headers, m.body, m.deliveries
                """, logger: logger).decode((Int64, String, String, ByteBuffer, Int).self) { rows.append(row) }
            return rows.sorted { $0.0 < $1.0 }
        }
        return rows.map { seq, id, headersText, body, deliveries in
            let headers = TransportMessage.headers(json: headersText)
            return TransportDelivery(message: TransportMessage(id: id, headers: headers, body: Array(body.readableBytesView)),
                                     destination: destination, deliveryCount: deliveries,
                                     receipt: TableQueueReceipt(seq: seq, deliveries: deliveries).text)
        }
    }

    public func acknowledge(_ delivery: TransportDelivery) async throws {
        try await acknowledge([delivery])
    }

    /// Settles every held one of `deliveries` in one transaction.
    public func acknowledge(_ deliveries: [TransportDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        let receipts = try deliveries.map(TableQueueReceipt.init)
        let (schema, logger) = (store.schema, store.logger)
        let settled = try await store.transaction { connection in
            var settled: Set<Int64> = []
            for try await seq in try await connection.query("""
                DELETE FROM \(unescaped: schema.messages) AS m
                USING unnest(\(receipts.map(\.seq))::bigint[], \(receipts.map { Int64($0.deliveries) })::bigint[]) AS r(seq, deliveries)
                WHERE m.seq = r.seq AND m.deliveries = r.deliveries AND m.leased_until IS NOT NULL
                RETURNING m.seq
                """, logger: logger).decode(Int64.self) { settled.insert(seq) }
            if !settled.isEmpty {
                try await connection.query("DELETE FROM \(unescaped: schema.messageKeys) WHERE seq = ANY(\(Array(settled))::bigint[])",
                                           logger: logger)
            }
            return settled
        }
        if let stale = zip(deliveries, receipts).first(where: { !settled.contains($0.1.seq) }) {
            throw TableQueueReceipt.notHeld(stale.0)
        }
    }

    public func retry(_ delivery: TransportDelivery, after delay: Duration) async throws {
        let receipt = try TableQueueReceipt(delivery)
        let at = PostgresRows.micros(Date().addingTimeInterval(delay.seconds))
        let (schema, logger) = (store.schema, store.logger)
        let changed = try await store.transaction { connection in
            try await connection.query("""
                UPDATE \(unescaped: schema.messages) SET leased_until = NULL, holder = NULL, available_at = \(at)
                WHERE seq = \(receipt.seq) AND deliveries = \(receipt.deliveries) AND leased_until IS NOT NULL
                RETURNING seq
                """, logger: logger).collect().count
        }
        guard changed == 1 else { throw TableQueueReceipt.notHeld(delivery) }
    }

    public func deadLetter(_ delivery: TransportDelivery, reason: String) async throws {
        let receipt = try TableQueueReceipt(delivery)
        var headers = delivery.message.headers
        headers[deadLetterReasonHeader] = reason
        let headersText = TransportMessage.headersJSON(headers)
        let target = deadLetterDestination(for: delivery.destination)
        let now = PostgresRows.micros(Date())
        let (schema, logger) = (store.schema, store.logger)
        let moved = try await store.transaction { connection in
            // The dead letter is a new row at the end of its destination; it holds back nothing.
            let moved = try await connection.query("""
                WITH gone AS (
                    DELETE FROM \(unescaped: schema.messages)
                    WHERE seq = \(receipt.seq) AND deliveries = \(receipt.deliveries) AND leased_until IS NOT NULL
                    RETURNING id, body
                )
                INSERT INTO \(unescaped: schema.messages) (destination, id, headers, body, published_at, available_at)
                SELECT \(target), id, \(headersText), body, \(now), \(now) FROM gone
                RETURNING seq
                """, logger: logger).collect().count
            try await connection.query("DELETE FROM \(unescaped: schema.messageKeys) WHERE seq = \(receipt.seq)", logger: logger)
            return moved
        }
        guard moved == 1 else { throw TableQueueReceipt.notHeld(delivery) }
        store.publishSignals.published(to: target)
    }

    public func backlog(of destination: String) async throws -> TransportBacklog {
        let now = PostgresRows.micros(Date())
        let (schema, logger) = (store.schema, store.logger)
        return try await store.read { connection in
            for try await (waiting, inFlight, oldest) in try await connection.query("""
                SELECT count(*) FILTER (WHERE available_at <= \(now) AND (leased_until IS NULL OR leased_until <= \(now))),
                       count(*) FILTER (WHERE leased_until > \(now)),
                       min(available_at) FILTER (WHERE available_at <= \(now) AND (leased_until IS NULL OR leased_until <= \(now)))
                FROM \(unescaped: schema.messages) WHERE destination = \(destination)
                """, logger: logger).decode((Int, Int, Int64?).self) {
                return TransportBacklog(waiting: waiting, inFlight: inFlight, oldestWaiting: oldest.map(PostgresRows.date))
            }
            return TransportBacklog(waiting: 0, inFlight: 0)
        }
    }

    public func close() async throws {
        let (schema, logger, holder) = (store.schema, store.logger, self.holder)
        try await store.transaction { connection in
            try await connection.query("UPDATE \(unescaped: schema.messages) SET leased_until = NULL, holder = NULL WHERE holder = \(holder)",
                                       logger: logger)
        }
    }
}
