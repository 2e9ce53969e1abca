import Foundation
import SpoolCore
import SpoolTestSupport
import SpoolServer
import Testing

/// An event as a test reads it; a job's end as a token subscriber receives it has `id`,
/// `state`, `result` and `fragmentURL` instead of `job`.
struct EventMessage: Decodable {
    var type: String
    var job: Job?
    var queue: String?
    var dispatcher: String?
    var dropped: Int?
    var id: String?
    var state: String?
    var result: JSONValue?
    var fragmentURL: String?
}

extension WebSocketTestClient {
    /// The next event, skipping nothing; throws when the stream ends.
    func nextEvent() async throws -> EventMessage {
        guard let text = try await nextText() else { throw ServerError("the event stream ended") }
        return try JSONDecoder().decode(EventMessage.self, from: Data(text.utf8))
    }

    /// Reads events until one satisfies `condition`; throws when the stream ends first.
    func event(where condition: (EventMessage) -> Bool) async throws -> EventMessage {
        while true {
            let event = try await nextEvent()
            if condition(event) { return event }
        }
    }
}

@Suite("HTTP API: the /v1/events WebSocket")
struct EventTests {
    @Test("a client sees its job enqueued, started and completed, in that order, with the job's JSON")
    func jobLifecycle() async throws {
        try await withServer { server in
            let socket = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events")
            defer { socket.close() }
            #expect(try await socket.nextEvent().type == "subscribed")
            let job = try await server.enqueue(#"{"name":"spool.echo","payload":{"n":1}}"#)
            var types: [String] = []
            var last: EventMessage?
            while last?.type != "job.completed" {
                let event = try await socket.event { $0.job?.id == job.id }
                types.append(event.type)
                last = event
            }
            #expect(types == ["job.enqueued", "job.started", "job.completed"])
            #expect(last?.job?.state == .completed && last?.job?.result?.value == .object(["n": .number(1)]))
            let stored = try await server.request("GET", "/v1/jobs/\(job.id)").decode(Job.self)
            #expect(stored.state == .completed, "the completed event is sent once the outcome is durable")
        }
    }

    @Test("filters: ?job= sees one job's events only, ?queue= one queue's; API actions are events too")
    func filters() async throws {
        try await withServer(worker: false) { server in
            let mine = try await server.enqueue(#"{"name":"x","delay":3600}"#)
            let byJob = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?job=\(mine.id)")
            defer { byJob.close() }
            let byQueue = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?queue=mail")
            defer { byQueue.close() }
            #expect(try await byJob.nextEvent().type == "subscribed")
            #expect(try await byQueue.nextEvent().type == "subscribed")
            _ = try await server.enqueue(#"{"name":"other","delay":3600}"#)
            let mail = try await server.enqueue(#"{"name":"letter","queue":"mail","delay":3600}"#)
            _ = try await server.request("POST", "/v1/jobs/\(mine.id)/cancel")
            _ = try await server.request("POST", "/v1/queues/mail/pause")
            let first = try await byJob.nextEvent()
            #expect(first.type == "job.cancelled" && first.job?.id == mine.id)
            let queued = try await byQueue.nextEvent()
            #expect(queued.type == "job.enqueued" && queued.job?.id == mail.id)
            let paused = try await byQueue.nextEvent()
            #expect(paused.type == "queue.paused" && paused.queue == "mail")
        }
    }

    @Test("dispatcher events given to the server's observer reach clients")
    func dispatcherEvents() async throws {
        try await withServer(worker: false) { server in
            let socket = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events")
            defer { socket.close() }
            #expect(try await socket.nextEvent().type == "subscribed")
            let id = UUID()
            server.server.events.observer(.activated(id))
            let event = try await socket.nextEvent()
            #expect(event.type == "dispatcher.activated" && event.dispatcher == id.uuidString.lowercased())
        }
    }

    @Test("a client overrun by a bulk enqueue is told how many events it missed, keeps its connection and sees the next event")
    func laggedClientCatchesUp() async throws {
        try await withServer(worker: false, configure: { $0.eventBuffer = 16 }) { server in
            let socket = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events")
            defer { socket.close() }
            #expect(try await socket.nextEvent().type == "subscribed")
            let jobs = (0..<500).map { #"{"name":"bulk","delay":3600,"payload":{"i":\#($0)}}"# }.joined(separator: ",")
            #expect(try await server.request("POST", "/v1/jobs", body: #"{"jobs":[\#(jobs)]}"#).status == 201)
            var seen = 0, dropped = 0
            while seen + dropped < 500 {
                let event = try await socket.nextEvent()
                if event.type == "job.enqueued" { seen += 1 }
                if event.type == "lagged" { dropped += event.dropped ?? 0 }
            }
            #expect(dropped > 0 && seen + dropped == 500, "every event was either delivered or counted as dropped")
            let next = try await server.enqueue(#"{"name":"after","delay":3600}"#)
            let event = try await socket.event { $0.type == "job.enqueued" }
            #expect(event.job?.id == next.id)
            #expect(server.server.events.cutOffCount == 0)
        }
    }

    @Test("a client that never reads is cut off once its buffer is full and the lag limit passed, while a reading client gets every event")
    func slowClientIsCutOff() async throws {
        try await withServer(worker: false, configure: { $0.eventBuffer = 16; $0.eventLagLimit = .milliseconds(200) }) { server in
            let slow = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events", receiveBuffer: 4096)
            let reader = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events")
            defer { reader.close() }
            #expect(try await reader.nextEvent().type == "subscribed")
            // Ten large events at a time, published as the API publishes an enqueue, and the next
            // ten only once the reader has these: the reader is never more than ten events (under
            // its buffer of 16) behind however slowly this machine runs it, while the slow client's
            // socket and buffer fill and it is cut off, well before WebSocket pings (30 s) could end
            // it. (Through the store, each round would wait for a disk sync that a busy machine
            // can make take seconds.)
            let pad = String(repeating: "x", count: 60_000)
            var enqueued = 0
            let deadline = ContinuousClock.now + .seconds(30)
            while server.server.events.cutOffCount == 0, ContinuousClock.now < deadline {
                var expected: Set<JobID> = []
                for i in enqueued..<enqueued + 10 {
                    let payload = JSONPayload(unchecked: #"{"i":\#(i),"pad":"\#(pad)"}"#)
                    let job = Job(new: NewJob(name: "big", payload: payload), id: JobID(UUID()), now: Date())
                    expected.insert(job.id)
                    server.server.events.publish(ServerEvent(.jobEnqueued, job: job))
                }
                while !expected.isEmpty {
                    let event = try await reader.nextEvent()
                    try #require(event.type == "job.enqueued", "the reading client got \(event.type) (dropped: \(event.dropped ?? 0))")
                    try #require(event.job.map { expected.remove($0.id) != nil } == true, "an event of the ten just published")
                }
                enqueued += 10
            }
            #expect(server.server.events.cutOffCount == 1, "the slow client was cut off after \(enqueued) events")
            #expect(enqueued >= 20, "the slow client held some events first")
            #expect(try await slow.drainUntilClosed(), "the server closed the slow client's connection")
            let metrics = try await server.request("GET", "/metrics")
            #expect(metrics.text.contains("spool_event_clients_cut_off_total 1"))
            #expect(try await server.request("GET", "/v1/stats").status == 200)
        }
    }
}
