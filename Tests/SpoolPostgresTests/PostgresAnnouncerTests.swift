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
        #expect(announcer.mayNotifyInStatement())
        #expect(!announcer.mayNotifyInStatement())
        #expect(!announcer.mayNotifyInStatement())
        try await Task.sleep(for: .milliseconds(250))
        #expect(announcer.mayNotifyInStatement())
    }
}
