import Foundation
import SpoolCore
import SpoolTestSupport
import SpoolWorker
import Testing

@Suite("Dispatcher journal")
struct DispatcherJournalTests {
    private static let dispatcher = UUID()
    private static let job = Job(new: NewJob(name: "mail \"receipt\"\n", quotas: ["smtp"]), id: JobID.make(), now: Date())

    private static let events: [DispatcherEvent] = [
        .registered(dispatcher), .activated(dispatcher), .jobStarted(job), .jobEnded(job, .completed(result: nil, followUps: [])),
        .jobRecorded(job), .jobRescued(job), .deactivated(dispatcher),
    ]

    /// The journal's lines, parsed as JSON objects.
    private static func lines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "a JSON object: \(line)")
        }
    }

    @Test("every event is one JSON line naming it, with the job's fields for job events")
    func recordsEveryEvent() throws {
        let directory = try TemporaryDirectory()
        let journal = try DispatcherJournal(path: directory.path("j.jsonl"), dispatcher: Self.dispatcher)
        for event in Self.events { journal.record(event) }
        let lines = try Self.lines(directory.path("j.jsonl"))
        #expect(lines.map { $0["event"] as? String } == ["registered", "activated", "started", "ended", "recorded", "rescued", "deactivated"])
        #expect(lines.allSatisfy { $0["dispatcher"] as? String == Self.dispatcher.uuidString.lowercased() && ($0["at"] as? String).flatMap(ISO8601.parse) != nil })
        let started = lines[2]
        #expect(started["job"] as? String == Self.job.id.description)
        #expect(started["name"] as? String == "mail \"receipt\"\n", "the name survives escaping")
        #expect(started["quotas"] as? [String] == ["smtp"])
        #expect(started["attempt"] as? Int == 0)
        #expect(lines[3]["outcome"] as? String == "completed")
        #expect(lines[4]["state"] as? String == "available")
        #expect(lines[0]["job"] == nil)
        #expect(Set(Self.events.map(\.name)) == DispatcherEvent.names, "the names a journal can be opened for")
    }

    @Test("a journal opened for some events writes only those, and an unknown event name is refused")
    func recordsChosenEvents() throws {
        let directory = try TemporaryDirectory()
        let journal = try DispatcherJournal(path: directory.path("j.jsonl"), dispatcher: Self.dispatcher, events: ["started", "ended"])
        for event in Self.events { journal.record(event) }
        #expect(try Self.lines(directory.path("j.jsonl")).map { $0["event"] as? String } == ["started", "ended"])
        #expect(throws: SpoolError.self) {
            try DispatcherJournal(path: directory.path("k.jsonl"), dispatcher: Self.dispatcher, events: ["started", "finished"])
        }
    }
}
