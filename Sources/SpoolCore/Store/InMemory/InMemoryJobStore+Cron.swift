import Foundation

extension InMemoryJobStore {
    public func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job? {
        try job.validate(limits)
        let inserted: Job? = try state.withLock { state in
            if let last = state.cronTicks[schedule], last >= tick { return nil }
            let result = try state.insert([job], now: now)
            state.cronTicks[schedule] = tick
            return result.first?.job
        }
        if let inserted { events.publish(.jobsAvailable(queues: [inserted.queue])) }
        return inserted
    }

    public func takeTurn(_ name: String, tick: Date) async throws -> Bool {
        state.withLock { state in
            if let last = state.cronTicks[name], last >= tick { return false }
            state.cronTicks[name] = tick
            return true
        }
    }
}
