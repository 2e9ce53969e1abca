import Foundation
import SpoolCore
import SpoolReplicationSQLite
import SpoolSQLite
import SpoolTestSupport
import Testing

/// `spool replicate` and `spool secondary` as separate processes on loopback, with other
/// processes writing the primary's store. One test at a time: together they load two cores enough to
/// slow the rest of the suite past its deadlines.
@Suite("spool replicate and spool secondary", .serialized, .timeLimit(.minutes(3)))
struct ReplicationCommandTests {
    /// Waits for `text` in the file at `log` and returns what follows it up to the line's end.
    static func line(after text: String, in log: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let content = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = content.range(of: text) { return String(content[range.upperBound...].prefix { $0 != "\n" }) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ConformanceFailure("'\(text)' never appeared in \(log): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Starts `spool replicate` on `store`, logging to `log`; returns it and where it listens.
    static func primary(_ store: String, log: String, listen: String = "127.0.0.1:0") async throws -> (ChildProcess, String) {
        let process = try SpoolProcess.start(["replicate", "--store", "sqlite:" + store, "--listen", listen], log: log)
        return (process, try await line(after: "secondaries connect to ", in: log))
    }

    /// Starts `spool secondary` of the primary at `address` into `store`, logging to `log`.
    static func secondary(_ store: String, of address: String, log: String, arguments: [String] = []) throws -> ChildProcess {
        try SpoolProcess.start(["secondary", "--primary", address, "--store", "sqlite:" + store] + arguments, log: log)
    }

    /// Waits until `secondary` has the same content as `primary`, as SQLite reads them.
    static func converge(_ secondary: String, _ primary: String, logs: [String] = []) async throws {
        let expected = try await SQLiteScripts.content(primary)
        let deadline = ContinuousClock.now + .seconds(60)
        var seen = ""
        while ContinuousClock.now < deadline {
            seen = try await SQLiteScripts.content(secondary)
            if seen == expected { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        let told = logs.map { "\($0):\n" + ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "") }.joined(separator: "\n")
        Issue.record("the secondary never matched the primary: \(seen) against \(expected)\n\(told)")
    }

    @Test("writers on the primary's store, a secondary killed with SIGKILL mid-stream and restarted: it ends equal to the primary")
    func followsThroughAKill() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let writers = try [SQLiteScripts.writer(primaryPath, name: "a", count: 300, pause: 0.002),
                           SQLiteScripts.writer(primaryPath, name: "b", count: 300, pause: 0.002)]
        var secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary-1.log"))
        _ = try await Self.line(after: "snapshot in place", in: directory.path("secondary-1.log"))
        try await Task.sleep(for: .milliseconds(300))   // transactions stream meanwhile
        secondary.signal(SIGKILL)
        _ = await secondary.waitForExit()
        secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary-2.log"))
        defer { secondary.terminate() }
        let resumed = try await Self.line(after: "at transaction ", in: directory.path("secondary-2.log"))
        #expect((Int(resumed.prefix { $0.isNumber }) ?? 0) > 0, "the restarted secondary resumed from what it had applied: \(resumed)")
        for writer in writers { _ = await writer.waitForExit() }
        #expect(writers.allSatisfy { $0.terminationStatus == 0 })
        try await Self.converge(secondaryPath, primaryPath)
    }

    @Test("spool secondary refuses a batch interval out of range, naming the option")
    func badBatchInterval() async throws {
        let directory = try TemporaryDirectory()
        for value in ["-1", "10001"] {
            let result = try await SpoolProcess.run(["secondary", "--primary", "127.0.0.1:1", "--store", "sqlite:" + directory.path("copy.db"), "--batch-ms=" + value])
            #expect(result.status != 0 && result.stderr.contains("--batch-ms must be from 0 to 10000"), "\(result.stderr)")
        }
    }

    @Test("a secondary whose position is not the primary's history is refused with the reason and never changes its copy")
    func foreignPositionIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let writer = try SQLiteScripts.writer(primaryPath, name: "a", count: 20)
        _ = await writer.waitForExit()
        // A copy of term 1 that claims transaction 3 with a checksum of its own.
        let magic = Array("spool-replication-position-2\n".utf8)
        let position = magic + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 3] + Array(repeating: 0xAB, count: 32)
        try Data(position).write(to: URL(fileURLWithPath: secondaryPath + "-replication"))
        let secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        _ = try await Self.line(after: "is not in this primary's history", in: directory.path("secondary.log"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: secondaryPath)).isEmpty, "nothing was applied")
    }

    @Test("a store written before the primary started: the secondary gets it whole (the primary's snapshot), then what follows")
    func existingStore() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        let before = try SQLiteScripts.writer(primaryPath, name: "before", count: 200)
        _ = await before.waitForExit()
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        let after = try SQLiteScripts.writer(primaryPath, name: "after", count: 100)
        _ = await after.waitForExit()
        try await Self.converge(secondaryPath, primaryPath)
        #expect(try await SQLiteScripts.content(secondaryPath).contains("ok\n"), "the copy passes integrity_check")
        let header = Array(try Data(contentsOf: URL(fileURLWithPath: secondaryPath)).prefix(20))
        #expect(header[18] == 1 && header[19] == 1, "the copy is read in rollback mode: its readers never make a log of their own")
        #expect(!FileManager.default.fileExists(atPath: secondaryPath + "-wal"))
    }

    @Test("the primary stopped and started again goes on with its history: the secondary follows, with what was written meanwhile")
    func primaryRestart() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        var (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary-1.log"))
        let secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        _ = try await SQLiteScripts.writer(primaryPath, name: "first", count: 100).waitForExit()
        try await Self.converge(secondaryPath, primaryPath)
        // Both positions equal and still (the status each side writes every second): the
        // secondary has everything the primary captured.
        var same = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while same < 2, ContinuousClock.now < deadline {
            let mine = StatusFile.read(of: secondaryPath)?.transaction
            same = mine != nil && mine == StatusFile.read(of: primaryPath)?.transaction ? same + 1 : 0
            try await Task.sleep(for: .milliseconds(1500))
        }
        #expect(same == 2, "the secondary caught up with the primary")
        primary.terminate()
        _ = await primary.waitForExit()
        _ = try await SQLiteScripts.writer(primaryPath, name: "meanwhile", count: 50).waitForExit()
        (primary, _) = try await Self.primary(primaryPath, log: directory.path("primary-2.log"), listen: address)
        defer { primary.terminate() }
        try await Self.converge(secondaryPath, primaryPath)
    }

    /// The port of `address` (`HOST:PORT`).
    static func port(_ address: String) -> Int { Int(address.split(separator: ":").last ?? "") ?? 0 }

    @Test("a secondary behind what the primary retains gets a snapshot, then the stream, and ends equal")
    func behindTheRetainedLog() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        let process = try SpoolProcess.start(["replicate", "--store", "sqlite:" + primaryPath, "--listen", "127.0.0.1:0",
                                              "--retain-bytes", "200000"], log: directory.path("primary.log"))
        defer { process.terminate() }
        let address = try await Self.line(after: "secondaries connect to ", in: directory.path("primary.log"))
        var secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary-1.log"))
        _ = try await SQLiteScripts.writer(primaryPath, name: "first", count: 50).waitForExit()
        try await Self.converge(secondaryPath, primaryPath)
        secondary.signal(SIGKILL)
        _ = await secondary.waitForExit()
        // About 750 KB of pages: far more than the primary keeps.
        _ = try await SQLiteScripts.writer(primaryPath, name: "meanwhile", count: 300).waitForExit()
        secondary = try Self.secondary(secondaryPath, of: address, log: directory.path("secondary-2.log"))
        defer { secondary.terminate() }
        try await Self.converge(secondaryPath, primaryPath, logs: [directory.path("secondary-2.log")])
        let log = try String(contentsOfFile: directory.path("secondary-2.log"), encoding: .utf8)
        #expect(log.contains("receiving a snapshot") && log.contains("snapshot in place"), "\(log)")
    }

    @Test("through a proxy that flips one byte of a snapshot, then one of a transaction: the secondary refuses each, reconnects and ends equal")
    func flippedBytes() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        _ = try await SQLiteScripts.writer(primaryPath, name: "before", count: 100).waitForExit()
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let proxy = try TCPProxy(upstreamPort: Self.port(address))
        defer { proxy.stop() }
        proxy.arm(.flip, afterBytes: 20_000)   // inside the snapshot's pages
        let log = directory.path("secondary.log")
        let secondary = try Self.secondary(secondaryPath, of: "127.0.0.1:\(proxy.port)", log: log)
        defer { secondary.terminate() }
        _ = try await Self.line(after: "does not match its digest", in: log)
        try await Self.converge(secondaryPath, primaryPath, logs: [log])
        proxy.arm(.flip, afterBytes: 3_000)   // inside a transaction's pages
        proxy.cut()
        proxy.restore()
        _ = try await SQLiteScripts.writer(primaryPath, name: "after", count: 100).waitForExit()
        _ = try await Self.line(after: "does not match this secondary's history", in: log)
        try await Self.converge(secondaryPath, primaryPath, logs: [log])
        #expect(proxy.faultsDone == 2)
        #expect(try await SQLiteScripts.content(secondaryPath).hasPrefix("ok\n"))
    }

    @Test("through a proxy that cuts the connection in the middle of a transaction: the secondary discards the part, resumes and ends equal")
    func cutMidTransaction() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let proxy = try TCPProxy(upstreamPort: Self.port(address))
        defer { proxy.stop() }
        let log = directory.path("secondary.log")
        let secondary = try Self.secondary(secondaryPath, of: "127.0.0.1:\(proxy.port)", log: log)
        defer { secondary.terminate() }
        _ = try await SQLiteScripts.writer(primaryPath, name: "first", count: 20).waitForExit()
        try await Self.converge(secondaryPath, primaryPath, logs: [log])
        for offset in [2_500, 7_000, 12_000] {
            proxy.arm(.cut, afterBytes: offset)
            proxy.cut()
            proxy.restore()
            _ = try await SQLiteScripts.writer(primaryPath, name: "cut-\(offset)", count: 60).waitForExit()
            try await Self.converge(secondaryPath, primaryPath, logs: [log])
        }
        #expect(proxy.faultsDone == 3, "each connection was cut where asked")
    }

    @Test("a process reading the copy while transactions and a snapshot are applied always sees a whole store: integrity and the writers' own tallies hold")
    func readsDuringTheStream() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db"), secondaryPath = directory.path("secondary.db")
        _ = try await SQLiteScripts.writer(primaryPath, name: "before", count: 100).waitForExit()
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let log = directory.path("secondary.log")
        var secondary = try Self.secondary(secondaryPath, of: address, log: log)
        _ = try await Self.line(after: "snapshot in place", in: log)
        let output = directory.path("reader.log")
        let reader = try SQLiteScripts.reader(secondaryPath, seconds: 6, output: output)
        let writers = try [SQLiteScripts.writer(primaryPath, name: "a", count: 500),
                           SQLiteScripts.writer(primaryPath, name: "b", count: 500)]
        try await Task.sleep(for: .seconds(2))
        // A new snapshot over the copy while the reader reads: the secondary, restarted with its
        // position removed, is behind what the primary has.
        secondary.signal(SIGKILL)
        _ = await secondary.waitForExit()
        try FileManager.default.removeItem(atPath: secondaryPath + "-replication")
        secondary = try Self.secondary(secondaryPath, of: address, log: log)
        defer { secondary.terminate() }
        for writer in writers { _ = await writer.waitForExit() }
        let status = await reader.waitForExit()
        let said = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(said)")
        #expect((Int(said.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0) > 20, "the reader kept reading: \(said)")
        try await Self.converge(secondaryPath, primaryPath, logs: [log])
    }

    @Test("a Spool store's copy reads like the store: jobs list and show, and spool serve's GET; writes are refused naming the primary, and no worker runs")
    func readsOnTheSecondary() async throws {
        let directory = try TemporaryDirectory()
        let primaryStore = "sqlite:" + directory.path("primary.db"), copyStore = "sqlite:" + directory.path("copy.db")
        let first = try await SpoolProcess.run(["enqueue", "spool.echo", "--payload", #"{"n":1}"#, "--queue", "mail", "--store", primaryStore])
        #expect(first.status == 0, "\(first.stderr)")
        let (primary, address) = try await Self.primary(directory.path("primary.db"), log: directory.path("primary.log"))
        defer { primary.terminate() }
        let secondary = try Self.secondary(directory.path("copy.db"), of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        let second = try await SpoolProcess.run(["enqueue", "spool.echo", "--payload", #"{"n":2}"#, "--queue", "mail", "--store", primaryStore])
        let secondID = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var listed = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !listed.contains(secondID) {
            listed = try await SpoolProcess.run(["jobs", "list", "--queue", "mail", "--json", "--store", copyStore]).stdout
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(listed.contains(secondID) && listed.contains(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(listed)")
        let shown = try await SpoolProcess.run(["jobs", "show", secondID, "--store", copyStore])
        #expect(shown.status == 0 && shown.stdout.contains("spool.echo"), "\(shown.stderr)")
        let refused = try await SpoolProcess.run(["enqueue", "spool.echo", "--store", copyStore])
        #expect(refused.status == 1 && refused.stderr.contains("following the primary at \(address)"), "\(refused.stderr)")
        let serveLog = directory.path("serve.log")
        let serve = try SpoolProcess.start(["serve", "--listen", "127.0.0.1:0", "--store", copyStore], log: serveLog)
        defer { serve.terminate() }
        let port = Int(try await Self.line(after: "Dashboard: http://127.0.0.1:", in: serveLog).prefix { $0.isNumber }) ?? 0
        let jobs = try await HTTPTestClient.request(port: port, "GET", "/v1/jobs?queue=mail")
        #expect(jobs.status == 200 && jobs.text.contains(secondID), "\(jobs.text)")
        let posted = try await HTTPTestClient.request(port: port, "POST", "/v1/jobs", body: #"{"name":"spool.echo"}"#)
        #expect(posted.status == 503 && posted.text.contains("following the primary at \(address)"), "\(posted.status) \(posted.text)")
        let said = try String(contentsOfFile: serveLog, encoding: .utf8)
        #expect(said.contains("read-only copy") && !said.contains("dispatcher registered"), "\(said)")
    }

    /// Waits until `spool jobs list` on `store` shows `id`.
    static func waitForJob(_ id: String, in store: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var listed = ""
        while ContinuousClock.now < deadline {
            listed = try await SpoolProcess.run(["jobs", "list", "--json", "--store", store]).stdout
            if listed.contains(id) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("job \(id) never appeared in \(store): \(listed)")
    }

    @Test("spool promote: the copy takes writes at the next term; another secondary follows it after a snapshot; the old primary, greeted by that secondary, refuses writes from then on")
    func promotion() async throws {
        let directory = try TemporaryDirectory()
        let (oldPath, newPath, otherPath) = (directory.path("old.db"), directory.path("new.db"), directory.path("other.db"))
        func enqueue(_ path: String) async throws -> SpoolProcess.Result {
            try await SpoolProcess.run(["enqueue", "spool.echo", "--store", "sqlite:" + path])
        }
        let first = try await enqueue(oldPath).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var (primary, address) = try await Self.primary(oldPath, log: directory.path("old-1.log"))
        defer { primary.terminate() }
        let secondary = try Self.secondary(newPath, of: address, log: directory.path("new.log"))
        var other = try Self.secondary(otherPath, of: address, log: directory.path("other-1.log"))
        defer { other.terminate() }
        let second = try await enqueue(oldPath).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await Self.waitForJob(second, in: "sqlite:" + newPath)
        try await Self.waitForJob(second, in: "sqlite:" + otherPath)

        let early = try await SpoolProcess.run(["promote", "--store", "sqlite:" + newPath])
        #expect(early.status == 1 && early.stderr.contains("another spool secondary keeps"), "\(early.stderr)")
        primary.signal(SIGKILL)
        _ = await primary.waitForExit()
        secondary.terminate()
        _ = await secondary.waitForExit()
        let promoted = try await SpoolProcess.run(["promote", "--store", "sqlite:" + newPath])
        #expect(promoted.status == 0 && promoted.stdout.contains("at term 2"), "\(promoted.stdout) \(promoted.stderr)")
        let third = try await enqueue(newPath)
        #expect(third.status == 0, "the promoted store takes writes: \(third.stderr)")
        let thirdID = third.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try await SpoolProcess.run(["jobs", "list", "--json", "--store", "sqlite:" + newPath]).stdout
        #expect([first, second, thirdID].allSatisfy(listed.contains), "\(listed)")

        // The other secondary moves to the new primary: its term is older, so a snapshot first.
        let (newPrimary, newAddress) = try await Self.primary(newPath, log: directory.path("new-primary.log"))
        defer { newPrimary.terminate() }
        other.terminate()
        _ = await other.waitForExit()
        other = try Self.secondary(otherPath, of: newAddress, log: directory.path("other-2.log"))
        try await Self.waitForJob(thirdID, in: "sqlite:" + otherPath)
        #expect(try String(contentsOfFile: directory.path("other-2.log"), encoding: .utf8).contains("term=2"))

        // The old primary comes back and takes a write, until a secondary of term 2 greets it.
        (primary, address) = try await Self.primary(oldPath, log: directory.path("old-2.log"))
        #expect(try await enqueue(oldPath).status == 0, "nothing has told it yet")
        other.terminate()
        _ = await other.waitForExit()
        other = try Self.secondary(otherPath, of: address, log: directory.path("other-3.log"))
        _ = try await Self.line(after: "was superseded", in: directory.path("other-3.log"))
        let fenced = try await enqueue(oldPath)
        #expect(fenced.status == 1 && fenced.stderr.contains("refuses writes") && fenced.stderr.contains("term 2"), "\(fenced.stderr)")
        let copy = try await SpoolProcess.run(["jobs", "list", "--json", "--store", "sqlite:" + otherPath]).stdout
        #expect(copy.contains(thirdID), "the other secondary's copy is untouched by the old primary")
    }

    /// The `replication` part of `spool status --json` on `store` (`nil` when there is none).
    static func replicationPart(_ store: String) async throws -> (ok: Bool, detail: String)? {
        struct Report: Decodable { struct Part: Decodable { var name: String; var ok: Bool; var detail: String }; var parts: [Part] }
        let output = try await SpoolProcess.run(["status", "--json", "--probe-timeout", "1", "--store", store]).stdout
        let report = try JSONDecoder().decode(Report.self, from: Data(output.utf8))
        return report.parts.first { $0.name == "replication" }.map { ($0.ok, $0.detail) }
    }

    /// Waits until the `replication` part of `store` satisfies `condition`, and returns it.
    static func waitForReplicationPart(_ store: String, _ condition: @escaping ((ok: Bool, detail: String)) -> Bool) async throws -> (ok: Bool, detail: String) {
        let deadline = ContinuousClock.now + .seconds(30)
        var last: (ok: Bool, detail: String)?
        while ContinuousClock.now < deadline {
            last = try await replicationPart(store)
            if let last, condition(last) { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ConformanceFailure("the replication part of \(store) never matched: \(String(describing: last))")
    }

    @Test("lag in spool status and /metrics on both sides: up to date while streaming; a secondary whose primary is gone fails the replication part")
    func lagReported() async throws {
        let directory = try TemporaryDirectory()
        let primaryStore = "sqlite:" + directory.path("primary.db"), copyStore = "sqlite:" + directory.path("copy.db")
        _ = try await SpoolProcess.run(["enqueue", "spool.echo", "--store", primaryStore])
        let (primary, address) = try await Self.primary(directory.path("primary.db"), log: directory.path("primary.log"))
        defer { primary.terminate() }
        let secondary = try Self.secondary(directory.path("copy.db"), of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        let id = try await SpoolProcess.run(["enqueue", "spool.echo", "--store", primaryStore]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await Self.waitForJob(id, in: copyStore)
        let copy = try await Self.waitForReplicationPart(copyStore) { $0.ok && $0.detail.contains("up to date") }
        #expect(copy.ok && copy.detail.contains("secondary of \(address) at term 1"), "\(copy.detail)")
        let original = try await Self.waitForReplicationPart(primaryStore) { $0.detail.contains("1 secondary:") && $0.detail.contains("up to date") }
        #expect(original.ok && original.detail.contains("primary at term 1") && original.detail.contains("up to date"), "\(original.detail)")

        let serveLog = directory.path("serve.log")
        let serve = try SpoolProcess.start(["serve", "--listen", "127.0.0.1:0", "--store", copyStore], log: serveLog)
        defer { serve.terminate() }
        let port = Int(try await Self.line(after: "Dashboard: http://127.0.0.1:", in: serveLog).prefix { $0.isNumber }) ?? 0
        // The status probes above wrote to the primary: the copy is up to date once it has applied them.
        var metrics = ""
        let settled = ContinuousClock.now + .seconds(30)
        repeat {
            metrics = try await HTTPTestClient.request(port: port, "GET", "/metrics").text
            if metrics.contains("spool_replication_lag_transactions{role=\"secondary\",primary=\"\(address)\"} 0") { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < settled
        #expect(metrics.contains("spool_replication_lag_transactions{role=\"secondary\",primary=\"\(address)\"} 0"), "\(metrics.suffix(800))")
        #expect(metrics.contains("spool_replication_lag_seconds{role=\"secondary\",primary=\"\(address)\"} 0"))
        let status = try await HTTPTestClient.request(port: port, "GET", "/status")
        #expect(status.text.contains("\"replication\"") && status.text.contains("not run: this store is a read-only copy"), "\(status.text)")
        let stats = try await HTTPTestClient.request(port: port, "GET", "/v1/stats").text
        #expect(stats.contains(#""role":"secondary""#) && stats.contains(#""connected":true"#), "\(stats)")
        let primaryServeLog = directory.path("primary-serve.log")
        let primaryServe = try SpoolProcess.start(["serve", "--no-worker", "--listen", "127.0.0.1:0", "--store", primaryStore], log: primaryServeLog)
        defer { primaryServe.terminate() }
        let primaryPort = Int(try await Self.line(after: "Dashboard: http://127.0.0.1:", in: primaryServeLog).prefix { $0.isNumber }) ?? 0
        let primaryMetrics = try await HTTPTestClient.request(port: primaryPort, "GET", "/metrics").text
        #expect(primaryMetrics.contains(#"spool_replication_lag_transactions{role="primary",secondary="127.0.0.1:"#), "\(primaryMetrics.suffix(800))")
        let primaryStats = try await HTTPTestClient.request(port: primaryPort, "GET", "/v1/stats").text
        #expect(primaryStats.contains(#""role":"primary""#) && primaryStats.contains(#""secondaries":[{"#), "\(primaryStats)")
        let browser: HeadlessChromium? = HeadlessChromium.shouldRun ? try await HeadlessChromium.start() : nil
        defer { browser?.close() }
        if let browser {
            try await browser.navigate("http://127.0.0.1:\(primaryPort)/")
            try await browser.waitUntil("document.querySelector('#replication [data-secondary]')?.textContent.includes('up to date') ?? false",
                                        "the primary's dashboard lists its secondary, up to date")
        }
        let panel = "document.querySelector('#replication [data-primary=\"\(address)\"]')?.textContent ?? ''"
        if let browser {
            try await browser.navigate("http://127.0.0.1:\(port)/")
            try await browser.waitUntil("(\(panel)).includes('up to date')", "the dashboard's replication panel shows the copy up to date")
        }

        primary.signal(SIGKILL)
        let gone = try await Self.waitForReplicationPart(copyStore) { !$0.ok }
        #expect(gone.detail.contains("not connected to its primary"), "\(gone.detail)")
        if let browser {
            try await browser.waitUntil("(\(panel)).includes('not connected')", "the panel says the copy lost its primary, without a reload")
        }
    }

    @Test("spool serve --replicate: jobs enqueued over HTTP and run by the server's worker reach a secondary, states and results included")
    func serveReplicates() async throws {
        let directory = try TemporaryDirectory()
        let store = "sqlite:" + directory.path("served.db"), copyStore = "sqlite:" + directory.path("copy.db")
        let log = directory.path("serve.log")
        let serve = try SpoolProcess.start(["serve", "--listen", "127.0.0.1:0", "--replicate", "127.0.0.1:0", "--store", store], log: log)
        defer { serve.terminate() }
        let address = try await Self.line(after: "Replication: secondaries connect to ", in: log)
        let port = Int(try await Self.line(after: "Dashboard: http://127.0.0.1:", in: log).prefix { $0.isNumber }) ?? 0
        let secondary = try Self.secondary(directory.path("copy.db"), of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        let posted = try await HTTPTestClient.request(port: port, "POST", "/v1/jobs", body: #"{"name":"spool.echo","payload":{"said":"across"}}"#)
        #expect(posted.status == 201, "\(posted.text)")
        struct Created: Decodable { var id: String }
        let id = try posted.decode(Created.self).id
        let deadline = ContinuousClock.now + .seconds(60)
        var shown = ""
        while ContinuousClock.now < deadline, !(shown.contains("completed") && shown.contains("across")) {
            shown = try await SpoolProcess.run(["jobs", "show", id, "--json", "--store", copyStore]).stdout
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(shown.contains("completed") && shown.contains("across"), "the copy has the job completed with its result: \(shown)")
        serve.terminate()
        let stopped = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = await serve.waitForExit()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                serve.signal(SIGKILL)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(stopped, "spool serve --replicate stops on SIGTERM, its secondary still connected")
    }

    @Test("a worker drains 800 jobs (some failing, retried) on a primary with two secondaries (one writing each batch as soon as the last ends), one killed with SIGKILL and restarted: both copies end with the primary's jobs, row by row")
    func underLoad() async throws {
        let directory = try TemporaryDirectory()
        let primaryPath = directory.path("primary.db")
        let store = try SQLiteStore(path: primaryPath)
        let (primary, address) = try await Self.primary(primaryPath, log: directory.path("primary.log"))
        defer { primary.terminate() }
        let copies = [directory.path("copy-a.db"), directory.path("copy-b.db")]
        var secondaries = try copies.enumerated().map {
            try Self.secondary($0.element, of: address, log: directory.path("secondary-\($0.offset).log"), arguments: $0.offset == 0 ? ["--batch-ms", "0"] : [])
        }
        defer { for secondary in secondaries { secondary.terminate() } }
        for batch in 0..<8 {
            let jobs = (0..<100).map { offset -> NewJob in
                var job = NewJob(name: offset % 10 == 0 ? "spool.fail" : "spool.echo", payload: JSONPayload(unchecked: #"{"n":\#(batch * 100 + offset)}"#))
                job.maxAttempts = 2
                return job
            }
            _ = try await store.insert(jobs, now: Date())
        }
        let worker = try SpoolProcess.start(["worker", "--store", "sqlite:" + primaryPath, "--concurrency", "20", "--uuid-file", directory.path("worker.uuid")],
                                            log: directory.path("worker.log"))
        defer { worker.terminate() }
        func finished() async throws -> Int {
            try await store.queues().reduce(0) { $0 + ($1.counts[.completed] ?? 0) + ($1.counts[.discarded] ?? 0) }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while try await finished() < 300, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        secondaries[1].signal(SIGKILL)
        _ = await secondaries[1].waitForExit()
        try await Task.sleep(for: .milliseconds(300))
        secondaries[1] = try Self.secondary(copies[1], of: address, log: directory.path("secondary-1b.log"))
        while try await finished() < 800, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try await finished() == 800)
        worker.terminate()
        _ = await worker.waitForExit()
        let tables = ["jobs", "queues", "quotas", "quota_holders", "dispatchers", "cron"]
        let expected = try await SQLiteScripts.digest(primaryPath, tables: tables)
        #expect(expected.hasPrefix("ok\n") && expected.contains("jobs 800 "), "\(expected)")
        for copy in copies {
            var seen = ""
            let until = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < until {
                seen = try await SQLiteScripts.digest(copy, tables: tables)
                if seen == expected { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(seen == expected, "\(copy) has the primary's rows: \(seen) against \(expected)")
        }
    }

    @Test("spool replication-bench, small: both drains finish every job, each round is paired, lag is sampled, and the snapshot's copy is the store's size",
          arguments: [[], ["--in-process"]])
    func bench(mode: [String]) async throws {
        let run = try await SpoolProcess.run(["replication-bench", "--jobs", "300", "--rounds", "2", "--snapshot-mb", "5", "--json"] + mode)
        #expect(run.status == 0, "\(run.stderr)")
        struct Result: Decodable {
            var plainJobsPerSecond: Double, replicatedJobsPerSecond: Double, lagSamples: Int, enqueueReplicatedMilliseconds: Double
            var roundCostPercents: [Double], medianRoundCostPercent: Double
            var plainCPUMicrosecondsPerJob: Double, replicatedCPUMicrosecondsPerJob: Double
            var snapshotMegabytes: Double?, snapshotMegabytesPerSecond: Double?
        }
        let result = try JSONDecoder().decode(Result.self, from: Data(run.stdout.utf8))
        #expect(result.plainJobsPerSecond > 0 && result.replicatedJobsPerSecond > 0 && result.lagSamples > 0, "\(run.stdout)")
        #expect(result.enqueueReplicatedMilliseconds > 0, "the enqueue's copying was timed: \(run.stdout)")
        #expect(result.roundCostPercents.count == 2 && result.roundCostPercents.allSatisfy { $0 < 100 }, "\(run.stdout)")
        #expect(abs(result.medianRoundCostPercent - (result.roundCostPercents[0] + result.roundCostPercents[1]) / 2) < 1e-9, "\(run.stdout)")
        #expect(result.plainCPUMicrosecondsPerJob > 0 && result.replicatedCPUMicrosecondsPerJob > 0, "\(run.stdout)")
        #expect((result.snapshotMegabytes ?? 0) >= 5 && (result.snapshotMegabytesPerSecond ?? 0) > 0, "\(run.stdout)")
    }

    @Test("spool serve --replicate --sync 1: an enqueue fails while no secondary is connected; every enqueue acknowledged survives kill -9 of the primary and the promotion of its secondary")
    func synchronousPromotion() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("served.db"), copy = directory.path("copy.db")
        let log = directory.path("serve.log")
        let serve = try SpoolProcess.start(["serve", "--listen", "127.0.0.1:0", "--replicate", "127.0.0.1:0", "--sync", "1", "--sync-timeout", "5",
                                            "--store", "sqlite:" + path], log: log)
        defer { serve.terminate() }
        let address = try await Self.line(after: "Replication: secondaries connect to ", in: log)
        let port = Int(try await Self.line(after: "Dashboard: http://127.0.0.1:", in: log).prefix { $0.isNumber }) ?? 0
        let alone = try await HTTPTestClient.request(port: port, "POST", "/v1/jobs", body: #"{"name":"spool.echo"}"#)
        #expect(alone.status == 503 && alone.text.contains("no secondary is connected"), "\(alone.status) \(alone.text)")

        let secondary = try Self.secondary(copy, of: address, log: directory.path("secondary.log"))
        defer { secondary.terminate() }
        struct Created: Decodable { var id: String }
        var acknowledged: [String] = [], refusals: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while acknowledged.count < 80, ContinuousClock.now < deadline {
            let answer = try await HTTPTestClient.request(port: port, "POST", "/v1/jobs", body: #"{"name":"spool.echo","payload":{"n":\#(acknowledged.count)}}"#)
            if answer.status == 201 {
                acknowledged.append(try answer.decode(Created.self).id)
            } else {
                refusals.append("\(ContinuousClock.now) \(answer.status) \(answer.text)")
            }
        }
        if acknowledged.count < 80 {
            let tails = [log, directory.path("secondary.log")].map { path in
                ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").suffix(25).joined(separator: "\n")
            }
            let message = "\(acknowledged.count) of 80 acknowledged; \(refusals.count) refused, the last: \(refusals.suffix(5))\n"
                + "serve's log ends:\n\(tails[0])\nthe secondary's log ends:\n\(tails[1])"
            Issue.record(Comment(rawValue: message))
        }
        serve.signal(SIGKILL)
        _ = await serve.waitForExit()
        secondary.terminate()
        _ = await secondary.waitForExit()
        let promoted = try await SpoolProcess.run(["promote", "--store", "sqlite:" + copy])
        #expect(promoted.status == 0, "\(promoted.stderr)")
        let store = try SQLiteStore(path: copy)
        var missing: [String] = []
        for id in acknowledged {
            guard let jobID = JobID(id), try await store.job(jobID) != nil else {
                missing.append(id)
                continue
            }
        }
        #expect(missing.isEmpty, "no acknowledged job is missing from the promoted copy: \(missing)")
        await store.close()
    }
}
