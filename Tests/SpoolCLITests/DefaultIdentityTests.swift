import Foundation
import SpoolCore
import SpoolPostgres
import SpoolSQLite
import SpoolTestSupport
import Testing

/// Worker processes started as the README starts them, without `--uuid-file`: each must get an
/// identity of its own, keep it across a restart, and never act as another live process.
@Suite("Worker identities with the defaults", .serialized)
struct DefaultIdentityTests {
    /// A store for the test: an SQLite file in `directory`, or a fresh PostgreSQL database.
    private static func store(_ kind: String, in directory: TemporaryDirectory) async throws -> (url: String, store: any JobStore) {
        if kind == "postgres" {
            let server = try await PostgresServer.shared()
            let url = server.url(database: try server.createDatabase(), schema: "spool_identity")
            return (url, try await PostgresStore(url: url))
        }
        let path = directory.path("spool.db")
        return ("sqlite:" + path, try SQLiteStore(path: path))
    }

    private static var kinds: [String] { PostgresServer.shouldRun ? ["sqlite", "postgres"] : ["sqlite"] }

    /// A `spool worker` with the defaults a user gets, started in `directory` (the home of the
    /// UUID files for a PostgreSQL store).
    private static func worker(_ url: String, _ index: Int, in directory: TemporaryDirectory, concurrency: Int = 25,
                               extra: [String] = []) throws -> ChildProcess {
        try SpoolProcess.start(["worker", "--store", url, "--concurrency", "\(concurrency)"] + extra,
                               log: directory.path("worker-\(index).log"), in: directory.url.path)
    }

    /// Waits until `count` dispatchers are active in `store`, and returns them.
    private static func active(_ count: Int, in store: any JobStore) async throws -> [DispatcherInfo] {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let active = try await store.dispatchers().filter { $0.state == .active }
            if active.count >= count { return active }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ConformanceFailure("\(count) dispatchers did not register within 60 s: \(try await store.dispatchers())")
    }

    @Test("two and three default workers on one store run 100 jobs of 1 s each exactly once, at attempt 1, each listed once with its pid",
          arguments: [2, 3])
    func separateIdentities(workers count: Int) async throws {
        for kind in Self.kinds {
            let directory = try TemporaryDirectory()
            let (url, store) = try await Self.store(kind, in: directory)
            let workers = try (0..<count).map { try Self.worker(url, $0, in: directory) }
            defer { for process in workers where process.isRunning { process.signal(SIGKILL) } }
            let listed = try await Self.active(count, in: store)
            let ids = (0..<100).map { _ in NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: #"{"seconds":1}"#)) }
            let inserted = try await store.insert(ids, now: Date()).map(\.job.id)

            let deadline = Date().addingTimeInterval(120)
            var jobs: [Job] = []
            while Date() < deadline {
                jobs = try await store.jobs(JobQuery(limit: 200)).jobs.filter { inserted.contains($0.id) }
                if jobs.allSatisfy(\.state.isTerminal) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(jobs.count == 100, "\(kind)")
            #expect(jobs.allSatisfy { $0.state == .completed && $0.attempt == 1 && $0.errors.isEmpty },
                    "\(kind): \(jobs.filter { $0.state != .completed || $0.attempt != 1 }.prefix(3))")

            let table = try await SpoolProcess.run(["dispatchers", "--store", url, "--json"])
            let documents = try JSONDecoder().decode([DispatcherDocument].self, from: Data(table.stdout.utf8))
            #expect(documents.map(\.pid).sorted() == workers.map { Int($0.processIdentifier) }.sorted(),
                    "\(kind): each process listed once, with its own pid")
            #expect(Set(listed.map(\.id)).count == count, "\(kind): distinct identities")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { $0.hasPrefix("uuid") }.sorted()
            #expect(files == (["uuid.txt"] + (2...count).map { "uuid-\($0).txt" }).sorted(), "\(kind): one slot per process")
            for process in workers {
                process.terminate()
                await process.waitForExit()
            }
        }
    }

    @Test("a default worker killed with SIGKILL and restarted takes its own identity back and rescues its jobs at once")
    func restartTakesItsSlotBack() async throws {
        for kind in Self.kinds {
            let directory = try TemporaryDirectory()
            let (url, store) = try await Self.store(kind, in: directory)
            // Dead-after is long: only the restart itself can rescue within the test's wait. Each
            // worker runs 5 of the 10 jobs.
            let slow = ["--dead-after", "120", "--grace", "0"]
            let first = try Self.worker(url, 0, in: directory, concurrency: 5, extra: slow)
            _ = try await Self.active(1, in: store)
            let second = try Self.worker(url, 1, in: directory, concurrency: 5, extra: slow)
            defer { for process in [first, second] where process.isRunning { process.signal(SIGKILL) } }
            let before = try await Self.active(2, in: store)
            let victim = try #require(before.first { $0.pid == Int(second.processIdentifier) })
            _ = try await store.insert((0..<10).map { _ in NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: #"{"seconds":30}"#)) },
                                       now: Date())
            let deadline = Date().addingTimeInterval(60)
            while try await store.jobs(JobQuery(state: .running, limit: 50)).jobs.count < 10, Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let held = try await store.jobs(JobQuery(state: .running, limit: 50)).jobs.filter { $0.dispatcher == victim.id }.map(\.id)
            #expect(!held.isEmpty, "\(kind): the second worker holds jobs")
            second.signal(SIGKILL)
            await second.waitForExit()

            let restarted = try Self.worker(url, 2, in: directory, concurrency: 5, extra: slow)
            defer { if restarted.isRunning { restarted.signal(SIGKILL) } }
            var again: Job?
            while Date() < deadline {
                let pids = try await store.dispatchers().filter { $0.id == victim.id }.map(\.pid)
                if pids == [Int(restarted.processIdentifier)], let first = held.first, let job = try await store.job(first), !job.errors.isEmpty {
                    again = job
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let rescued = try #require(again, "\(kind): the restarted worker took the killed one's id and rescued its jobs")
            #expect(rescued.errors.first?.message.contains("restarted after an unclean shutdown") == true, "\(kind): \(rescued.errors)")
            for id in held {
                #expect(try await store.job(id)?.errors.map(\.type) == ["rescued"], "\(kind): rescued once, by the restart")
            }
            for process in [first, restarted] {
                process.terminate()
                await process.waitForExit()
            }
        }
    }

    @Test("a second worker given the same --uuid-file refuses to start and names the way out")
    func sameFileRefused() async throws {
        let directory = try TemporaryDirectory()
        let url = "sqlite:" + directory.path("spool.db")
        let file = directory.path("shared.uuid")
        let first = try SpoolProcess.start(["worker", "--store", url, "--uuid-file", file], log: directory.path("first.log"))
        defer { if first.isRunning { first.signal(SIGKILL) } }
        _ = try await Self.active(1, in: try SQLiteStore(path: directory.path("spool.db")))
        let second = try await SpoolProcess.run(["worker", "--store", url, "--uuid-file", file])
        #expect(second.status == 1)
        #expect(second.stderr.contains("\(file) is held by another running process"), "\(second.stderr)")
        #expect(second.stderr.contains("--uuid-file"), "\(second.stderr)")
        #expect(first.isRunning, "the first worker runs on")
        first.terminate()
        await first.waitForExit()
    }

    @Test("two processes with copies of one UUID file (a cloned machine image): the store refuses the second instead of rescuing")
    func clonedIdentityRefusedByTheStore() async throws {
        for kind in Self.kinds {
            let directory = try TemporaryDirectory()
            let (url, store) = try await Self.store(kind, in: directory)
            let uuid = UUID().uuidString.lowercased() + "\n"
            for name in ["a.uuid", "b.uuid"] { try uuid.write(toFile: directory.path(name), atomically: true, encoding: .utf8) }
            let first = try SpoolProcess.start(["worker", "--store", url, "--uuid-file", directory.path("a.uuid"), "--grace", "0"],
                                               log: directory.path("first.log"))
            defer { if first.isRunning { first.signal(SIGKILL) } }
            _ = try await Self.active(1, in: store)
            let job = try await store.insert([NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: #"{"seconds":30}"#))], now: Date())[0].job
            let deadline = Date().addingTimeInterval(30)
            while try await store.job(job.id)?.state != .running, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }

            let second = try await SpoolProcess.run(["worker", "--store", url, "--uuid-file", directory.path("b.uuid")])
            #expect(second.status == 1, "\(kind)")
            #expect(second.stderr.contains("is in use by process \(first.processIdentifier)"), "\(kind): \(second.stderr)")
            #expect(second.stderr.contains("--uuid-file"), "\(kind): \(second.stderr)")
            let running = try #require(try await store.job(job.id))
            #expect(running.state == .running && running.errors.isEmpty, "\(kind): the first process's job was not rescued")
            #expect(try await store.dispatchers().map(\.pid) == [Int(first.processIdentifier)], "\(kind)")
            first.terminate()
            await first.waitForExit()
        }
    }
}
