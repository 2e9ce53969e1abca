import ArgumentParser
import Foundation
import GRDB
import SpoolBench
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite
import SpoolSQLite

/// `spool mirror bench`: what mirroring costs the application's commits, and how fast units go
/// from commit to an SQLite mirror through the outbox, a transport and the processor.
struct MirrorBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure mirroring: the application's added cost per commit, and operations per second from commit to mirror.",
        discussion: """
            An application on SQLite (GRDB, WAL, --durability) commits units of --unit page upserts, into two \
            fresh databases in alternating blocks of 200 commits: one without mirroring, one with each unit also \
            recorded and written to the outbox in the same transaction (emptied between blocks, untimed, as a relay \
            that keeps up leaves it): the difference is mirroring's cost per commit. Then, with the outbox relayed to --transport (the table \
            queue of a fresh store, or amqp://USER:PASSWORD@HOST:PORT/VHOST) and a processor applying units to a \
            fresh SQLite mirror, all running at once in this process: operations per second from the first commit \
            to the last unit applied. Last, as many units are committed first and then relayed and applied with \
            nothing else running: the rate of mirroring's own machinery (outbox, transport, processor, mirror) and \
            its CPU time per unit. Every unit is checked to arrive once.
            """)

    @Option(help: "Operations in all.")
    var operations: Int = 100_000

    @Option(help: "Operations per unit (per commit).")
    var unit: Int = 10

    @Option(help: "table (a fresh store's table queue) or amqp://USER:PASSWORD@HOST:PORT/VHOST.")
    var transport: String = "table"

    @Option(help: "The application's durability: normal (synchronous NORMAL, a commit survives a killed process) or full (synced to disk, survives a power loss).")
    var durability: String = "normal"

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Result: Codable {
        var durability: String
        var operations: Int
        var unit: Int
        var transport: String
        var commitMicroseconds: Double
        var commitWithOutboxMicroseconds: Double
        var addedPercent: Double
        var endToEndSeconds: Double
        var operationsPerSecond: Double
        var unitsApplied: Int
        var drainSeconds: Double
        var drainOperationsPerSecond: Double
        var drainCPUMicrosecondsPerUnit: Double
    }

    static let schema = try! MirrorSchema(json: #"{"types": [{"name": "Page", "fields": {"name": "string", "views": "integer"}}]}"#)

    func run() async throws {
        StoreOptions.bootstrapQuietLogging()
        try await reportingErrors {
            guard operations >= unit, unit >= 1 else { throw SpoolError(.invalidArgument, "--unit must be at least 1 and at most --operations") }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-mirror-bench-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let commits = operations / unit
            guard let synchronous = ["normal": "NORMAL", "full": "FULL"][durability] else {
                throw SpoolError(.invalidArgument, "--durability '\(durability)': use normal or full")
            }
            // The same commits into two fresh databases, in alternating blocks, so that neither
            // side gains from going first or from a smaller table.
            let plain = try Self.application(directory.appendingPathComponent("plain.db").path, synchronous: synchronous)
            let app = try Self.application(directory.appendingPathComponent("app.db").path, synchronous: synchronous)
            var baseline = 0.0, withOutbox = 0.0, done = 0
            while done < commits {
                let block = min(200, commits - done)
                baseline += try await Self.commit(block, from: done, unit: unit, prefix: "page", outbox: false, into: plain)
                withOutbox += try await Self.commit(block, from: done, unit: unit, prefix: "page", outbox: true, into: app)
                // Untimed: the outbox stays as small as a relay that keeps up leaves it.
                try await Self.emptyOutbox(app)
                done += block
            }
            let (seconds, _, applied) = try await relayAndApply(commits, app: app, directory: directory, name: "mirrored", committing: true)
            guard applied == commits else { throw SpoolError(.invalidState, "\(applied) of \(commits) units were applied") }
            // Untimed: the outbox filled first (emptied before: the relay stopped above may have
            // left units it had sent but not yet removed); then only the relay and the processor run.
            try await Self.emptyOutbox(app)
            _ = try await Self.commit(commits, unit: unit, prefix: "drained", outbox: true, into: app)
            let (drainSeconds, drainCPU, drained) = try await relayAndApply(commits, app: app, directory: directory, name: "drained", committing: false)
            guard drained == commits else { throw SpoolError(.invalidState, "\(drained) of \(commits) units were applied from a full outbox") }
            let result = Result(durability: durability, operations: commits * unit, unit: unit, transport: Redaction.url(transport),
                                commitMicroseconds: baseline / Double(commits) * 1e6, commitWithOutboxMicroseconds: withOutbox / Double(commits) * 1e6,
                                addedPercent: (withOutbox - baseline) / baseline * 100, endToEndSeconds: seconds,
                                operationsPerSecond: Double(commits * unit) / seconds, unitsApplied: applied,
                                drainSeconds: drainSeconds, drainOperationsPerSecond: Double(commits * unit) / drainSeconds,
                                drainCPUMicrosecondsPerUnit: drainCPU / Double(commits) * 1e6)
            if json { return try Output.json(result) }
            Output.table(["OPERATIONS", "UNIT", "DURABILITY", "TRANSPORT", "COMMIT µs", "WITH OUTBOX µs", "ADDED", "END TO END s", "OPS/S",
                          "DRAIN OPS/S", "DRAIN CPU µs/UNIT"], [[
                "\(result.operations)", "\(unit)", durability, result.transport, String(format: "%.1f", result.commitMicroseconds),
                String(format: "%.1f", result.commitWithOutboxMicroseconds), String(format: "%+.1f %%", result.addedPercent),
                String(format: "%.2f", seconds), String(format: "%.0f", result.operationsPerSecond),
                String(format: "%.0f", result.drainOperationsPerSecond), String(format: "%.1f", result.drainCPUMicrosecondsPerUnit),
            ]])
        }
    }

    /// The application's database: WAL, `synchronous`, a pages table and the outbox.
    static func application(_ path: String, synchronous: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        let app = try DatabasePool(path: path, configuration: configuration)
        try app.write { db in
            try db.execute(sql: "CREATE TABLE pages (key TEXT PRIMARY KEY, name TEXT NOT NULL, views INTEGER NOT NULL)")
            try SQLiteOutbox.createTable(in: db)
        }
        return app
    }

    /// Removes every unit from the application's outbox.
    static func emptyOutbox(_ app: DatabasePool) async throws {
        try await app.write { db in try db.execute(sql: "DELETE FROM \(SQLiteOutbox.table)") }
    }

    /// Commits `commits` transactions of `unit` page upserts, numbered from `first` (and, with
    /// `outbox`, the unit in the outbox); returns the seconds taken.
    static func commit(_ commits: Int, from first: Int = 0, unit: Int, prefix: String, outbox: Bool, into app: DatabasePool) async throws -> Double {
        let start = ContinuousClock.now
        for index in first..<(first + commits) {
            try await app.write { db in
                let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO pages (key, name, views) VALUES (?, ?, ?)")
                var buffer = OperationBuffer(schema: schema)
                for offset in 0..<unit {
                    let key = "\(prefix)-\(index * unit + offset)", name = "Page \(offset)"
                    try upsert.execute(arguments: [key, name, index])
                    if outbox { try buffer.record(.add("Page", key, ["name": .string(name), "views": .integer(Int64(index))])) }
                }
                if outbox { try SQLiteOutbox.record(buffer, in: db) }
            }
        }
        return (ContinuousClock.now - start).seconds
    }

    /// Runs a relay that moves units to the transport and a processor that applies them to a fresh
    /// mirror (and a fresh store's table queue), until `commits` units were applied: with
    /// `committing`, while the application commits them (`name` prefixes their keys); without,
    /// from an outbox that already holds them. Returns the seconds from the start to the last unit
    /// applied, the process's CPU seconds in that time, and the units the mirror applied.
    private func relayAndApply(_ commits: Int, app: DatabasePool, directory: URL, name: String,
                               committing: Bool) async throws -> (Double, Double, Int) {
        let destination = "spool-mirror-bench-\(UUID().uuidString.prefix(8).lowercased())"
        let opened: any Transport
        if transport == "table" {
            opened = TableQueue(store: try SQLiteStore(path: directory.appendingPathComponent("\(name)-spool.db").path))
        } else {
            opened = try await TransportLocation(transport).open(store: nil, prefetch: 256)
        }
        let mirror = try SQLiteMirror(path: directory.appendingPathComponent("\(name)-mirror.db").path, schema: Self.schema,
                                      fileDirectory: directory.appendingPathComponent("\(name)-files"))
        let cpu = ProcessCPU.seconds()
        let outbox = SQLiteOutbox(writer: app)
        let relay = Task { try await outbox.run(to: opened, destination: destination) }
        // The processor counts what it settles: asking the mirror instead (a count of its
        // applied units every few milliseconds) would compete with the processor for its database.
        let settled = Counter()
        var processor = MirrorProcessor(transport: opened, destination: destination, target: mirror)
        processor.observer = { outcome, _ in if outcome == .applied || outcome == .duplicate { settled.take() } }
        let applying = Task { [processor] in try await processor.run() }
        let start = ContinuousClock.now
        if committing { _ = try await Self.commit(commits, unit: unit, prefix: name, outbox: true, into: app) }
        let deadline = ContinuousClock.now + .seconds(600)
        while settled.count < commits, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        let seconds = (ContinuousClock.now - start).seconds
        let cpuSeconds = ProcessCPU.seconds() - cpu
        let applied = try mirror.status().applied
        relay.cancel()
        applying.cancel()
        _ = await relay.result
        _ = await applying.result
        try? await opened.close()
        return (seconds, cpuSeconds, applied)
    }
}
