import Foundation
import SpoolCore
import SpoolTestSupport
import SpoolWorker
import Testing

@Suite("Retention")
struct RetentionTests {
    @Test("a dispatcher deletes completed jobs a day old and keeps discarded ones for a week, by default")
    func dispatcherPrunes() async throws {
        let harness = try WorkerHarness()
        let done = try await harness.client.enqueue((0..<30).map { _ in NewJob(name: BuiltinJobs.noop) }).map(\.job.id)
        let failed = try await harness.client.enqueue(NewJob(name: BuiltinJobs.fail, maxAttempts: 1)).id
        try await harness.withDispatcher { _ in
            for id in done + [failed] { _ = try await harness.client.wait(for: id, timeout: .seconds(60)) }
        }
        #expect(try await harness.store.job(failed)?.state == .discarded)

        // A day and an hour later, by the second dispatcher's clock: the completed jobs are due, the discarded one is not.
        let later = harness.configuration {
            $0.retentionInterval = .milliseconds(100)
            $0.pruneBatch = 7   // several batches
        }
        let future = Dispatcher(store: harness.store, registry: harness.registry, configuration: later,
                                now: { Date().addingTimeInterval(25 * 3600) })
        let running = Task { try await future.run() }
        let deadline = Date().addingTimeInterval(60)
        while try await harness.store.queues().first?.counts[.completed] ?? 0 > 0, Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        future.stop()
        try await running.value
        for id in done { #expect(try await harness.store.job(id) == nil, "completed job \(id) was deleted") }
        #expect(try await harness.store.job(failed)?.state == .discarded, "a discarded job is kept for a week")
    }

    @Test("retention ages: a number of seconds or s, m, h, d; 0 keeps forever; under a minute is refused")
    func ages() throws {
        #expect(try Retention.parseAge("90") == .seconds(90))
        #expect(try Retention.parseAge("30m") == .seconds(1800))
        #expect(try Retention.parseAge("24h") == .seconds(86_400))
        #expect(try Retention.parseAge("7d") == .seconds(7 * 86_400))
        #expect(try Retention.parseAge("0") == nil)
        #expect(throws: SpoolError.self) { try Retention.parseAge("a week") }
        #expect(throws: SpoolError.self) { try Retention.parseAge("-5m") }
        let short = Retention(completed: .seconds(10), cancelled: nil, discarded: nil)
        let error = try #require(throws: SpoolError.self) { try short.validate() }
        #expect(error.message.contains("completed jobs must be kept at least 60 s"))
        #expect(throws: Never.self) { try Retention.standard.validate() }
    }

    @Test("after each prune batch retention pauses so that batches take at most their share of the time, and at least 5 ms")
    func pacing() {
        #expect(Retention.pause(after: .milliseconds(10), share: 0.125) == .milliseconds(70))
        #expect(Retention.pause(after: .milliseconds(4), share: 0.5) == .milliseconds(5), "never under 5 ms")
        #expect(Retention.pause(after: .milliseconds(20), share: 0.5) == .milliseconds(20))
        #expect(Retention.pause(after: .milliseconds(20), share: 3) == .milliseconds(5), "a share over 1 is all the time")
        let least = Retention.pause(after: .milliseconds(1), share: 0)
        #expect(least > .microseconds(98_999) && least < .microseconds(99_001), "a share under 1 % is 1 %: \(least)")
        #expect(DispatcherConfiguration(id: UUID()).pruneShare == 0.125)
    }
}
