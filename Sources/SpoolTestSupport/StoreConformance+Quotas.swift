import Foundation
import SpoolCore

extension StoreConformance {
    /// The quota rules of the zc.async seed's footnotes, one case each, plus the rules Spool adds.
    static let quotaCases: [StoreConformanceCase] = [
        StoreConformanceCase("putting a job naming an unknown quota fails and leaves the queue unchanged") { store in
            let error = try await expectSpoolError(.unknownQuota) {
                try await put(store) { $0.quotas = ["content catalog"] }
            }
            try expect(error.message.contains("content catalog"), "the message names the quota: \(error.message)")
            try expectEqual(try await store.jobs(JobQuery()).jobs.count, 0, "jobs stored")
        },
        StoreConformanceCase("a batch with one unknown quota stores none of its jobs") { store in
            try await store.createQuota("known")
            try await expectSpoolError(.unknownQuota) {
                try await store.insert([NewJob(name: "a", quotas: ["known"]), NewJob(name: "b", quotas: ["unknown"])], now: t0)
            }
            try expectEqual(try await store.jobs(JobQuery()).jobs.count, 0, "jobs stored")
        },
        StoreConformanceCase("changing a waiting job's quotas to an unknown name fails and leaves it unchanged") { store in
            let job = try await put(store)
            try await expectSpoolError(.unknownQuota) { try await store.setQuotas(job.id, quotas: ["content catalog"]) }
            try expectEqual(try await fetch(store, job.id).quotas, [], "quotas")
            try await store.createQuota("content catalog")
            let changed = try await store.setQuotas(job.id, quotas: ["content catalog"])
            try expectEqual(changed.quotas, ["content catalog"], "quotas after a valid change")
        },
        StoreConformanceCase("quotas can be created and removed") { store in
            try expectEqual(try await store.quotas().map(\.name), [], "quotas at start")
            try await store.createQuota("testing")
            try expectEqual(try await store.quotas().map(\.name), ["testing"], "quotas after create")
            try await store.removeQuota("testing")
            try expectEqual(try await store.quotas().map(\.name), [], "quotas after remove")
            try await expectSpoolError(.unknownQuota) { try await store.removeQuota("testing") }
            try await store.createQuota("again")
            try await expectSpoolError(.quotaExists) { try await store.createQuota("again") }
        },
        StoreConformanceCase("a removed quota's name on waiting jobs is ignored") { store in
            try await store.createQuota("content catalog")
            let job = try await put(store) { $0.quotas = ["content catalog"] }
            try await store.removeQuota("content catalog")
            try expectEqual(try await fetch(store, job.id).quotas, ["content catalog"], "the job keeps the name")
            let claimed = try await claim(store)
            try expectEqual(claimed.map(\.id), [job.id], "claimed")
            try expectEqual(try await claim(store).count, 0, "nothing left")
        },
        StoreConformanceCase("quotas default to a size of 1") { store in
            let info = try await store.createQuota("content catalog")
            try expectEqual(info.size, 1, "size")
            try expectEqual(try await store.quota("content catalog")?.size, 1, "size read back")
        },
        StoreConformanceCase("a quota's size is set at creation or changed later") { store in
            try await store.createQuota("content catalog")
            try await store.resizeQuota("content catalog", size: 2)
            try expectEqual(try await store.quota("content catalog")?.size, 2, "resized")
            try await store.createQuota("frobnitz account", size: 3)
            try expectEqual(try await store.quota("frobnitz account")?.size, 3, "created with size")
            try await expectSpoolError(.unknownQuota) { try await store.resizeQuota("missing", size: 2) }
            try await expectSpoolError(.invalidArgument) { try await store.createQuota("zero", size: 0) }
        },
        StoreConformanceCase("shrinking a filled quota does not stop running jobs and holds back the next") { store in
            try await store.createQuota("content catalog", size: 2)
            var ids: [JobID] = []
            for _ in 0..<3 { ids.append(try await put(store) { $0.quotas = ["content catalog"] }.id) }
            let first = try await claim(store, limit: 1)
            let second = try await claim(store, limit: 1)
            try expectEqual(first.map(\.id) + second.map(\.id), [ids[0], ids[1]], "the first two are claimed in order")
            try expectEqual(try await claim(store).count, 0, "the quota is full")
            var quota = try await store.quota("content catalog")!
            try expectEqual(quota.running, [ids[0], ids[1]], "running jobs of the quota")
            try expect(quota.filled, "quota filled at size 2")
            quota = try await store.resizeQuota("content catalog", size: 1)
            try expect(quota.filled, "quota still filled at size 1")
            try expectEqual(try await claim(store).count, 0, "nothing claimed after shrinking")
            try expect(try await complete(store, first[0]), "first job completes")
            try expectEqual(try await claim(store).count, 0, "one job still runs at size 1")
            try expectEqual(try await store.quota("content catalog")!.running, [ids[1]], "the second job holds the quota")
            try expect(try await complete(store, second[0]), "second job completes")
            let third = try await claim(store)
            try expectEqual(third.map(\.id), [ids[2]], "the third job is claimed once there is room")
            try expectEqual(try await store.quota("content catalog")!.running, [ids[2]], "the third job holds the quota")
            try expect(try await complete(store, third[0]), "third job completes")
            try expectEqual(try await claim(store).count, 0, "queue empty")
            quota = try await store.quota("content catalog")!
            try expectEqual(quota.running.count, 0, "nothing runs")
            try expect(!quota.filled, "quota not filled")
        },
        StoreConformanceCase("a job naming several quotas needs room in each") { store in
            try await store.createQuota("a")
            try await store.createQuota("b")
            let onlyA = try await put(store) { $0.quotas = ["a"] }
            let both = try await put(store) { $0.quotas = ["a", "b"] }
            let onlyB = try await put(store) { $0.quotas = ["b"] }
            let claimed = try await claim(store)
            try expectEqual(Set(claimed.map(\.id)), [onlyA.id, onlyB.id], "the job needing both waits")
            for job in claimed { _ = try await complete(store, job) }
            try expectEqual(try await claim(store).map(\.id), [both.id], "then it runs")
        },
        StoreConformanceCase("a quota's room is given back when its job fails, is cancelled or rescued") { store in
            try await store.createQuota("q")
            let job = try await put(store) { $0.quotas = ["q"]; $0.maxAttempts = 5 }
            _ = try await claim(store)
            let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "boom", at: t0)
            _ = try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: t0))], now: t0)
            try expectEqual(try await store.quota("q")!.running, [], "released after failure")
            _ = try await claim(store)
            try expectEqual(try await store.quota("q")!.running, [job.id], "held again")
            _ = try await store.rescue(deadBefore: t0, now: t0.addingTimeInterval(60))
            try expectEqual(try await store.quota("q")!.running, [], "released after rescue of an expired lease")
        },
    ]
}
