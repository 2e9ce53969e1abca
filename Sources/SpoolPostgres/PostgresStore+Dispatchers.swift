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
            return try await PostgresStore.rescue(orphans, reason: { _ in reason }, now: PostgresRows.date(now), schema: schema,
                                                  on: connection, logger: logger)
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
                rescued = try await PostgresStore.rescue(unlisted, reason: { _ in ping.unlistedReason }, ran: false, now: now,
                                                         schema: schema, on: connection, logger: logger)
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
            return try await PostgresStore.rescue(victims, reason: { job in
                let holder = job.dispatcher?.uuidString.lowercased() ?? "unknown"
                return job.dispatcher.map(dead.contains) == true ? "its dispatcher \(holder) stopped pinging"
                    : (job.leaseExpiresAt.map { $0 < now } ?? false) ? "its lease held by dispatcher \(holder) expired"
                    : "its dispatcher \(holder) was declared dead"
            }, now: now, schema: schema, on: connection, logger: logger)
        }
        events.publishRescued(rescued)
        return rescued
    }

    /// Returns held jobs to the queue after their holder died, or discards those out of attempts
    /// (``SpoolCore/Job/rescue(reason:now:ran:)``, with `reason(job)`), and returns them as they
    /// now are. One statement updates all their rows and one frees their quota places, whatever
    /// their number (a dispatcher restarting with a thousand jobs held waits for two round trips,
    /// not three thousand); the queues that gained jobs are told in as few NOTIFYs as their names fit.
    static func rescue(_ jobs: [Job], reason: (Job) -> String, ran: Bool = true, now: Date, schema: PostgresSchema,
                       on connection: PostgresConnection, logger: Logger) async throws -> [Job] {
        guard !jobs.isEmpty else { return [] }
        var rescued: [Job] = []
        var records: [String] = []
        for var job in jobs {
            records.append(PostgresRows.text(job.rescue(reason: reason(job), now: now, ran: ran)))
            rescued.append(job)
        }
        let ids = rescued.map(\.id)
        try await connection.query("""
            UPDATE \(unescaped: schema.jobs) SET state = v.state, run_at = v.run_at,
                finished_at = CASE WHEN v.has_finished THEN v.finished_at END, lease_until = NULL, cancel_requested = false,
                errors = array_append(errors, v.record)
            FROM unnest(\(rescued.map(\.id.description))::text[], \(rescued.map(\.state.rawValue))::text[],
                        \(rescued.map { PostgresRows.micros($0.runAt) })::bigint[],
                        \(rescued.map { $0.finishedAt.map(PostgresRows.micros) ?? 0 })::bigint[],
                        \(rescued.map { $0.finishedAt != nil })::boolean[], \(records)::text[])
                AS v(rescued_id, state, run_at, finished_at, has_finished, record)
            WHERE \(jobs: ids, of: schema) AND id = v.rescued_id
            """, logger: logger)
        try await connection.query("DELETE FROM \(unescaped: schema.quotaHolders) WHERE job_id = ANY(\(JobIDTexts(ids))::text[])",
                                   logger: logger)
        try await notifyAvailable(Set(rescued.lazy.filter { $0.state == .available }.map(\.queue)), schema: schema, on: connection,
                                  logger: logger)
        try await announceEnds(Dictionary(rescued.map { ($0.id, $0.state) }, uniquingKeysWith: { _, last in last }), now: now,
                               schema: schema, on: connection, logger: logger)
        return rescued
    }
}
