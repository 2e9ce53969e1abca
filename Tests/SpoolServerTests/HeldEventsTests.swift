import Foundation
import SpoolCore
@testable import SpoolServer
import Testing

@Suite("Events held back while a change that lets jobs run is announced")
struct HeldEventsTests {
    private func event(_ queue: String) -> ServerEvent { ServerEvent(.queuePaused, queue: queue) }

    @Test("with no change under way nothing is held")
    func nothingUnderWay() {
        var held = HeldEvents()
        let heldA = held.hold(event("a"))
        #expect(!heldA)
        let token = held.begin()
        let endedToken = held.end(token)
        #expect(endedToken.isEmpty)
        let heldB = held.hold(event("b"))
        #expect(!heldB)
    }

    @Test("an event waits for every change begun before it, not for later ones, and events leave in arrival order")
    func waitsForEarlierChanges() {
        var held = HeldEvents()
        let first = held.begin()
        let heldA = held.hold(event("a"))
        #expect(heldA)
        let second = held.begin()
        let heldB = held.hold(event("b"))
        #expect(heldB)
        let third = held.begin()
        let endedSecond = held.end(second)
        #expect(endedSecond.isEmpty, "both wait for the first change")
        let endedFirst = held.end(first)
        #expect(endedFirst.map(\.queue) == ["a", "b"], "the third change began after both")
        let heldC = held.hold(event("c"))
        #expect(heldC, "the third change is still under way")
        let endedThird = held.end(third)
        #expect(endedThird.map(\.queue) == ["c"])
    }

    @Test("past its capacity events go out at once instead of piling up")
    func bounded() {
        var held = HeldEvents()
        let token = held.begin()
        let taken = (0..<HeldEvents.capacity).filter { held.hold(event("\($0)")) }.count
        #expect(taken == HeldEvents.capacity)
        let heldOver = held.hold(event("over"))
        #expect(!heldOver)
        let endedToken = held.end(token)
        #expect(endedToken.count == HeldEvents.capacity)
    }

    @Test("a subscriber hears a job enqueued before the dispatcher's start that happened while the insert was being announced")
    func enqueuedBeforeStarted() async throws {
        let hub = ServerEvents()
        let (key, subscriber) = hub.subscribe(EventFilter(), capacity: 16, lagLimit: .seconds(10)) {}
        defer { hub.unsubscribe(key) }
        let job = Job(new: NewJob(name: "x"), id: JobID(UUID()), now: Date())
        let announced = try await hub.announcing(.jobEnqueued, jobs: { [$0] }) { () async throws -> Job in
            var running = job
            running.state = .running
            hub.publish(ServerEvent(.jobStarted, job: running))
            return job
        }
        #expect(announced.id == job.id)
        let first = try #require(await subscriber.next()), second = try #require(await subscriber.next())
        #expect(first.contains(#""type":"job.enqueued""#) && second.contains(#""type":"job.started""#))
    }

    @Test("a change that fails releases what it held")
    func failedChange() async throws {
        let hub = ServerEvents()
        let (key, subscriber) = hub.subscribe(EventFilter(), capacity: 16, lagLimit: .seconds(10)) {}
        defer { hub.unsubscribe(key) }
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await hub.announcing(.jobEnqueued, jobs: { (_: Int) in [] }) {
                hub.publish(ServerEvent(.queuePaused, queue: "mail"))
                throw Refused()
            }
        }
        let text = try #require(await subscriber.next())
        #expect(text.contains(#""type":"queue.paused""#))
    }
}
