import ArgumentParser
import Foundation
import SpoolCore

/// `spool jobs`: list, show, cancel, retry, wait for and prune jobs.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List, show, cancel, retry, wait for or prune jobs.",
        subcommands: [List.self, Show.self, Cancel.self, Retry.self, Wait.self, Prune.self])

    static func parse(_ text: String) throws -> JobID {
        guard let id = JobID(text) else { throw SpoolError(.invalidArgument, "'\(text)' is not a job id (a UUID)") }
        return id
    }

    static func print(_ job: Job, json: Bool) throws {
        if json { return try Output.json(job) }
        var rows: [(String, String)] = [
            ("id", job.id.description), ("name", job.name), ("queue", job.queue), ("state", job.state.rawValue),
            ("attempt", "\(job.attempt) of \(job.maxAttempts)"), ("priority", "\(job.priority)"),
            ("payload", job.payload.text), ("run at", ISO8601.format(job.runAt)), ("created", ISO8601.format(job.createdAt)),
        ]
        if let started = job.startedAt { rows.append(("started", ISO8601.format(started))) }
        if let finished = job.finishedAt { rows.append(("finished", ISO8601.format(finished))) }
        if !job.quotas.isEmpty { rows.append(("quotas", job.quotas.joined(separator: ", "))) }
        if !job.tags.isEmpty { rows.append(("tags", job.tags.joined(separator: ", "))) }
        if let key = job.uniqueKey { rows.append(("unique key", key)) }
        if let timeout = job.timeout { rows.append(("timeout", "\(timeout.seconds)s")) }
        if let dispatcher = job.dispatcher { rows.append(("dispatcher", dispatcher.uuidString.lowercased())) }
        if job.cancelRequested { rows.append(("cancel", "requested")) }
        if let result = job.result { rows.append(("result", result.text)) }
        for error in job.errors {
            rows.append(("error", "attempt \(error.attempt) at \(ISO8601.format(error.at)): \(error.name) (\(error.type)): \(error.message)"))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (key, value) in rows { Swift.print("\(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List jobs, newest first.")
        @Option(help: "Only this queue.") var queue: String?
        @Option(help: "Only this state.") var state: String?
        @Option(help: "Only this job name.") var name: String?
        @Option(help: "At most this many jobs.") var limit: Int = 50
        @Option(help: "Continue after this job id (the previous page's last).") var after: String?
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                var stateFilter: JobState?
                if let state {
                    guard let parsed = JobState(rawValue: state) else {
                        throw SpoolError(.invalidArgument, "unknown state '\(state)'; use one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    stateFilter = parsed
                }
                guard limit >= 1 else { throw SpoolError(.invalidArgument, "--limit must be at least 1") }
                let page = try await options.open().jobs(JobQuery(queue: queue, state: stateFilter, name: name, limit: limit,
                                                                 after: try after.map(JobsCommand.parse)))
                if options.json { return try Output.json(page.jobs) }
                Output.table(["ID", "QUEUE", "NAME", "STATE", "ATTEMPT", "RUN AT"], page.jobs.map { job in
                    [job.id.description, job.queue, job.name, job.state.rawValue, "\(job.attempt)/\(job.maxAttempts)", Output.relative(job.runAt)]
                })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one job with its errors and result.")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let id = try JobsCommand.parse(id)
                guard let job = try await options.open().job(id) else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
                try JobsCommand.print(job, json: options.json)
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a job: at once when waiting, cooperatively when running.")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let job = try await options.open().cancel(try JobsCommand.parse(id), now: Date())
                if options.json { return try Output.json(job) }
                Swift.print(job.state == .running ? "\(job.id) cancel requested" : "\(job.id) \(job.state)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retry", abstract: "Run a finished or waiting job again now.")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let job = try await options.open().retry(try JobsCommand.parse(id), now: Date())
                if options.json { return try Output.json(job) }
                Swift.print("\(job.id) \(job.state)")
            }
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "wait", abstract: "Wait until a job finishes; exit 1 unless it completed.")
        @Argument(help: "The job id.") var id: String
        @Option(help: "Give up after this many seconds.") var timeout: Double?
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let client = SpoolClient(store: try await options.open())
                let job = try await client.wait(for: try JobsCommand.parse(id), timeout: try waitLimit(timeout, "--timeout"))
                try JobsCommand.print(job, json: options.json)
                if job.state != .completed { throw ExitCode(1) }
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Delete finished jobs now, as workers' retention does: by default completed jobs older than 24h and cancelled and discarded ones older than 7d.")
        @Option(help: "Only this state: completed, cancelled or discarded (default: all three).") var state: String?
        @Option(help: "Only jobs finished longer ago than this: seconds, or with s, m, h or d (at least 60 s).") var olderThan: String?
        @Flag(help: "Count what would be deleted; delete nothing.") var dryRun = false
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let states: [JobState]
                if let state {
                    guard let parsed = JobState(rawValue: state), parsed.isTerminal else {
                        throw SpoolError(.invalidArgument, "--state must be completed, cancelled or discarded, not '\(state)'")
                    }
                    states = [parsed]
                } else {
                    states = [.completed, .cancelled, .discarded]
                }
                let age = try olderThan.map { text -> Duration in
                    guard let age = try Retention.parseAge(text) else {
                        throw SpoolError(.invalidArgument, "--older-than must be at least \(Int(Retention.minimumAge.seconds)) s, not 0")
                    }
                    try Retention.checkAge(age, of: "--older-than: finished jobs")
                    return age
                }
                let store = try await options.open()
                let now = Date()
                var counts: [(JobState, Int)] = []
                for state in states {
                    let before = now.addingTimeInterval(-(age ?? Retention.standard.age(of: state)!).seconds)
                    counts.append((state, try await Self.prune(store, state: state, before: before, dryRun: dryRun)))
                }
                if options.json {
                    return try Output.json(Dictionary(uniqueKeysWithValues: counts.map { ($0.0.rawValue, $0.1) }))
                }
                let summary = counts.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
                Swift.print(dryRun ? "would delete \(summary) jobs" : "deleted \(summary) jobs")
            }
        }

        /// Deletes (or counts) every job of `state` finished before `before`, a batch at a time.
        static func prune(_ store: any JobStore, state: JobState, before: Date, dryRun: Bool) async throws -> Int {
            if dryRun {
                return try await store.prune(PruneRequest(state: state, finishedBefore: before, limit: Int(Int32.max), dryRun: true)).deleted
            }
            var total = 0
            while true {
                let request = PruneRequest(state: state, finishedBefore: before)
                let count = try await store.prune(request).deleted
                total += count
                if count < request.limit { return total }
            }
        }
    }
}
