import Foundation

extension InMemoryJobStore {
    public func quotas() async throws -> [QuotaInfo] {
        state.withLock { state in
            state.quotaSizes.keys.sorted().map { QuotaInfo(name: $0, size: state.quotaSizes[$0]!, running: state.holders[$0] ?? []) }
        }
    }

    @discardableResult
    public func createQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        return try state.withLock { state in
            guard state.quotaSizes[name] == nil else { throw SpoolError(.quotaExists, "quota '\(name)' already exists") }
            state.quotaSizes[name] = size
            return QuotaInfo(name: name, size: size, running: [])
        }
    }

    @discardableResult
    public func resizeQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        let info = try state.withLock { state in
            guard state.quotaSizes[name] != nil else { throw SpoolError.unknownQuota(name) }
            state.quotaSizes[name] = size
            return QuotaInfo(name: name, size: size, running: state.holders[name] ?? [])
        }
        events.publish(.jobsAvailable(queues: []))
        return info
    }

    public func removeQuota(_ name: String) async throws {
        try state.withLock { state in
            guard state.quotaSizes.removeValue(forKey: name) != nil else { throw SpoolError.unknownQuota(name) }
            state.holders[name] = nil
        }
        events.publish(.jobsAvailable(queues: []))
    }
}
