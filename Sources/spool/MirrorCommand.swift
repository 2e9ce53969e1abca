import ArgumentParser
import Foundation
import SpoolCore
import SpoolMirror
import SpoolMirrorPostgres
import SpoolMirrorSQLite
import SpoolServer

/// `spool mirror`: the processor that applies published units to a relational mirror.
struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Apply mirrored changes (units of add / modify / delete operations) to a relational mirror.",
        subcommands: [MirrorProcessCommand.self, MirrorStatusCommand.self, MirrorBenchCommand.self])
}

/// `spool mirror process`: consumes units from a transport and applies them.
struct MirrorProcessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Consume units from --transport and apply each to the mirror in one transaction, until SIGTERM (or, with --once, until none is left).",
        discussion: "A unit that cannot be read or applied is dead-lettered with the reason; processing goes on. A unit delivered again changes nothing.")

    @Option(help: "Where units come from: table:QUEUE (the store's table queue), amqp://USER:PASSWORD@HOST:PORT/VHOST/QUEUE or sqs://QUEUE[?region=R].")
    var transport: String

    @Option(help: "The mirror: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE[?schema=S].")
    var mirror: String

    @Option(help: "The entity types, as JSON: {\"types\": [{\"name\": \"Page\", \"key\": \"id\", \"fields\": {\"name\": \"string\"}}]}.")
    var schema: String

    @Option(help: "Where file fields are written (default: an SQLite mirror's path with .files; for PostgreSQL, spool-mirror-files here).")
    var files: String?

    @Option(help: "Seconds a received unit stays hidden from other processors after this process died without settling it.")
    var visibility: Double = 60

    @Option(help: "Serve Prometheus metrics at GET /metrics on HOST:PORT (spool_mirror_units_*_total, spool_mirror_lag_seconds).")
    var metricsListen: String?

    @Flag(help: "Apply what is waiting, print the counts and exit.")
    var once = false

    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let location = try TransportLocation(transport)
            let destination = try location.requireDestination(option: "--transport")
            let declared = try MirrorSchema.load(schema, option: "--schema")
            let target: any MirrorTarget
            if MirrorSchema.isPostgres(mirror) {
                KeyFiles.check(url: mirror)
                target = try await PostgresMirror(url: mirror, schema: declared, fileDirectory: URL(fileURLWithPath: files ?? "spool-mirror-files"))
            } else {
                let path = try MirrorSchema.sqlitePath(mirror)
                target = try SQLiteMirror(path: path, schema: declared, fileDirectory: URL(fileURLWithPath: files ?? path + ".files"))
            }
            let store: (any JobStore)? = if case .table = location.kind { try await options.open() } else { nil }
            let opened = try await location.open(store: store, ordered: true, prefetch: 256)
            guard visibility.isFinite, visibility >= 1 else { throw SpoolError(.invalidArgument, "--visibility must be at least 1 second") }
            var processor = MirrorProcessor(transport: opened, destination: destination, target: target)
            processor.visibility = .milliseconds(Int64(visibility * 1000))
            defer { Task { try? await opened.close() } }
            if let metricsListen {
                let (host, port) = try ServerConfiguration.hostAndPort(metricsListen, option: "--metrics-listen")
                let metrics = MirrorProcessMetrics()
                processor.observer = metrics.observer
                let serving = Task { try await metrics.serve(host: host, port: port) { print("metrics at http://\(host):\($0)/metrics"); fflush(nil) } }
                defer { serving.cancel() }
                if !once { return try await processor.run() }
            }
            guard once else { return try await processor.run() }
            var counts = MirrorProcessor.Counts()
            while true {
                let before = counts
                try await processor.processBatch(wait: .seconds(1), into: &counts)
                if counts == before { break }
            }
            await (target as? PostgresMirror)?.close()
            if options.json {
                try Output.json(["applied": counts.applied, "duplicates": counts.duplicates, "deadLettered": counts.deadLettered, "retried": counts.retried])
            } else {
                Output.table(["APPLIED", "DUPLICATES", "DEAD-LETTERED", "RETRIED"],
                             [["\(counts.applied)", "\(counts.duplicates)", "\(counts.deadLettered)", "\(counts.retried)"]])
            }
        }
    }
}

/// `spool mirror status`: what waits on the transport, what was dead-lettered, what the mirror
/// applied last and how long after its commit.
struct MirrorStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the units waiting on --transport and its dead letters, and with --mirror the units applied and the lag of the last.")

    @Option(help: "Where units wait: table:QUEUE, amqp://USER:PASSWORD@HOST:PORT/VHOST/QUEUE or sqs://QUEUE[?region=R].")
    var transport: String

    @Option(help: "The mirror: sqlite:PATH or postgres://… (read, never changed).")
    var mirror: String?

    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let location = try TransportLocation(transport)
            let destination = try location.requireDestination(option: "--transport")
            var applied: MirrorStatus?
            if let mirror {
                applied = MirrorSchema.isPostgres(mirror) ? try await PostgresMirror.status(url: mirror)
                    : try SQLiteMirror.status(at: try MirrorSchema.sqlitePath(mirror))
            }
            let store: (any JobStore)? = if case .table = location.kind { try await options.open() } else { nil }
            let opened = try await location.open(store: store, ordered: true, prefetch: 256)
            let waiting = try await opened.backlog(of: destination)
            let dead = try await opened.backlog(of: opened.deadLetterDestination(for: destination))
            try? await opened.close()
            let lag = applied?.last?.lag.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
            if options.json {
                var document: [String: JSONValue] = [
                    "transport": .string(location.name), "destination": .string(destination),
                    "waiting": .number(Double(waiting.waiting)), "inFlight": waiting.inFlight.map { .number(Double($0)) } ?? .null,
                    "deadLetters": .number(Double(dead.waiting + (dead.inFlight ?? 0))),
                ]
                if let applied {
                    document["applied"] = .number(Double(applied.applied))
                    document["lastUnit"] = applied.last.map { .string($0.id.uuidString.lowercased()) } ?? .null
                    document["lastAppliedAt"] = applied.last.map { .string(ISO8601.formatMicroseconds($0.appliedAt)) } ?? .null
                    document["lagSeconds"] = lag.map { .number($0) } ?? .null
                }
                try Output.json(document)
            } else {
                var header = ["DESTINATION", "WAITING", "IN FLIGHT", "DEAD LETTERS"]
                var row = [destination, "\(waiting.waiting)", waiting.inFlight.map(String.init) ?? "-", "\(dead.waiting + (dead.inFlight ?? 0))"]
                if let applied {
                    header += ["APPLIED", "LAST UNIT", "LAST APPLIED", "LAG"]
                    row += ["\(applied.applied)", applied.last.map { $0.id.uuidString.lowercased() } ?? "-",
                            applied.last.map { ISO8601.format($0.appliedAt) } ?? "-", lag.map { String(format: "%.3f s", $0) } ?? "-"]
                }
                Output.table(header, [row])
            }
        }
    }
}

extension MirrorSchema {
    /// The path of a `--mirror sqlite:PATH`; any other mirror is refused.
    static func sqlitePath(_ mirror: String) throws -> String {
        guard mirror.hasPrefix("sqlite:") else {
            throw SpoolError(.invalidArgument, "--mirror '\(Redaction.url(mirror))': use sqlite:PATH or postgres://…")
        }
        return String(mirror.dropFirst("sqlite:".count))
    }

    /// Whether a `--mirror` names a PostgreSQL database.
    static func isPostgres(_ mirror: String) -> Bool { mirror.hasPrefix("postgres://") || mirror.hasPrefix("postgresql://") }

    /// The declaration in the file at `path`, which `option` named; unreadable or invalid is
    /// refused naming the option and the file.
    static func load(_ path: String, option: String) throws -> MirrorSchema {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpoolError(.invalidArgument, "\(option) \(path): cannot read it: \(error.localizedDescription)")
        }
        return try MirrorSchema(json: text)
    }
}
