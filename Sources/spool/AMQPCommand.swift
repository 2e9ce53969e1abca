import AMQPClient
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SpoolAMQP
import SpoolCore

/// `spool amqp`: RabbitMQ topology and the RPC daemon.
struct AMQPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp", abstract: "Declare AMQP topology, serve RPC requests over RabbitMQ, and measure the client.",
        subcommands: [AMQPDeclareCommand.self, AMQPServeCommand.self, AMQPBenchCommand.self])
}

/// The broker options the `spool amqp` commands share.
struct AMQPOptions: ParsableArguments {
    @Option(name: .customLong("amqp"), help: "The broker: amqp://user:pass@host:port/vhost, or amqps://… for TLS (?cacertfile=, certfile=, keyfile=, verify=) (or SPOOL_AMQP_URL; default amqp://guest:guest@127.0.0.1:5672/).")
    var url: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (or SPOOL_LOG_LEVEL).")
    var logLevel: String?

    /// The broker URL from the option, the environment, or the default.
    var brokerURL: String {
        url ?? ProcessInfo.processInfo.environment["SPOOL_AMQP_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    /// Connects to the broker; a failure to connect is not retried.
    func connect() async throws -> AMQPConnection {
        KeyFiles.check(url: brokerURL)
        return try await AMQPConnection.connect(url: brokerURL, logger: Logger(label: "spool.amqp"))
    }

    /// Sends logs to standard error at the chosen level.
    func bootstrapLogging(default level: Logger.Level) {
        bootstrapStandardErrorLogging(option: logLevel, default: level)
    }
}

/// `spool amqp declare`: creates the exchange, durable queues and bindings a JSON file describes.
struct AMQPDeclareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "declare",
        abstract: "Create the exchange, durable queues and bindings of a topology file; print what was created.",
        discussion: """
            The file is JSON: {"exchange": {"name": "spool", "type": "direct", "durable": true}, \
            "queues": [{"name": "spool.rpc", "routingKeys": ["spool.rpc"]}]}. Running it again changes nothing.
            """)

    @Option(help: "The topology file (JSON).")
    var config: String

    @Flag(help: "Print every exchange, queue and binding with its outcome as JSON.")
    var json = false

    @OptionGroup var broker: AMQPOptions

    func run() async throws {
        broker.bootstrapLogging(default: .error)
        try await reportingErrors {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: config))
            } catch {
                throw SpoolError(.invalidArgument, "cannot read \(config): \(error.localizedDescription)")
            }
            let topology = try Topology(json: data)
            let connection = try await broker.connect()
            let declared: [Topology.Declared]
            do {
                declared = try await topology.declare(on: connection)
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
            if json { return try Output.json(declared) }
            let created = declared.filter { $0.outcome == .created }
            for item in created { print(item) }
            let bound = declared.filter { $0.outcome == .reasserted }
            for item in bound { print("bound \(item.name) (already bound, or bound now: AMQP cannot tell)") }
            if created.isEmpty {
                let existing = declared.filter { $0.outcome == .existing }
                print("nothing created: \(existing.count) exchanges and queues already declared")
            }
        }
    }
}

/// `spool amqp serve`: an RPC daemon with the built-in handlers, until SIGTERM or SIGINT.
struct AMQPServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer RPC requests from a queue with the built-in handlers (spool.echo, spool.fail) until SIGTERM or SIGINT.")

    @Option(help: "The durable queue requests arrive on (declared if missing).")
    var queue: String

    @Option(name: .customLong("dead-letter"), help: "The queue for requests without a UUID header or reply_to (default <queue>.dead).")
    var deadLetter: String?

    @Option(help: "Answer requests without reply_to on this exchange (edeposit.amqp's clients read answers from a result queue bound by key).")
    var replyExchange: String?

    @Option(help: "With --reply-exchange: the routing key of those answers.")
    var replyRoutingKey: String?

    @Option(help: "A JSON body field naming the request type when the message has no type property or header (edeposit: __nt_name).")
    var typeField: String?

    @Option(help: "How exception_type reports a failure: kind (a stable code) or python (<class 'Name'>, as edeposit compares it).")
    var exceptionType = "kind"

    @Flag(help: "Put replies the broker returns as undeliverable (their reply_to queue is gone) in the dead-letter queue too; they are always logged.")
    var deadLetterUndeliverable = false

    @Option(help: "How many requests are handled at once.")
    var prefetch: UInt16 = 16

    @Option(help: "Seconds after SIGTERM or SIGINT within which the daemon stops, even when its broker cannot be reached (requests it had not acknowledged are delivered again).")
    var grace: Double = 25

    @OptionGroup var broker: AMQPOptions

    func run() async throws {
        broker.bootstrapLogging(default: .notice)
        try await reportingErrors {
            let connection = try await broker.connect()
            var configuration = AMQPRPCDaemon.Configuration(inputQueue: queue, deadLetterQueue: deadLetter, prefetch: prefetch)
            if replyRoutingKey != nil, replyExchange == nil { throw SpoolError(.invalidArgument, "--reply-routing-key needs --reply-exchange") }
            configuration.replyExchange = replyExchange
            configuration.replyRoutingKey = replyRoutingKey ?? ""
            configuration.typeField = typeField
            guard let style = AMQPRPCDaemon.Configuration.ExceptionTypeStyle(rawValue: exceptionType) else {
                throw SpoolError(.invalidArgument, "--exception-type must be kind or python, not '\(exceptionType)'")
            }
            configuration.exceptionTypeStyle = style
            configuration.deadLetterUndeliverableReplies = deadLetterUndeliverable
            let deadline = ShutdownDeadline(grace: try duration(grace, "--grace").seconds, logger: Logger(label: "spool.events"), what: "the RPC daemon")
            defer { withExtendedLifetime(deadline) {} }
            let daemon = AMQPRPCDaemon(connection: connection, configuration: configuration, handlers: .builtin)
            let group = ServiceGroup(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint],
                                     logger: Logger(label: "spool.events"))
            do {
                try await group.run()
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        }
    }
}

/// Ends the process when a graceful shutdown takes longer than `grace` after SIGTERM or SIGINT:
/// a daemon whose broker cannot be reached has nothing it can finish (its publishes and
/// acknowledgements wait for the connection), and the broker delivers again whatever it did not
/// acknowledge.
final class ShutdownDeadline {
    private let sources: [any DispatchSourceSignal]

    init(grace: Double, logger: Logger, what: String) {
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
                    logger.warning("\(what) did not stop within \(grace) s of the signal (its broker cannot be reached?); exiting now, and what it had not acknowledged will be delivered again")
                    exit(0)
                }
            }
            source.resume()
            return source
        }
    }
}
