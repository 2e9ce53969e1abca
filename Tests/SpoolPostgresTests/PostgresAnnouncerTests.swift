import Logging
import PostgresNIO
@testable import SpoolPostgres
import Testing

/// When a store's own enqueue sends its NOTIFY in its statement, and when it leaves it to an
/// announcement after the commit (no server needed: nothing is announced here).
@Suite("PostgreSQL announcements of new jobs: in the statement or after the commit")
struct PostgresAnnouncerTests {
    private static func announcer(spacing: Duration) -> PostgresAnnouncer {
        let configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: 1, username: "nobody", password: nil,
                                                             database: "none", tls: .disable)
        let logger = Logger(label: "test")
        return PostgresAnnouncer(pool: PostgresPool(configuration: configuration, maximum: 1, logger: logger),
                                 channel: "spool_jobs_test", spacing: spacing, logger: logger)
    }

    @Test("the first enqueue notifies in its statement; the next within the spacing does not; after the spacing one does again")
    func spacing() async throws {
        let announcer = Self.announcer(spacing: .milliseconds(200))
        #expect(announcer.mayNotifyInStatement(folding: false) == [])
        #expect(announcer.mayNotifyInStatement(folding: false) == nil)
        #expect(announcer.mayNotifyInStatement(folding: false) == nil)
        try await Task.sleep(for: .milliseconds(250))
        #expect(announcer.mayNotifyInStatement(folding: false) == [])
    }

    /// Each expectation is judged only when the clock says it applies (read before and after the
    /// call): on a loaded machine a sleep may last far longer than asked.
    @Test("queues waiting to be announced are taken into the next enqueue that notifies in its statement, once")
    func folding() async throws {
        let spacing = Duration.seconds(1)
        let announcer = Self.announcer(spacing: spacing)
        let start = ContinuousClock.now
        #expect(announcer.mayNotifyInStatement(folding: true) == [])
        let first = ContinuousClock.now   // the announcer's last announcement began between start and this
        announcer.announce(["mail", "reports"])   // waits its turn: twice the spacing after that first enqueue
        let early = announcer.mayNotifyInStatement(folding: true)
        if ContinuousClock.now < start + spacing { #expect(early == nil, "within the spacing") }
        announcer.announce(["mail", "thumbnails"])
        try await Task.sleep(until: first + spacing)
        let before = ContinuousClock.now
        let folded = announcer.mayNotifyInStatement(folding: true)
        let after = ContinuousClock.now
        if early == nil, after < start + spacing * 2 {
            // Past the spacing, and the announcement's own turn has not come: the enqueue takes it.
            #expect(folded == ["mail", "reports", "thumbnails"], "the waiting queues go with this enqueue")
            let again = announcer.mayNotifyInStatement(folding: true)
            if ContinuousClock.now < before + spacing { #expect(again == nil, "the fold counts as an announcement") }
        }
    }

    @Test("enqueues that notify in their statement without taking the waiting queues do not put their announcement off")
    func noStarvation() async throws {
        let spacing = Duration.milliseconds(300)
        let announcer = Self.announcer(spacing: spacing)
        #expect(announcer.mayNotifyInStatement(folding: false) == [])
        announcer.announce(["mail"])   // its turn: twice the spacing after the enqueue above
        // Enqueues of the full statement (which do not take waiting queues) for ten turns, each
        // one allowed to notify in its statement: had each put the announcement off, "mail"
        // would still be waiting after them.
        var at = ContinuousClock.now
        for _ in 0..<10 {
            at = max(at + spacing * 1.2, .now)
            try await Task.sleep(until: at)
            _ = announcer.mayNotifyInStatement(folding: false)
        }
        try await Task.sleep(until: ContinuousClock.now + spacing * 1.1)
        let left = announcer.mayNotifyInStatement(folding: true)
        #expect(left != ["mail"], "the waiting queue was announced in its turn (its statement failed: no server)")
    }

    @Test("queue names for the new-jobs channel go in payloads under PostgreSQL's 8000-byte limit, each name whole, in order")
    func queuePayloads() {
        #expect(PostgresSchema.queuePayloads([]) == [])
        #expect(PostgresSchema.queuePayloads(["mail", "reports"]) == ["mail\nreports"])
        let long = (0..<100).map { "\($0)-" + String(repeating: "é", count: 197) }   // 200 characters, about 400 bytes each
        let payloads = PostgresSchema.queuePayloads(long)
        #expect(payloads.count > 1)
        #expect(payloads.allSatisfy { $0.utf8.count < 8000 }, "\(payloads.map(\.utf8.count))")
        #expect(payloads.flatMap { $0.split(separator: "\n").map(String.init) } == long)
    }
}
