import ArgumentParser
import Foundation
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite

/// `spool mirror`: the processor that applies published units to a relational mirror.
struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Apply mirrored changes (units of add / modify / delete operations) to a relational mirror.",
        subcommands: [MirrorProcessCommand.self])
}

/// `spool mirror process`: consumes units from a transport and applies them.
struct MirrorProcessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Consume units from --transport and apply each to the mirror in one transaction, until SIGTERM (or, with --once, until none is left).",
        discussion: "A unit that cannot be read or applied is dead-lettered with the reason; processing goes on. A unit delivered again changes nothing.")

    @Option(help: "Where units come from: table:QUEUE (the store's table queue), amqp://USER:PASSWORD@HOST:PORT/VHOST/QUEUE or sqs://QUEUE[?region=R].")
    var transport: String

    @Option(help: "The mirror: sqlite:PATH.")
    var mirror: String

    @Option(help: "The entity types, as JSON: {\"types\": [{\"name\": \"Page\", \"key\": \"id\", \"fields\": {\"name\": \"string\"}}]}.")
    var schema: String

    @Option(help: "Where file fields are written (default: the mirror's path with .files).")
    var files: String?

    @Option(help: "Seconds a received unit stays hidden from other processors after this process died without settling it.")
    var visibility: Double = 60

    @Flag(help: "Apply what is waiting, print the counts and exit.")
    var once = false

    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let location = try TransportLocation(transport)
            guard let destination = location.destination else {
                throw SpoolError(.invalidArgument, "--transport '\(location.name)' names no queue: use table:QUEUE, amqp://…/VHOST/QUEUE or sqs://QUEUE")
            }
            guard mirror.hasPrefix("sqlite:") else { throw SpoolError(.invalidArgument, "--mirror '\(Redaction.url(mirror))': use sqlite:PATH") }
            let path = String(mirror.dropFirst("sqlite:".count))
            let target = try SQLiteMirror(path: path, schema: try MirrorSchema.load(schema, option: "--schema"),
                                          fileDirectory: URL(fileURLWithPath: files ?? path + ".files"))
            let store: (any JobStore)? = if case .table = location.kind { try options.openSQLite() } else { nil }
            let opened = try await location.open(store: store)
            guard visibility.isFinite, visibility >= 1 else { throw SpoolError(.invalidArgument, "--visibility must be at least 1 second") }
            var processor = MirrorProcessor(transport: opened, destination: destination, target: target)
            processor.visibility = .milliseconds(Int64(visibility * 1000))
            defer { Task { try? await opened.close() } }
            guard once else { return try await processor.run() }
            var counts = MirrorProcessor.Counts()
            while true {
                let before = counts
                try await processor.processBatch(wait: .seconds(1), into: &counts)
                if counts == before { break }
            }
            if options.json {
                try Output.json(["applied": counts.applied, "duplicates": counts.duplicates, "deadLettered": counts.deadLettered, "retried": counts.retried])
            } else {
                Output.table(["APPLIED", "DUPLICATES", "DEAD-LETTERED", "RETRIED"],
                             [["\(counts.applied)", "\(counts.duplicates)", "\(counts.deadLettered)", "\(counts.retried)"]])
            }
        }
    }
}

extension MirrorSchema {
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
