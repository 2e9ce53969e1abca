import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func quotas() async throws -> [QuotaInfo] {
        let (schema, logger) = (self.schema, self.logger)
        return try await read { connection in
            var running: [String: [JobID]] = [:]
            for try await (quota, idText) in try await connection.query("""
                SELECT quota, job_id FROM \(unescaped: schema.quotaHolders) ORDER BY seq
                """, logger: logger).decode((String, String).self) {
                if let id = JobID(idText) { running[quota, default: []].append(id) }
            }
            var infos: [QuotaInfo] = []
            for try await (name, size) in try await connection.query("SELECT name, size FROM \(unescaped: schema.quotas) ORDER BY name",
                                                                     logger: logger).decode((String, Int).self) {
                infos.append(QuotaInfo(name: name, size: size, running: running[name] ?? []))
            }
            return infos
        }
    }

    @discardableResult
    public func createQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        let (schema, logger) = (self.schema, self.logger)
        return try await transaction { connection in
            let created = try await connection.count("""
                INSERT INTO \(unescaped: schema.quotas) (name, size) VALUES (\(name), \(size)) ON CONFLICT (name) DO NOTHING RETURNING 1
                """, logger: logger)
            guard created == 1 else { throw SpoolError(.quotaExists, "quota '\(name)' already exists") }
            return QuotaInfo(name: name, size: size, running: [])
        }
    }

    @discardableResult
    public func resizeQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        let (schema, logger) = (self.schema, self.logger)
        let info = try await transaction { connection in
            let changed = try await connection.count("""
                UPDATE \(unescaped: schema.quotas) SET size = \(size) WHERE name = \(name) RETURNING 1
                """, logger: logger)
            guard changed == 1 else { throw SpoolError.unknownQuota(name) }
            var running: [JobID] = []
            for try await idText in try await connection.query("""
                SELECT job_id FROM \(unescaped: schema.quotaHolders) WHERE quota = \(name) ORDER BY seq
                """, logger: logger).decode(String.self) { if let id = JobID(idText) { running.append(id) } }
            try await connection.query("SELECT pg_notify(\(schema.channel), '')", logger: logger)
            return QuotaInfo(name: name, size: size, running: running)
        }
        events.publish(.jobsAvailable(queues: []))
        return info
    }

    public func removeQuota(_ name: String) async throws {
        let (schema, logger) = (self.schema, self.logger)
        try await transaction { connection in
            let removed = try await connection.count("DELETE FROM \(unescaped: schema.quotas) WHERE name = \(name) RETURNING 1",
                                                     logger: logger)
            guard removed == 1 else { throw SpoolError.unknownQuota(name) }
            try await connection.query("DELETE FROM \(unescaped: schema.quotaHolders) WHERE quota = \(name)", logger: logger)
            try await connection.query("SELECT pg_notify(\(schema.channel), '')", logger: logger)
        }
        events.publish(.jobsAvailable(queues: []))
    }
}
