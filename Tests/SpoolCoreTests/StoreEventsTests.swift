import SpoolCore
import Testing

/// The in-process hub: a subscriber that names kinds hears only those (so that a busy store
/// does not wake a reader for events it throws away), and one that names none hears all.
@Suite("Store events")
struct StoreEventsTests {
    @Test("a subscriber of some kinds receives only those, in order; an unfiltered one receives all")
    func kinds() async {
        let hub = StoreEvents()
        let ends = hub.subscribe(to: [.jobsFinished])
        let all = hub.subscribe()
        let id = JobID.make()
        #expect(hub.hasSubscribers(to: .jobsFinished))
        #expect(hub.hasSubscribers(to: .jobsAvailable), "the unfiltered subscriber")

        hub.publish(.jobsAvailable(queues: ["a"]))
        hub.publish(.cancelRequested(id))
        hub.publish(.jobsFinished([id: .completed]))
        hub.publish(.jobsAvailable(queues: ["b"]))
        hub.publish(.jobsFinished([id: .discarded]))

        var endsIterator = ends.makeAsyncIterator()
        #expect(await endsIterator.next() == .jobsFinished([id: .completed]))
        #expect(await endsIterator.next() == .jobsFinished([id: .discarded]))
        var allIterator = all.makeAsyncIterator()
        var received: [StoreEvent] = []
        for _ in 0..<5 { if let event = await allIterator.next() { received.append(event) } }
        #expect(received.map(\.kind) == [.jobsAvailable, .cancelRequested, .jobsFinished, .jobsAvailable, .jobsFinished])
    }

    @Test("nobody listens to a kind no subscriber named")
    func noListener() {
        let hub = StoreEvents()
        let stream = hub.subscribe(to: [.jobsFinished])
        #expect(hub.hasSubscribers)
        #expect(!hub.hasSubscribers(to: .jobsAvailable))
        #expect(!hub.hasSubscribers(to: .cancelRequested))
        _ = stream
    }
}
