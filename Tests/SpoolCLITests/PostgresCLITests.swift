import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

@Suite("spool command line on PostgreSQL", .enabled(if: PostgresServer.shouldRun))
struct PostgresCLITests {
    @Test("enqueue and jobs list work through --store postgres://")
    func enqueueAndList() async throws {
        let server = try await PostgresServer.shared()
        let store = server.url(database: try server.createDatabase(), schema: "spool_cli")
        func spool(_ arguments: String...) async throws -> SpoolProcess.Result {
            try await SpoolProcess.run(arguments + ["--store", store])
        }
        let enqueued = try await spool("enqueue", "spool.echo", "--payload", #"{"a":1}"#, "--queue", "mail", "--unique-key", "k")
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(JobID(id) != nil, "prints the job id: \(enqueued.stdout)")
        let again = try await spool("enqueue", "spool.echo", "--unique-key", "k")
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id, "the unique key returns the same job")
        let listed = try await spool("jobs", "list", "--queue", "mail", "--json")
        #expect(listed.status == 0, "\(listed.stderr)")
        let jobs = try JSONDecoder().decode([Job].self, from: Data(listed.stdout.utf8))
        #expect(jobs.map(\.id.description) == [id])
        #expect(jobs.first?.payload.value == .object(["a": .number(1)]))
        let postgresql = try await SpoolProcess.run(["jobs", "list", "--json", "--store", "postgresql" + store.dropFirst("postgres".count)])
        #expect(try JSONDecoder().decode([Job].self, from: Data(postgresql.stdout.utf8)).count == 1, "postgresql:// opens the same store")
    }

    @Test("an unreachable server gets one clear line and a non-zero exit")
    func unreachable() async throws {
        let result = try await SpoolProcess.run(["jobs", "list", "--store", "postgres://postgres@127.0.0.1:1/spool"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("spool: cannot reach PostgreSQL at 127.0.0.1:1"), "\(result.stderr)")
    }

    @Test("a worker and a server never print the store's password")
    func passwordsStayOutOfLogs() async throws {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        try server.psql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spool_logged') THEN CREATE ROLE spool_logged LOGIN PASSWORD 'pw-never-shown'; END IF; END $$")
        try server.psql("ALTER DATABASE \(database) OWNER TO spool_logged")
        let store = "postgres://spool_logged:pw-never-shown@127.0.0.1:\(server.port)/\(database)?schema=spool_logs"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-redaction-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let workerLog = directory.appendingPathComponent("worker.log").path
        let serveLog = directory.appendingPathComponent("serve.log").path
        let worker = try SpoolProcess.start(["worker", "--store", store, "--uuid-file", directory.appendingPathComponent("w.uuid").path], log: workerLog)
        let serve = try SpoolProcess.start(["serve", "--listen", "127.0.0.1:0", "--store", store, "--uuid-file", directory.appendingPathComponent("s.uuid").path], log: serveLog)
        defer { worker.terminate(); serve.terminate() }
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        for _ in 0..<200 where !(text(workerLog).contains("spool worker") && text(serveLog).contains("Spool is serving store")) {
            try await Task.sleep(for: .milliseconds(50))
        }
        for (name, log) in [("worker", text(workerLog)), ("serve", text(serveLog))] {
            #expect(log.contains("postgres://spool_logged:***@127.0.0.1"), "\(name) names the store: \(log)")
            #expect(!log.contains("pw-never-shown"), "\(name) shows the password: \(log)")
        }
        worker.terminate(); serve.terminate()
        await worker.waitForExit()
        await serve.waitForExit()
    }
}
