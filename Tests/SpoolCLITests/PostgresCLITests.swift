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

    /// The worker's options beyond the store, and the shutdown timeout its last line names: the
    /// README's command with the defaults (grace 25 s, 5 s for the store, the identity file in
    /// the working directory), and short ones.
    static let shutdownSettings: [(options: [String], named: String)] = [
        ([], "5.0 seconds"),
        (["--uuid-file", "w.uuid", "--grace", "1", "--shutdown-timeout", "2"], "2.0 seconds"),
    ]

    @Test("a worker whose PostgreSQL stops answering still ends on SIGTERM, saying the store did not answer",
          .timeLimit(.minutes(2)), arguments: shutdownSettings)
    func storeStopsAnswering(options: [String], named: String) async throws {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let proxy = try TCPProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        let store = "postgres://postgres@127.0.0.1:\(proxy.port)/\(database)"
        let directory = try TemporaryDirectory()
        let log = directory.path("worker.log")
        let enqueued = try await SpoolProcess.run(["enqueue", "spool.sleep", "--payload", #"{"seconds":600}"#, "--store", store])
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let worker = try SpoolProcess.start(["worker", "--store", store] + options, log: log, in: directory.path("."))
        defer { worker.terminate() }
        func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func running() throws -> String {
            try server.psql("SELECT count(*) FROM spool_jobs WHERE state = 'running'", database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for _ in 0..<400 where try running() != "1" { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try running() == "1", "the worker took the job: \(text())")
        proxy.stall()
        defer { proxy.resume() }
        worker.terminate()
        // Every store call of its shutdown now waits forever; only giving up on them ends it
        // (with the defaults the README says about 30 s).
        let status = await worker.waitForExit(within: .seconds(60))
        #expect(status == 1, "the worker ended, and not cleanly: \(text())")
        #expect(text().contains("the store did not answer the shutdown within \(named)"), "\(text())")
        #expect(try running() == "1", "nothing reached the store: the job stays the worker's until its lease ends")
    }

    @Test("spool bench w1 on PostgreSQL runs its producer with the store's affinity, or without it under --no-affinity; every job is stored once")
    func benchAffinity() async throws {
        let server = try await PostgresServer.shared()
        let store = server.url(database: try server.createDatabase(), schema: "spool_bench_affinity")
        struct Report: Decodable {
            struct Result: Decodable { var workload: String; var jobs: Int; var lost: Int; var duplicated: Int }
            struct Settings: Decodable { var affinity: Bool }
            var results: [Result]
            var settings: Settings
        }
        for (flags, affine) in [([String](), true), (["--no-affinity"], false)] {
            let run = try await SpoolProcess.run(["bench", "w1", "--jobs", "60", "--store", store, "--json"] + flags)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("w1 single (1 producer, with the store's affinity)") == affine, "\(run.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
            #expect(report.settings.affinity == affine)
            #expect(report.results.map(\.workload) == ["w1-single", "w1-bulk"])
            #expect(report.results.allSatisfy { $0.jobs == 60 && $0.lost == 0 && $0.duplicated == 0 })
        }
    }
}

extension PostgresCLITests {
    /// The README's SQL block of roles (Deploying), with role names of this test.
    static func readmeRoles(owner: String, app: String) throws -> String {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md").path
        let lines = try String(contentsOfFile: readme, encoding: .utf8).components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "```sql" }),
              let end = lines[(start + 1)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "```" }) else {
            throw ServerError("README.md has no sql block")
        }
        return lines[(start + 1)..<end].joined(separator: "\n")
            .replacingOccurrences(of: "spool_owner", with: owner).replacingOccurrences(of: "spool_app", with: app)
    }

    @Test("the README's least-privilege roles: the owner's first open creates the tables; the app role, which may only read and write them, runs a worker, an enqueue and a call; a store it may not migrate is refused saying so")
    func leastPrivilegeRoles() async throws {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let suffix = UInt32.random(in: 0...UInt32.max)
        let (owner, app) = ("spool_owner_\(suffix)", "spool_app_\(suffix)")
        _ = try server.psql(try Self.readmeRoles(owner: owner, app: app), database: database)
        func url(_ user: String, _ password: String, schema: String = "spool") -> String {
            "postgres://\(user):\(password)@127.0.0.1:\(server.port)/\(database)?schema=\(schema)"
        }
        let ownerStore = url(owner, "CHANGE-ME-OWNER"), appStore = url(app, "CHANGE-ME-APP")

        let refused = try await SpoolProcess.run(["queues", "list", "--store", appStore])
        #expect(refused.status != 0 && refused.stderr.contains("needs its schema created") && refused.stderr.contains("open it once as the schema's owner"),
                "\(refused.stderr)")
        let created = try await SpoolProcess.run(["queues", "list", "--store", ownerStore])
        #expect(created.status == 0, "the owner's open migrates: \(created.stderr)")

        let directory = try TemporaryDirectory()
        let worker = try SpoolProcess.start(["worker", "--store", appStore], log: directory.path("worker.log"))
        defer { worker.terminate() }
        let enqueued = try await SpoolProcess.run(["enqueue", "spool.noop", "--queue", "app", "--store", appStore])
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let called = try await SpoolProcess.run(["call", "spool.echo", "--payload", #"{"by":"app"}"#, "--wait", "60", "--store", appStore])
        #expect(called.status == 0 && called.stdout.contains(#""by":"app""#), "\(called.stdout) \(called.stderr) \((try? String(contentsOfFile: directory.path("worker.log"), encoding: .utf8)) ?? "")")
        let queues = try await SpoolProcess.run(["queues", "list", "--json", "--store", appStore])
        #expect(queues.status == 0 && queues.stdout.contains(#""app""#), "\(queues.stdout) \(queues.stderr)")
        let pruned = try await SpoolProcess.run(["jobs", "prune", "--older-than", "1m", "--store", appStore])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        worker.terminate()
        #expect(await worker.waitForExit() == 0, "the worker ran as the app role: \((try? String(contentsOfFile: directory.path("worker.log"), encoding: .utf8)) ?? "")")
    }
}
