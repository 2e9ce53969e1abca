import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("spool command line")
struct CLITests {
    let directory: TemporaryDirectory
    let store: String

    init() throws {
        directory = try TemporaryDirectory()
        store = "sqlite:" + directory.path("spool.db")
    }

    func spool(_ arguments: String...) async throws -> SpoolProcess.Result {
        try await SpoolProcess.run(arguments + ["--store", store])
    }

    @Test("enqueue prints the id; jobs show and list read it back as JSON")
    func enqueueAndShow() async throws {
        let enqueued = try await spool("enqueue", "spool.echo", "--payload", #"{"a":[1,2]}"#, "--queue", "mail", "--priority", "3",
                                 "--delay", "60", "--tag", "t1", "--tag", "t2", "--unique-key", "k", "--max-attempts", "4", "--timeout", "2.5")
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(JobID(id) != nil)
        let shown = try await spool("jobs", "show", id, "--json")
        let job = try JSONDecoder().decode(Job.self, from: Data(shown.stdout.utf8))
        #expect(job.id.description == id)
        #expect(job.queue == "mail" && job.priority == 3 && job.state == .scheduled)
        #expect(job.tags == ["t1", "t2"] && job.uniqueKey == "k" && job.maxAttempts == 4 && job.timeout == .milliseconds(2500))
        #expect(job.payload.value == .object(["a": .array([.number(1), .number(2)])]))
        let again = try await spool("enqueue", "spool.echo", "--unique-key", "k")
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id, "the unique key returns the same job")
        let listed = try await spool("jobs", "list", "--queue", "mail", "--json")
        #expect(try JSONDecoder().decode([Job].self, from: Data(listed.stdout.utf8)).map(\.id.description) == [id])
    }

    @Test("bad input gets one clear line and a non-zero exit, and nothing is stored")
    func badInput() async throws {
        let unknownQuota = try await spool("enqueue", "x", "--quota", "content catalog")
        #expect(unknownQuota.status == 1)
        #expect(unknownQuota.stderr == "spool: unknown quota 'content catalog'\n")
        for (option, value, words) in [("--delay", "1e300", "--delay must be a number of seconds from 0 to"),
                                       ("--timeout", "1e300", "--timeout must be from 0.001 to"),
                                       ("--at", "1000-01-01T00:00:00Z", "is not an ISO 8601 time whose date, as written, is from 1970-01-01")] {
            let refused = try await spool("enqueue", "x", option, value)
            #expect(refused.status == 1 && refused.stderr.contains(words), "\(option) \(value): \(refused.stderr)")
        }
        let hugeWait = try await spool("call", "x", "--wait", "1e300")
        #expect(hugeWait.status == 1 && hugeWait.stderr.contains("--wait must be a positive number"), "\(hugeWait.stderr)")
        let malformed = try await spool("enqueue", "x", "--payload", "{\"a\":")
        #expect(malformed.status == 1)
        #expect(malformed.stderr.hasPrefix("spool: payload: invalid JSON"))
        let bigFile = directory.path("big.json")
        try ("\"" + String(repeating: "x", count: 1 << 20) + "\"").write(toFile: bigFile, atomically: true, encoding: .utf8)
        let big = try await spool("enqueue", "x", "--payload", "@" + bigFile)
        #expect(big.status == 1)
        #expect(big.stderr.contains("the limit is 1048576"))
        let badID = try await spool("jobs", "show", "nope")
        #expect(badID.status == 1 && badID.stderr.contains("is not a job id"))
        let missing = try await spool("jobs", "show", JobID.make().description)
        #expect(missing.status == 1 && missing.stderr.contains("no job with id"))
        let listed = try await spool("jobs", "list", "--json")
        #expect(try JSONDecoder().decode([Job].self, from: Data(listed.stdout.utf8)).isEmpty)
        let eventsAlone = try await spool("worker", "--journal-events", "started")
        #expect(eventsAlone.status == 1 && eventsAlone.stderr == "spool: --journal-events needs --journal FILE\n")
        let unknownEvent = try await spool("worker", "--journal", directory.path("j.jsonl"), "--journal-events", "started,finish")
        #expect(unknownEvent.status == 1 && unknownEvent.stderr.hasPrefix("spool: unknown journal events finish; known: "))
        for option in ["--grace", "--shutdown-timeout"] {
            let negative = try await spool("worker", option + "=-1")
            #expect(negative.status == 1 && negative.stderr == "spool: \(option) must be a non-negative number of seconds\n", "\(negative.stderr)")
        }
    }

    @Test("a store in a missing directory, a damaged file and a read-only file are refused clearly")
    func badStores() async throws {
        let missing = try await SpoolProcess.run(["jobs", "list", "--store", "sqlite:" + directory.path("absent/spool.db")])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"))
        let garbage = directory.path("garbage.db")
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: garbage))
        let damaged = try await SpoolProcess.run(["jobs", "list", "--store", "sqlite:" + garbage])
        #expect(damaged.status == 1 && damaged.stderr.contains("damaged or not a Spool store"))
        let readOnly = directory.path("ro.db")
        _ = try await SpoolProcess.run(["jobs", "list", "--store", "sqlite:" + readOnly])
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: readOnly)
        let refused = try await SpoolProcess.run(["enqueue", "x", "--store", "sqlite:" + readOnly])
        #expect(refused.status == 1 && refused.stderr.contains("read-only"))
    }

    @Test("status on a store file that does not exist fails the store part and creates nothing; --json prints [] for nothing")
    func statusOnATypo() async throws {
        let typo = directory.path("typo.db")
        let status = try await SpoolProcess.run(["status", "--store", "sqlite:" + typo])
        #expect(status.status == 1)
        #expect(status.stdout.contains("store file \(typo) does not exist"), "\(status.stdout)")
        #expect(!FileManager.default.fileExists(atPath: typo), "no store was created")
        let json = try await SpoolProcess.run(["status", "--store", "sqlite:" + typo, "--json"])
        #expect(json.stdout.contains(#""failing" : ["#) && json.stdout.contains(#""store""#), "\(json.stdout)")
        let empty = try await SpoolProcess.run(["dispatchers", "--store", "sqlite:" + directory.path("empty.db"), "--json"])
        #expect(empty.stdout == "[]\n")
    }

    @Test("quotas and queues are managed from the command line")
    func quotasAndQueues() async throws {
        #expect(try await spool("quotas", "create", "reports", "--size", "2").stdout == "reports size 2, 0 running\n")
        #expect(try await spool("quotas", "resize", "reports", "3").status == 0)
        let listed = try await spool("quotas", "list", "--json")
        #expect(listed.stdout.contains("\"size\" : 3"))
        let duplicate = try await spool("quotas", "create", "reports")
        #expect(duplicate.status == 1 && duplicate.stderr.contains("already exists"))
        #expect(try await spool("quotas", "remove", "reports").status == 0)
        #expect(try await spool("quotas", "remove", "reports").stderr.contains("unknown quota 'reports'"))
        #expect(try await spool("queues", "pause", "mail").stdout == "mail paused\n")
        #expect(try await spool("queues", "list", "--json").stdout.contains("\"paused\" : true"))
        #expect(try await spool("queues", "resume", "mail").stdout == "mail resumed\n")
    }

    @Test("call prints the result of a job a worker ran, and exits 1 with the recorded error of a failed one")
    func callThroughWorker() async throws {
        let worker = try SpoolProcess.start(["worker", "--store", store, "--uuid-file", directory.path("uuid.txt"), "--poll-interval", "0.05"],
                                            log: directory.path("worker.log"))
        defer { worker.terminate() }
        let echoed = try await spool("call", "spool.echo", "--payload", #"{"hello":"world"}"#, "--wait", "30")
        #expect(echoed.status == 0, "\(echoed.stderr)")
        #expect(echoed.stdout == "{\"hello\":\"world\"}\n")
        let failed = try await spool("call", "spool.fail", "--payload", #"{"message":"disk full"}"#, "--max-attempts", "1", "--wait", "30")
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("discarded: Failure: disk full"))
        let failedID = try #require(failed.stderr.split(separator: " ").dropFirst(2).first.map(String.init))
        #expect(try await spool("jobs", "retry", failedID).stdout == "\(failedID) available\n")
        let retried = try await spool("jobs", "wait", failedID, "--timeout", "30", "--json")
        let again = try JSONDecoder().decode(Job.self, from: Data(retried.stdout.utf8))
        #expect(again.state == .discarded && again.attempt == 2 && again.errors.map(\.message) == ["disk full", "disk full"],
                "a retried job runs once more with one more attempt")
        let dispatchers = try await spool("dispatchers", "--json")
        #expect(dispatchers.stdout.contains("\"state\" : \"active\""))
        let cancelled = try await spool("enqueue", "spool.sleep", "--payload", #"{"seconds":60}"#)
        let id = cancelled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var state = ""
        for _ in 0..<300 where state != "running" {
            let shown = try await spool("jobs", "show", id, "--json").stdout
            state = (try? JSONDecoder().decode(Job.self, from: Data(shown.utf8)).state.rawValue) ?? ""
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await spool("jobs", "cancel", id).stdout == "\(id) cancel requested\n")
        let waited = try await spool("jobs", "wait", id, "--timeout", "30", "--json")
        #expect(waited.status == 1, "a cancelled job is not a success")
        #expect(try JSONDecoder().decode(Job.self, from: Data(waited.stdout.utf8)).state == .cancelled)
    }

    @Test("SIGTERM stops a worker gracefully: a running job finishes and the dispatcher is recorded inactive")
    func gracefulSignal() async throws {
        let worker = try SpoolProcess.start(["worker", "--store", store, "--uuid-file", directory.path("uuid.txt"), "--poll-interval", "0.05"],
                                            log: directory.path("worker.log"))
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        let enqueued = try await spool("enqueue", "spool.sleep", "--payload", #"{"seconds":0.5}"#)
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let sqlite = try SQLiteStore(path: directory.path("spool.db"))
        let jobID = try #require(JobID(id))
        for _ in 0..<500 {
            if try await sqlite.job(jobID)?.state == .running { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        worker.terminate()
        await worker.waitForExit()
        #expect(worker.terminationStatus == 0)
        #expect(try await sqlite.job(jobID)?.state == .completed)
        #expect(try await sqlite.dispatchers().first?.state == .inactive)
    }
}
