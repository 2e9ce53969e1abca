import ArgumentParser
import Foundation
import SpoolCore

/// The options of `spool enqueue` and `spool call`.
struct EnqueueOptions: ParsableArguments {
    @Argument(help: "The job's registered name, such as spool.echo.")
    var name: String

    @Option(help: "The payload: JSON text, or @FILE to read it from a file.")
    var payload: String = "{}"

    @Option(help: "The queue.")
    var queue: String = NewJob.defaultQueue

    @Option(help: "Priority: lower numbers run first under a priority policy.")
    var priority: Int = 0

    @Option(help: "Run after this many seconds.")
    var delay: Double?

    @Option(help: "Run at this ISO 8601 time.")
    var at: String?

    @Option(name: .customLong("quota"), help: "A quota the job needs room in (repeatable).")
    var quotas: [String] = []

    @Option(name: .customLong("tag"), help: "A tag (repeatable).")
    var tags: [String] = []

    @Option(help: "While a job with this key is not finished, return it instead of enqueueing another.")
    var uniqueKey: String?

    @Option(help: "How many attempts the job may have.")
    var maxAttempts: Int = NewJob.defaultMaxAttempts

    @Option(help: "How many seconds one attempt may run.")
    var timeout: Double?

    /// The enqueue request these options describe.
    func newJob(now: Date) throws -> NewJob {
        let text: String
        if payload.hasPrefix("@") {
            let path = String(payload.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SpoolError(.invalidArgument, "cannot read payload file \(path)")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = payload
        }
        let json: JSONPayload
        do {
            json = try JSONPayload(validating: text)
        } catch let error as SpoolError {
            throw SpoolError(error.code, "payload: \(error.message)")
        }
        if delay != nil, at != nil { throw SpoolError(.invalidArgument, "give --delay or --at, not both") }
        var runAt: Date?
        if let delay {
            guard TimeRange.accepts(seconds: delay) else {
                throw SpoolError(.invalidArgument, "--delay must be a number of seconds from 0 to \(Int(TimeRange.longestSeconds))")
            }
            runAt = now.addingTimeInterval(delay)
        }
        if let at {
            guard let date = TimeRange.runAt(at) else { throw SpoolError(.invalidArgument, "--at '\(at.prefix(64))' is not \(TimeRange.description)") }
            runAt = date
        }
        var timeoutDuration: Duration?
        if let timeout {
            guard (TimeRange.shortestTimeout...TimeRange.longestSeconds).contains(timeout) else {
                throw SpoolError(.invalidArgument, "--timeout must be from 0.001 to \(Int(TimeRange.longestSeconds)) seconds")
            }
            timeoutDuration = .seconds(clamping: timeout)
        }
        return NewJob(name: name, payload: json, queue: queue, priority: priority, runAt: runAt, quotas: quotas, tags: tags,
                      uniqueKey: uniqueKey, maxAttempts: maxAttempts, timeout: timeoutDuration, traceContext: Self.callerTrace())
    }

    /// The trace a script runs in, from `TRACEPARENT` and `TRACESTATE` (the environment
    /// variables otel-cli and others set): the job's runs continue it. One that is not a W3C
    /// traceparent is ignored with a warning.
    static func callerTrace(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> TraceContext {
        guard let parent = environment["TRACEPARENT"], !parent.isEmpty else { return TraceContext() }
        guard let context = TraceContext.w3c(traceparent: parent, tracestate: environment["TRACESTATE"]) else {
            FileHandle.standardError.write(Data("spool: warning: TRACEPARENT '\(parent.prefix(80))' is not a W3C traceparent; the job carries no trace\n".utf8))
            return TraceContext()
        }
        return context
    }
}

/// `spool enqueue`: puts one job in the store and prints its id.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Enqueue a job and print its id.")

    @OptionGroup var job: EnqueueOptions
    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            var client = SpoolClient(store: try await options.open())
            client.source = "cli"
            let result = try await client.enqueue([try job.newJob(now: client.now())])[0]
            if options.json {
                try Output.json(result.job)
            } else {
                print(result.job.id)
            }
        }
    }
}

/// `spool call`: enqueues a job, waits for it, prints its result or exits 1 with its error.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call", abstract: "Enqueue a job, wait for its outcome and print its result; exit 1 with its error.")

    @OptionGroup var job: EnqueueOptions
    @OptionGroup var options: StoreOptions

    @Option(help: "Give up after this many seconds (default: wait as long as it takes).")
    var wait: Double?

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let limit = try waitLimit(wait, "--wait")
            var client = SpoolClient(store: try await options.open())
            client.source = "cli"
            let enqueued = try await client.enqueue(try job.newJob(now: client.now()))
            let finished = try await client.wait(for: enqueued.id, timeout: limit)
            if options.json { try Output.json(finished) }
            guard finished.state == .completed else { fail(JobFailed(job: finished).description) }
            if !options.json { print((finished.result ?? .null).text) }
        }
    }
}
