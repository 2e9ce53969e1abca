import Foundation
import SpoolCore

extension StoreConformance {
    /// Dispatchers: registration, pings, leases, death, rescue, release.
    static let dispatcherCases: [StoreConformanceCase] = [
        StoreConformanceCase("a registered dispatcher is listed active and pings renew its jobs' leases") { store in
            _ = try await register(store)
            let job = try await put(store)
            _ = try await claim(store, lease: .seconds(10))
            let reply = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: t0.addingTimeInterval(8), lease: .seconds(10)),
                                             holding: [job.id, JobID.make()])
            try expectEqual(reply.lost.count, 1, "an id it does not hold is reported lost")
            try expectEqual(try await fetch(store, job.id).leaseExpiresAt, t0.addingTimeInterval(18), "lease renewed")
            try expectEqual(try await store.rescue(deadBefore: t0, now: t0.addingTimeInterval(15)).count, 0, "a renewed lease is not rescued")
            let info = try await store.dispatchers()
            try expectEqual(info.map(\.id), [dispatcherA], "listed")
            try expectEqual(info[0].state, .active, "active")
            try expectEqual(info[0].lastPingAt, t0.addingTimeInterval(8), "last ping")
        },
        StoreConformanceCase("a ping renews only the jobs the dispatcher says it holds; one it never learned it claimed expires") { store in
            _ = try await register(store)
            let known = try await put(store)
            let unknown = try await put(store)
            _ = try await claim(store, limit: 2, lease: .seconds(10))
            let reply = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: t0.addingTimeInterval(8), lease: .seconds(10)),
                                             holding: [known.id])
            try expectEqual(reply.lost, [], "nothing it holds is lost")
            try expectEqual(try await fetch(store, known.id).leaseExpiresAt, t0.addingTimeInterval(18), "renewed")
            try expectEqual(try await fetch(store, unknown.id).leaseExpiresAt, t0.addingTimeInterval(10), "not renewed")
            let rescued = try await store.rescue(deadBefore: t0, now: t0.addingTimeInterval(12))
            try expectEqual(rescued.map(\.id), [unknown.id], "the job whose claim its dispatcher never saw is rescued")
        },
        StoreConformanceCase("a ping rescues the jobs its dispatcher holds without listing them, if claimed before the bound it gives") { store in
            _ = try await register(store)
            let listed = try await put(store)
            let unlisted = try await put(store)
            _ = try await claim(store, limit: 2, at: t0, lease: .seconds(3600))
            let late = try await put(store)
            _ = try await claim(store, at: t0.addingTimeInterval(5), lease: .seconds(3600))
            let none = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: t0.addingTimeInterval(8), lease: .seconds(3600)),
                                            holding: [listed.id])
            try expectEqual(none.rescued.map(\.id), [], "without a bound nothing is rescued")
            let reply = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: t0.addingTimeInterval(9), lease: .seconds(3600),
                                                  rescueUnlistedBefore: t0.addingTimeInterval(5)), holding: [listed.id])
            try expectEqual(reply.rescued.map(\.id), [unlisted.id], "the unlisted job claimed before the bound is rescued")
            try expectEqual(reply.lost, [], "nothing listed is lost")
            let rescued = try await fetch(store, unlisted.id)
            try expectEqual(rescued.state, .available, "available again")
            try expectEqual(rescued.errors.map(\.type), ["rescued"], "the rescue is recorded")
            try expectEqual(try await fetch(store, listed.id).state, .running, "the listed job keeps running")
            try expectEqual(try await fetch(store, late.id).state, .running, "a job claimed at the bound or after is left alone")
        },
        StoreConformanceCase("a dead dispatcher's jobs are rescued by another, or discarded when out of attempts") { store in
            _ = try await register(store, dispatcherA)
            _ = try await register(store, dispatcherB)
            let retried = try await put(store) { $0.maxAttempts = 3 }
            let spent = try await put(store) { $0.maxAttempts = 1 }
            _ = try await claim(store, limit: 2, by: dispatcherA, lease: .seconds(3600))
            _ = try await store.ping(Ping(dispatcher: dispatcherB, agents: [], now: t0.addingTimeInterval(20), lease: .seconds(30)), holding: [])
            let rescued = try await store.rescue(deadBefore: t0.addingTimeInterval(10), now: t0.addingTimeInterval(20))
            try expectEqual(Set(rescued.map(\.id)), [retried.id, spent.id], "both rescued")
            let again = try await fetch(store, retried.id)
            try expectEqual(again.state, .available, "made available")
            try expectEqual(again.errors.map(\.type), ["rescued"], "the rescue is recorded")
            try expectEqual(try await fetch(store, spent.id).state, .discarded, "out of attempts")
            let states = Dictionary(uniqueKeysWithValues: try await store.dispatchers().map { ($0.id, $0.state) })
            try expectEqual(states[dispatcherA], .dead, "A declared dead")
            try expectEqual(states[dispatcherB], .active, "B alive")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(20), by: dispatcherB).map(\.attempt), [2], "B runs it")
        },
        StoreConformanceCase("a dispatcher restarting with its UUID rescues its own jobs at once") { store in
            _ = try await register(store)
            let job = try await put(store)
            _ = try await claim(store, lease: .seconds(3600))
            let rescued = try await register(store, at: t0.addingTimeInterval(1))
            try expectEqual(rescued.map(\.id), [job.id], "rescued on restart")
            try expectEqual(try await fetch(store, job.id).state, .available, "available again")
        },
        StoreConformanceCase("a restart rescues every job its dispatcher held at once: each as its attempts say, its quota place freed") { store in
            _ = try await register(store)
            _ = try await store.createQuota("rescue-q", size: 100)
            var retried: [JobID] = [], spent: [JobID] = []
            for index in 0..<60 {
                let job = try await put(store) { job in
                    job.maxAttempts = index.isMultiple(of: 2) ? 3 : 1
                    if index.isMultiple(of: 3) { job.quotas = ["rescue-q"] }
                    job.queue = index < 30 ? "rescue-a" : "rescue-b"
                }
                if index.isMultiple(of: 2) { retried.append(job.id) } else { spent.append(job.id) }
            }
            let claimed = try await claim(store, limit: 60, lease: .seconds(3600))
            try expectEqual(claimed.count, 60, "all claimed")
            try expectEqual(try await store.quotas().first { $0.name == "rescue-q" }?.running.count, 20, "twenty hold the quota")
            let restart = t0.addingTimeInterval(5)
            let rescued = try await register(store, at: restart)
            try expectEqual(Set(rescued.map(\.id)), Set(retried + spent), "every held job rescued")
            try expectEqual(Set(rescued.filter { $0.state == .available }.map(\.id)), Set(retried), "attempts left: waiting again")
            try expectEqual(Set(rescued.filter { $0.state == .discarded }.map(\.id)), Set(spent), "out of attempts: discarded")
            for id in retried {
                let job = try await fetch(store, id)
                try expectEqual([job.state, job.runAt, job.finishedAt] as [AnyHashable?], [JobState.available, restart, nil], "job \(id) as stored")
                try expectEqual(job.errors.map(\.type), ["rescued"], "one rescue recorded on \(id)")
                try expectEqual(job.leaseExpiresAt, nil, "no lease on \(id)")
            }
            for id in spent {
                let job = try await fetch(store, id)
                try expectEqual([job.state, job.finishedAt] as [AnyHashable?], [JobState.discarded, restart], "job \(id) as stored")
                try expectEqual(job.errors.map(\.attempt), [1], "its attempt's rescue recorded on \(id)")
            }
            try expectEqual(try await store.quotas().first { $0.name == "rescue-q" }?.running, [], "every quota place freed")
            let again = try await claim(store, limit: 60, at: restart)
            try expectEqual(Set(again.map(\.id)), Set(retried), "the waiting ones are claimed again")
        },
        StoreConformanceCase("a job whose worker died while running it twice in a row is discarded, not handed to a third") { store in
            _ = try await register(store)
            let job = try await put(store)
            _ = try await claim(store, lease: .seconds(3600))
            _ = try await register(store, at: t0.addingTimeInterval(1))
            try expectEqual(try await fetch(store, job.id).state, .available, "one death: tried again")
            _ = try await claim(store, at: t0.addingTimeInterval(1), lease: .seconds(3600))
            let second = try await register(store, at: t0.addingTimeInterval(2))
            try expectEqual(second.map(\.state), [.discarded], "two deaths in a row: discarded")
            let discarded = try await fetch(store, job.id)
            try expectEqual(discarded.errors.map(\.attempt), [1, 2], "both deaths recorded")
            try expect(discarded.errors.last?.message.contains("previous attempt also ended with its worker gone") == true,
                       "the reason is given: \(discarded.errors)")
            let unstarted = try await put(store)
            _ = try await claim(store, at: t0.addingTimeInterval(3), lease: .seconds(3600))
            _ = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: t0.addingTimeInterval(4), lease: .seconds(3600),
                                          rescueUnlistedBefore: t0.addingTimeInterval(4)), holding: [])
            _ = try await claim(store, at: t0.addingTimeInterval(4), lease: .seconds(3600))
            _ = try await register(store, at: t0.addingTimeInterval(5))
            try expectEqual(try await fetch(store, unstarted.id).state, .available, "a claim that never started is no death")
        },
        StoreConformanceCase("an id another live process pings is refused, and its jobs are left alone") { store in
            _ = try await register(store)
            let job = try await put(store)
            _ = try await claim(store, lease: .seconds(3600))
            let elsewhere = DispatcherRegistration(id: dispatcherA, host: "other-host", pid: 1, agents: [], now: t0.addingTimeInterval(5),
                                                   deadAfter: .seconds(10))
            let error = try await expectSpoolError(.dispatcherInUse) { try await store.register(elsewhere) }
            try expect(error.message.contains("test-host") && error.message.contains("--uuid-file"), "names the holder and the way out: \(error)")
            let running = DispatcherRegistration(id: dispatcherA, host: "test-host", pid: 2, agents: [], now: t0.addingTimeInterval(5))
            try await expectSpoolError(.dispatcherInUse) { try await store.register(running) }
            let held = try await fetch(store, job.id)
            try expectEqual(held.state, .running, "still running for its holder")
            try expectEqual(held.errors.count, 0, "no rescue recorded")
            let info = try await store.dispatchers()
            try expectEqual(info.map(\.pid), [1], "the holder's record is kept")
        },
        StoreConformanceCase("an id whose holder is provably gone (a pid no longer running here, or silent too long) is taken, with its jobs") { store in
            let here = ProcessInfo.processInfo.hostName, gonePid = Int(Int32.max) - 1
            _ = try await store.register(DispatcherRegistration(id: dispatcherA, host: here, pid: gonePid, agents: [], now: t0))
            let first = try await put(store)
            _ = try await claim(store, lease: .seconds(3600))
            let restarted = try await store.register(DispatcherRegistration(id: dispatcherA, host: here, pid: 2, agents: [],
                                                                            now: t0.addingTimeInterval(1)))
            try expectEqual(restarted.map(\.id), [first.id], "a dead pid on this host: the restart rescues at once")
            let second = try await put(store)
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(1), lease: .seconds(3600)).count, 2, "both claimed again")
            let elsewhere = DispatcherRegistration(id: dispatcherA, host: "new-host", pid: 7, agents: [], now: t0.addingTimeInterval(12),
                                                   deadAfter: .seconds(10))
            let taken = try await store.register(elsewhere)
            try expectEqual(Set(taken.map(\.id)), [first.id, second.id], "after dead-after of silence another host takes the id and rescues")
            try expectEqual(try await store.dispatchers().map(\.host), ["new-host"], "the record names the new holder")
        },
        StoreConformanceCase("a dispatcher shutting down returns its jobs without using up attempts") { store in
            _ = try await register(store)
            let job = try await put(store)
            _ = try await claim(store)
            try await store.release([job.id], dispatcher: dispatcherB, now: t0)
            try expectEqual(try await fetch(store, job.id).state, .running, "another dispatcher cannot release it")
            try await store.release([job.id], dispatcher: dispatcherA, now: t0)
            let released = try await fetch(store, job.id)
            try expectEqual(released.state, .available, "available")
            try expectEqual(released.attempt, 0, "attempt given back")
            try await store.deactivate(dispatcherA, now: t0)
            try expectEqual(try await store.dispatchers().first?.state, .inactive, "inactive")
            try expectEqual(try await store.rescue(deadBefore: t0.addingTimeInterval(100), now: t0.addingTimeInterval(100)).count, 0,
                            "an inactive dispatcher is not declared dead")
        },
    ]
}
