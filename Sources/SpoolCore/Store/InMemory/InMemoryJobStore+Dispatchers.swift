import Foundation

extension InMemoryJobStore {
    public func register(_ registration: DispatcherRegistration) async throws -> [Job] {
        let rescued = try state.withLock { state in
            if let conflict = registration.conflict(with: state.dispatchers[registration.id]) { throw conflict }
            state.dispatchers[registration.id] = DispatcherInfo(
                id: registration.id, host: registration.host, pid: registration.pid, state: .active,
                startedAt: registration.now, lastPingAt: registration.now, agents: registration.agents)
            let orphans = state.jobs.values.filter { $0.state == .running && $0.dispatcher == registration.id }
            return orphans.sorted { $0.id < $1.id }.map {
                state.rescue($0.id, reason: "its dispatcher \(registration.id.uuidString.lowercased()) restarted after an unclean shutdown", now: registration.now)
            }
        }
        events.publishRescued(rescued)
        return rescued
    }

    public func ping(_ ping: Ping, holding: [JobID]) async throws -> PingReply {
        let reply = state.withLock { state in
            if var info = state.dispatchers[ping.dispatcher] {
                info.lastPingAt = ping.now
                info.state = .active
                info.agents = ping.agents
                state.dispatchers[ping.dispatcher] = info
            }
            var cancelRequested: [JobID] = [], lost: [JobID] = []
            let until = ping.now.addingTimeInterval(ping.lease.seconds)
            for id in holding {
                guard var job = state.jobs[id], job.state == .running, job.dispatcher == ping.dispatcher else {
                    lost.append(id)
                    continue
                }
                job.leaseExpiresAt = until
                state.jobs[id] = job
                if job.cancelRequested { cancelRequested.append(id) }
            }
            var rescued: [Job] = []
            if let before = ping.rescueUnlistedBefore {
                let listed = Set(holding)
                let unlisted = state.jobs.values.filter { job in
                    job.state == .running && job.dispatcher == ping.dispatcher && !listed.contains(job.id)
                        && (job.startedAt.map { $0 < before } ?? false)
                }
                rescued = unlisted.sorted { $0.id < $1.id }.map { state.rescue($0.id, reason: ping.unlistedReason, now: ping.now, ran: false) }
            }
            return PingReply(cancelRequested: cancelRequested, lost: lost, rescued: rescued)
        }
        events.publishRescued(reply.rescued)
        return reply
    }

    public func deactivate(_ dispatcher: UUID, now: Date) async throws {
        state.withLock { state in
            state.dispatchers[dispatcher]?.state = .inactive
            state.dispatchers[dispatcher]?.lastPingAt = now
        }
    }

    public func dispatchers() async throws -> [DispatcherInfo] {
        state.withLock { $0.dispatchers.values.sorted { $0.startedAt < $1.startedAt } }
    }

    public func rescue(deadBefore: Date, now: Date) async throws -> [Job] {
        let rescued = state.withLock { state in
            var dead: Set<UUID> = []
            for (id, info) in state.dispatchers where info.state == .active && info.lastPingAt < deadBefore {
                state.dispatchers[id]?.state = .dead
                dead.insert(id)
            }
            let victims = state.jobs.values.filter { job in
                job.state == .running
                    && (job.dispatcher.map(dead.contains) ?? false || (job.leaseExpiresAt.map { $0 < now } ?? false))
            }
            return victims.sorted { $0.id < $1.id }.map { job in
                let holder = job.dispatcher?.uuidString.lowercased() ?? "unknown"
                let reason = dead.contains(job.dispatcher ?? UUID())
                    ? "its dispatcher \(holder) stopped pinging" : "its lease held by dispatcher \(holder) expired"
                return state.rescue(job.id, reason: reason, now: now)
            }
        }
        events.publishRescued(rescued)
        return rescued
    }
}

extension InMemoryJobStore.State {
    mutating func rescue(_ id: JobID, reason: String, now: Date, ran: Bool = true) -> Job {
        var job = jobs[id]!
        releaseHolds(id)
        job.rescue(reason: reason, now: now, ran: ran)
        jobs[id] = job
        return job
    }
}
