import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func quotas() async throws -> [QuotaInfo] {
        try read { db in
            var running: [String: [JobID]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT quota, job_id FROM quota_holders ORDER BY rowid") {
                let idText: String = row[1]
                if let id = JobID(idText) { running[row[0], default: []].append(id) }
            }
            return try Row.fetchAll(db, sql: "SELECT name, size FROM quotas ORDER BY name").map { row in
                let name: String = row[0]
                return QuotaInfo(name: name, size: row[1], running: running[name] ?? [])
            }
        }
    }

    @discardableResult
    public func createQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        return try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM quotas WHERE name = ?)", arguments: [name]) != true else {
                throw SpoolError(.quotaExists, "quota '\(name)' already exists")
            }
            try db.execute(sql: "INSERT INTO quotas (name, size) VALUES (?, ?)", arguments: [name, size])
            return QuotaInfo(name: name, size: size, running: [])
        }
    }

    @discardableResult
    public func resizeQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        let info = try await write { db in
            try db.execute(sql: "UPDATE quotas SET size = ? WHERE name = ?", arguments: [size, name])
            guard db.changesCount == 1 else { throw SpoolError.unknownQuota(name) }
            let running = try String.fetchAll(db, sql: "SELECT job_id FROM quota_holders WHERE quota = ? ORDER BY rowid", arguments: [name])
            return QuotaInfo(name: name, size: size, running: running.compactMap(JobID.init))
        }
        hub.publish(.jobsAvailable(queues: []))
        return info
    }

    public func removeQuota(_ name: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM quotas WHERE name = ?", arguments: [name])
            guard db.changesCount == 1 else { throw SpoolError.unknownQuota(name) }
            try db.execute(sql: "DELETE FROM quota_holders WHERE quota = ?", arguments: [name])
        }
        hub.publish(.jobsAvailable(queues: []))
    }
}
