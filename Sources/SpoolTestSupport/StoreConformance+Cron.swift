import Foundation
import SpoolCore

extension StoreConformance {
    /// Cron: a tick fires once.
    static let cronCases: [StoreConformanceCase] = [
        StoreConformanceCase("a cron tick fires once across dispatchers") { store in
            let tick = t0.addingTimeInterval(60)
            let first = try await store.fireCron(schedule: "nightly", tick: tick, job: NewJob(name: "report"), now: tick)
            let second = try await store.fireCron(schedule: "nightly", tick: tick, job: NewJob(name: "report"), now: tick)
            let older = try await store.fireCron(schedule: "nightly", tick: t0, job: NewJob(name: "report"), now: tick)
            try expect(first != nil, "the first call fires")
            try expect(second == nil && older == nil, "the same or an older tick does not fire again")
            let next = try await store.fireCron(schedule: "nightly", tick: tick.addingTimeInterval(60), job: NewJob(name: "report"), now: tick)
            try expect(next != nil, "the next tick fires")
            try expect(try await store.fireCron(schedule: "other", tick: tick, job: NewJob(name: "x"), now: tick) != nil, "schedules are independent")
            try expectEqual(try await store.jobs(JobQuery(name: "report")).jobs.count, 2, "two report jobs")
        },
    ]
}
