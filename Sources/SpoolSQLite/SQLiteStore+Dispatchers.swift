import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func register(_ registration: DispatcherRegistration) async throws -> [Job] {
        let keys = self.keys
        let now = SQLiteRows.truncate(registration.now)
        let agents = try JSONPayload(encoding: registration.agents).text
        let rescued = try await write { db in
            let id = SQLiteRows.uuid(registration.id)
            if let conflict = registration.conflict(with: try SQLiteStore.dispatcher(id, db: db)) { throw conflict }
            try db.execute(sql: """
                INSERT INTO dispatchers (id, host, pid, state, started_at, last_ping, agents) VALUES (?, ?, ?, 'active', ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, state = 'active',
                    started_at = excluded.started_at, last_ping = excluded.last_ping, agents = excluded.agents
                """, arguments: [id, registration.host, registration.pid, SQLiteRows.micros(now), SQLiteRows.micros(now), agents])
            let orphans = try Row.fetchAll(db, sql: """
                SELECT \(SQLiteRows.jobColumns) FROM jobs WHERE state = 'running' AND dispatcher = ? ORDER BY id
                """, arguments: [id]).map(SQLiteRows.job)
            let reason = "its dispatcher \(id) restarted after an unclean shutdown"
            return try orphans.map { try SQLiteStore.rescue($0, reason: reason, now: now, keys: keys, db: db) }
        }
        hub.publishRescued(rescued)
        return rescued
    }

    public func ping(_ ping: Ping, holding: [JobID]) async throws -> PingReply {
        let keys = self.keys
        let now = SQLiteRows.truncate(ping.now)
        let agents = try JSONPayload(encoding: ping.agents).text
        let until = SQLiteRows.micros(now.addingTimeInterval(ping.lease.seconds))
        let reply = try await write { db in
            let id = SQLiteRows.uuid(ping.dispatcher)
            try db.execute(sql: "UPDATE dispatchers SET last_ping = ?, state = 'active', agents = ? WHERE id = ?",
                           arguments: [SQLiteRows.micros(now), agents, id])
            let renew = try db.cachedStatement(sql: """
                UPDATE jobs SET lease_until = ? WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
                RETURNING cancel_requested
                """)
            var held: [JobID: Bool] = [:]
            for jobID in holding {
                let arguments = [until] + keys.arguments(jobID) + [id]
                if let cancel = try Int.fetchOne(renew, arguments: StatementArguments(arguments)) { held[jobID] = cancel != 0 }
            }
            var rescued: [Job] = []
            if let before = ping.rescueUnlistedBefore {
                let listed = Set(holding)
                rescued = try Row.fetchAll(db, sql: """
                    SELECT \(SQLiteRows.jobColumns) FROM jobs WHERE state = 'running' AND dispatcher = ? AND started_at < ? ORDER BY id
                    """, arguments: [id, SQLiteRows.micros(SQLiteRows.truncate(before))]).map(SQLiteRows.job)
                    .filter { !listed.contains($0.id) }
                    .map { try SQLiteStore.rescue($0, reason: ping.unlistedReason, ran: false, now: now, keys: keys, db: db) }
            }
            return PingReply(cancelRequested: holding.filter { held[$0] == true }, lost: holding.filter { held[$0] == nil },
                             rescued: rescued)
        }
        hub.publishRescued(reply.rescued)
        return reply
    }

    public func deactivate(_ dispatcher: UUID, now: Date) async throws {
        let now = SQLiteRows.truncate(now)
        try await write { db in
            try db.execute(sql: "UPDATE dispatchers SET state = 'inactive', last_ping = ? WHERE id = ?",
                           arguments: [SQLiteRows.micros(now), SQLiteRows.uuid(dispatcher)])
        }
    }

    public func dispatchers() async throws -> [DispatcherInfo] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT \(SQLiteStore.dispatcherColumns) FROM dispatchers ORDER BY started_at")
                .compactMap(SQLiteStore.dispatcher)
        }
    }

    private static let dispatcherColumns = "id, host, pid, state, started_at, last_ping, agents"

    /// The record of dispatcher `id`, if the store has one.
    private static func dispatcher(_ id: String, db: Database) throws -> DispatcherInfo? {
        try Row.fetchOne(db, sql: "SELECT \(dispatcherColumns) FROM dispatchers WHERE id = ?", arguments: [id]).flatMap(dispatcher)
    }

    private static func dispatcher(_ row: Row) -> DispatcherInfo? {
        let idText: String = row[0], stateText: String = row[3], agentsText: String = row[6]
        guard let id = UUID(uuidString: idText), let state = DispatcherState(rawValue: stateText) else { return nil }
        let agents = (try? JSONPayload(unchecked: agentsText).decode([AgentInfo].self)) ?? []
        return DispatcherInfo(id: id, host: row[1], pid: row[2], state: state, startedAt: SQLiteRows.date(row[4]),
                              lastPingAt: SQLiteRows.date(row[5]), agents: agents)
    }

    public func rescue(deadBefore: Date, now: Date) async throws -> [Job] {
        let keys = self.keys
        let now = SQLiteRows.truncate(now)
        let rescued = try await write { db in
            let dead = Set(try String.fetchAll(db, sql: """
                UPDATE dispatchers SET state = 'dead' WHERE state = 'active' AND last_ping < ? RETURNING id
                """, arguments: [SQLiteRows.micros(deadBefore)]))
            let victims = try Row.fetchAll(db, sql: """
                SELECT \(SQLiteRows.jobColumns) FROM jobs
                WHERE state = 'running' AND (lease_until < ? OR dispatcher IN (SELECT id FROM dispatchers WHERE state = 'dead'))
                ORDER BY id
                """, arguments: [SQLiteRows.micros(now)]).map(SQLiteRows.job)
            return try victims.map { job in
                let holder = job.dispatcher.map(SQLiteRows.uuid) ?? "unknown"
                let reason = dead.contains(holder) ? "its dispatcher \(holder) stopped pinging"
                    : (job.leaseExpiresAt.map { $0 < now } ?? false) ? "its lease held by dispatcher \(holder) expired"
                    : "its dispatcher \(holder) was declared dead"
                return try SQLiteStore.rescue(job, reason: reason, now: now, keys: keys, db: db)
            }
        }
        hub.publishRescued(rescued)
        return rescued
    }

    /// Returns a held job to the queue after its holder died, or discards it when out of attempts.
    static func rescue(_ job: Job, reason: String, ran: Bool = true, now: Date, keys: JobKeys, db: Database) throws -> Job {
        var job = job
        let record = job.rescue(reason: reason, now: now, ran: ran)
        var counts = JobCountChanges()
        counts.move(job.queue, from: .running, to: job.state)
        try counts.write(db)
        try db.execute(sql: """
            UPDATE jobs SET state = ?, run_at = ?, finished_at = ?, end_seq = ?, lease_until = NULL, cancel_requested = 0,
                            errors = json_insert(COALESCE(errors, '[]'), '$[#]', json(?))
            WHERE \(keys.condition)
            """, arguments: StatementArguments([job.state.rawValue, SQLiteRows.micros(job.runAt), job.finishedAt.map(SQLiteRows.micros),
                                                job.state.isTerminal ? try JobEnds.reserve(1, db: db) : nil,
                                                SQLiteRows.text(record)] + keys.arguments(job.id)))
        try db.execute(sql: "DELETE FROM quota_holders WHERE job_id = ?", arguments: [job.id.description])
        return job
    }
}
