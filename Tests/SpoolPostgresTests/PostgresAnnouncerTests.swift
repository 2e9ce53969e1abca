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

    @Test("queues waiting to be announced are taken into the next enqueue that notifies in its statement, once")
    func folding() async throws {
        let announcer = Self.announcer(spacing: .milliseconds(200))
        #expect(announcer.mayNotifyInStatement(folding: true) == [])
        announcer.announce(["mail", "reports"])   // within the spacing: waits its turn, 400 ms after the enqueue above
        #expect(announcer.mayNotifyInStatement(folding: true) == nil, "still within the spacing")
        announcer.announce(["mail", "thumbnails"])
        try await Task.sleep(for: .milliseconds(250))
        #expect(announcer.mayNotifyInStatement(folding: true) == ["mail", "reports", "thumbnails"], "the waiting queues go with this enqueue")
        #expect(announcer.mayNotifyInStatement(folding: true) == nil, "the fold counts as an announcement")
        try await Task.sleep(for: .milliseconds(250))
        #expect(announcer.mayNotifyInStatement(folding: false) == [], "nothing waits; not folding takes nothing")
    }
}
