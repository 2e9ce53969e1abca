import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func register(_ registration: DispatcherRegistration) async throws -> [Job] {
        let now = PostgresRows.micros(registration.now)
        let agents = try JSONPayload(encoding: registration.agents).text
        let (schema, logger) = (self.schema, self.logger)
        let rescued = try await transaction { connection in
            let id = registration.id
            // The row exists (as a placeholder if new) and is locked before it is judged, so two
            // processes registering one id at once are judged one after the other.
            try await connection.query("""
                INSERT INTO \(unescaped: schema.dispatchers) (id, host, pid, state, started_at, last_ping, agents)
                VALUES (\(id), '', 0, 'inactive', 0, 0, '[]') ON CONFLICT (id) DO NOTHING
                """, logger: logger)
            let existing = try await PostgresStore.dispatchers(on: connection, where: "id = $1 FOR UPDATE", id, schema: schema, logger: logger)
            if let conflict = registration.conflict(with: existing.first) { throw conflict }
            try await connection.query("""
                UPDATE \(unescaped: schema.dispatchers) SET host = \(registration.host), pid = \(registration.pid), state = 'active',
                    started_at = \(now), last_ping = \(now), agents = \(agents)
                WHERE id = \(id)
                """, logger: logger)
            let orphans = try await connection.jobs("""
                SELECT \(unescaped: PostgresRows.jobColumns) FROM \(unescaped: schema.jobs)
                WHERE state = 'running' AND dispatcher = \(id) ORDER BY id FOR UPDATE
                """, logger: logger)
            let reason = "its dispatcher \(id.uuidString.lowercased()) restarted after an unclean shutdown"
            var rescued: [Job] = []
            for job in orphans {
                rescued.append(try await PostgresStore.rescue(job, reason: reason, now: PostgresRows.date(now), schema: schema,
                                                              on: connection, logger: logger))
            }
            return rescued
        }
        events.publishRescued(rescued)
        return rescued
    }

    public func ping(_ ping: Ping, holding: [JobID]) async throws -> PingReply {
        let now = PostgresRows.truncate(ping.now)
        let agents = try JSONPayload(encoding: ping.agents).text
        let until = PostgresRows.micros(now.addingTimeInterval(ping.lease.seconds))
        let (schema, logger) = (self.schema, self.logger)
        let reply = try await transaction { connection in
            let id = ping.dispatcher
            try await connection.query("""
                UPDATE \(unescaped: schema.dispatchers) SET last_ping = \(PostgresRows.micros(now)), state = 'active', agents = \(agents)
                WHERE id = \(id)
                """, logger: logger)
            var held: [JobID: Bool] = [:]
            for try await (text, cancel) in try await connection.query("""
                UPDATE \(unescaped: schema.jobs) SET lease_until = \(until)
                WHERE \(jobs: holding, of: schema) AND state = 'running' AND dispatcher = \(id)
                RETURNING id, cancel_requested
                """, logger: logger).decode((String, Bool).self) {
                if let jobID = JobID(text) { held[jobID] = cancel }
            }
            var rescued: [Job] = []
            if let before = ping.rescueUnlistedBefore {
                let unlisted = try await connection.jobs("""
                    SELECT \(unescaped: PostgresRows.jobColumns) FROM \(unescaped: schema.jobs)
                    WHERE state = 'running' AND dispatcher = \(id) AND started_at < \(PostgresRows.micros(PostgresRows.truncate(before)))
                        AND NOT (id = ANY(\(JobIDTexts(holding))))
                    ORDER BY seq FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                for job in unlisted {
                    rescued.append(try await PostgresStore.rescue(job, reason: ping.unlistedReason, ran: false, now: now, schema: schema,
                                                                  on: connection, logger: logger))
                }
            }
            return PingReply(cancelRequested: holding.filter { held[$0] == true }, lost: holding.filter { held[$0] == nil },
                             rescued: rescued)
        }
        events.publishRescued(reply.rescued)
        return reply
    }

    public func deactivate(_ dispatcher: UUID, now: Date) async throws {
        let now = PostgresRows.micros(now)
        let (schema, logger) = (self.schema, self.logger)
        try await transaction { connection in
            _ = try await connection.query("""
                UPDATE \(unescaped: schema.dispatchers) SET state = 'inactive', last_ping = \(now) WHERE id = \(dispatcher)
                """, logger: logger)
        }
    }

    public func dispatchers() async throws -> [DispatcherInfo] {
        let (schema, logger) = (self.schema, self.logger)
        return try await read { connection in
            try await PostgresStore.dispatchers(on: connection, where: "TRUE ORDER BY started_at", schema: schema, logger: logger)
        }
    }

    /// The dispatchers' records matching `condition` (which may use `$1`, bound to `id`).
    private static func dispatchers(on connection: PostgresConnection, where condition: String, _ id: UUID? = nil,
                                    schema: PostgresSchema, logger: Logger) async throws -> [DispatcherInfo] {
        var bindings = PostgresBindings()
        if let id { bindings.append(id) }
        let query = PostgresQuery(unsafeSQL: """
            SELECT id, host, pid, state, started_at, last_ping, agents FROM \(schema.dispatchers) WHERE \(condition)
            """, binds: bindings)
        var infos: [DispatcherInfo] = []
        for try await (id, host, pid, stateText, startedAt, lastPing, agentsText) in try await connection.query(query, logger: logger)
            .decode((UUID, String, Int, String, Int64, Int64, String).self) {
            guard let state = DispatcherState(rawValue: stateText) else { continue }
            let agents = (try? JSONPayload(unchecked: agentsText).decode([AgentInfo].self)) ?? []
            infos.append(DispatcherInfo(id: id, host: host, pid: pid, state: state, startedAt: PostgresRows.date(startedAt),
                                        lastPingAt: PostgresRows.date(lastPing), agents: agents))
        }
        return infos
    }

    public func rescue(deadBefore: Date, now: Date) async throws -> [Job] {
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        let rescued = try await transaction { connection in
            var dead: Set<UUID> = []
            for try await id in try await connection.query("""
                UPDATE \(unescaped: schema.dispatchers) SET state = 'dead'
                WHERE state = 'active' AND last_ping < \(PostgresRows.micros(deadBefore)) RETURNING id
                """, logger: logger).decode(UUID.self) { dead.insert(id) }
            let victims = try await connection.jobs("""
                SELECT \(unescaped: PostgresRows.jobColumns) FROM \(unescaped: schema.jobs)
                WHERE state = 'running' AND (lease_until < \(PostgresRows.micros(now))
                    OR dispatcher IN (SELECT id FROM \(unescaped: schema.dispatchers) WHERE state = 'dead'))
                ORDER BY id FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var rescued: [Job] = []
            for job in victims {
                let holder = job.dispatcher?.uuidString.lowercased() ?? "unknown"
                let reason = job.dispatcher.map(dead.contains) == true ? "its dispatcher \(holder) stopped pinging"
                    : (job.leaseExpiresAt.map { $0 < now } ?? false) ? "its lease held by dispatcher \(holder) expired"
                    : "its dispatcher \(holder) was declared dead"
                rescued.append(try await PostgresStore.rescue(job, reason: reason, now: now, schema: schema, on: connection, logger: logger))
            }
            return rescued
        }
        events.publishRescued(rescued)
        return rescued
    }

    /// Returns a held job to the queue after its holder died, or discards it when out of attempts.
    static func rescue(_ job: Job, reason: String, ran: Bool = true, now: Date, schema: PostgresSchema, on connection: PostgresConnection,
                       logger: Logger) async throws -> Job {
        var job = job
        let record = job.rescue(reason: reason, now: now, ran: ran)
        try await connection.query("""
            UPDATE \(unescaped: schema.jobs) SET state = \(job.state.rawValue), run_at = \(PostgresRows.micros(job.runAt)),
                finished_at = \(job.finishedAt.map(PostgresRows.micros)), lease_until = NULL, cancel_requested = false,
                errors = array_append(errors, \(PostgresRows.text(record)))
            WHERE \(job: job.id, of: schema)
            """, logger: logger)
        try await connection.query("DELETE FROM \(unescaped: schema.quotaHolders) WHERE job_id = \(job.id.description)", logger: logger)
        if job.state == .available {
            try await connection.query("SELECT pg_notify(\(schema.channel), \(job.queue))", logger: logger)
        }
        try await announceEnds([job.id: job.state], now: now, schema: schema, on: connection, logger: logger)
        return job
    }
}
