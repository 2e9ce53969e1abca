import ArgumentParser
import Foundation
import SQSClient
import SpoolAMQP
import SpoolCore
import SpoolPostgres
import SpoolSQLite
import SpoolSQS
import SpoolServer

/// A transport named on the command line, and the destination it names (if any):
/// `table[:QUEUE]` (the store's own table queue, SQLite or PostgreSQL), `amqp://USER:PASSWORD@HOST:PORT/VHOST[/QUEUE]`
/// (RabbitMQ, `amqps://` for TLS; the queue after the virtual host, URL-encoded), or `sqs://QUEUE[?region=R]` (Amazon
/// SQS, endpoint and credentials from the AWS environment; `sqs:` alone names no queue).
struct TransportLocation: Sendable {
    enum Kind: Sendable {
        case table
        case amqp(url: String)
        case sqs(region: String?)
    }

    /// What kind of transport, and where.
    var kind: Kind
    /// The destination the location names, if any.
    var destination: String?
    /// How the location is shown: the URL without its password.
    var name: String

    /// Parses a `--transport` value; an unknown scheme or a malformed URL is refused by name.
    init(_ text: String) throws {
        name = Redaction.url(text)
        if text == "table" || text.hasPrefix("table:") {
            kind = .table
            let queue = text.dropFirst("table".count).dropFirst()
            destination = queue.isEmpty ? nil : String(queue)
            return
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw SpoolError(.invalidArgument, "transport '\(name)' is not a URL: use table, amqp://… or sqs://QUEUE")
        }
        switch scheme {
        case "amqp", "amqps":
            // Split the path as written: the virtual host "/" is written %2f.
            let segments = components.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard segments.count <= 2 else {
                throw SpoolError(.invalidArgument, "transport '\(name)': an AMQP URL names a virtual host and at most one queue (amqp://HOST/VHOST/QUEUE)")
            }
            var broker = components
            broker.percentEncodedPath = segments.first.map { "/" + $0 } ?? ""
            kind = .amqp(url: broker.string ?? text)
            destination = segments.count == 2 ? segments.last.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 } : nil
        case "sqs":
            let queue = components.host ?? (components.path.isEmpty ? nil : components.path)
            let region = components.queryItems?.first(where: { $0.name == "region" })?.value
            if let unknown = components.queryItems?.first(where: { $0.name != "region" }) {
                throw SpoolError(.invalidArgument, "transport '\(name)': unknown option '\(unknown.name)'; sqs:// takes ?region=")
            }
            kind = .sqs(region: region)
            destination = queue.flatMap { $0.isEmpty ? nil : $0 }
            if let destination { _ = try SQSTransport.queueName(destination) }
        default:
            throw SpoolError(.invalidArgument, "transport '\(name)': unknown scheme '\(scheme)'; use table, amqp://… or sqs://QUEUE")
        }
    }

    /// The destination the location names; refused, naming `option`, when it names none.
    func requireDestination(option: String) throws -> String {
        guard let destination else {
            throw SpoolError(.invalidArgument, "\(option) '\(name)' names no queue: use table:QUEUE, amqp://…/VHOST/QUEUE or sqs://QUEUE")
        }
        return destination
    }

    /// Opens the transport; `store` serves the table queue (an SQLite or PostgreSQL store). With
    /// `ordered`, RabbitMQ destinations are single-active-consumer queues, so that units of a
    /// mirror are handled one at a time in publish order (the table queue orders by the units'
    /// keys in any case); `prefetch` is how many messages a RabbitMQ consumer may hold unsettled
    /// (a mirror processor takes up to 100 at once, so it asks for more than that).
    func open(store: (any JobStore)?, ordered: Bool = false, prefetch: UInt16 = 32) async throws -> any Transport {
        switch kind {
        case .table:
            if let sqlite = store as? SQLiteStore { return TableQueue(store: sqlite) }
            if let postgres = store as? PostgresStore { return PostgresTableQueue(store: postgres) }
            throw SpoolError(.invalidArgument, "the table transport is the store's own queue: give --store sqlite:PATH or postgres://…")
        case let .amqp(url):
            KeyFiles.check(url: url)
            return try await AMQPTransport.connect(url: url, configuration: .init(prefetch: prefetch, singleActiveConsumer: ordered))
        case let .sqs(region):
            do {
                return SQSTransport(client: SQSClient(configuration: try AWSConfiguration.sqs(region: region)))
            } catch let error as SQSError {
                throw SpoolError(.invalidArgument, "transport '\(name)': \(error.message)")
            }
        }
    }
}

/// The `--transport` option of the commands that check or use transports.
struct TransportOptions: ParsableArguments {
    @Option(name: .customLong("transport"),
            help: "A transport to check (repeatable): table, amqp://USER:PASSWORD@HOST:PORT/VHOST, or sqs://QUEUE[?region=R] (AWS_* variables give the endpoint and credentials).")
    var transports: [String] = []

    /// The transports the self-test checks: the store's table queue when no transport is
    /// given, else each one given, opened by each check. A malformed one is refused at once.
    func named(store: any JobStore) throws -> [StatusCheck.NamedTransport] {
        if transports.isEmpty {
            if let sqlite = store as? SQLiteStore { return [StatusCheck.NamedTransport(name: "table-queue", transport: TableQueue(store: sqlite))] }
            if let postgres = store as? PostgresStore {
                return [StatusCheck.NamedTransport(name: "table-queue", transport: PostgresTableQueue(store: postgres))]
            }
            return []
        }
        return try transports.map { text in
            let location = try TransportLocation(text)
            return StatusCheck.NamedTransport(name: location.name) { try await location.open(store: store) }
        }
    }
}
