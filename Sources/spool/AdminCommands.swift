import ArgumentParser
import Foundation
import SpoolCore

/// `spool queues`: list, pause and resume queues.
struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List, pause or resume queues.", subcommands: [List.self, Pause.self, Resume.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List queues with their jobs per state.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let queues = try await options.open().queues()
                if options.json { return try Output.json(queues.map(QueueDocument.init)) }
                let states = JobState.allCases
                Output.table(["QUEUE", "PAUSED"] + states.map { $0.rawValue.uppercased() }, queues.map { queue in
                    [queue.name, queue.paused ? "yes" : "no"] + states.map { "\(queue.counts[$0] ?? 0)" }
                })
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause a queue: it accepts jobs and hands out none.")
        @Argument(help: "The queue.") var queue: String
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                try await options.open().setPaused(queue, paused: true)
                print("\(queue) paused")
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused queue.")
        @Argument(help: "The queue.") var queue: String
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                try await options.open().setPaused(queue, paused: false)
                print("\(queue) resumed")
            }
        }
    }
}

/// `spool quotas`: list, create, resize and remove quotas.
struct QuotasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quotas", abstract: "List, create, resize or remove quotas.",
        subcommands: [List.self, Create.self, Resize.self, Remove.self])

    static func show(_ quota: QuotaInfo, json: Bool) throws {
        if json { return try Output.json(QuotaDocument(quota)) }
        print("\(quota.name) size \(quota.size), \(quota.running.count) running\(quota.filled ? ", filled" : "")")
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List quotas with their running jobs.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                let quotas = try await options.open().quotas()
                if options.json { return try Output.json(quotas.map(QuotaDocument.init)) }
                Output.table(["QUOTA", "SIZE", "RUNNING", "FILLED"], quotas.map { quota in
                    [quota.name, "\(quota.size)", "\(quota.running.count)", quota.filled ? "yes" : "no"]
                })
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a quota (size 1 unless given).")
        @Argument(help: "The quota's name.") var name: String
        @Option(help: "How many jobs naming it may run at once.") var size: Int = 1
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors { try QuotasCommand.show(try await options.open().createQuota(name, size: size), json: options.json) }
        }
    }

    struct Resize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resize", abstract: "Change a quota's size; running jobs are never stopped.")
        @Argument(help: "The quota's name.") var name: String
        @Argument(help: "The new size.") var size: Int
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors { try QuotasCommand.show(try await options.open().resizeQuota(name, size: size), json: options.json) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a quota; waiting jobs naming it then ignore it.")
        @Argument(help: "The quota's name.") var name: String
        @OptionGroup var options: StoreOptions

        func run() async throws {
            options.bootstrapLogging()
            try await reportingErrors {
                try await options.open().removeQuota(name)
                print("\(name) removed")
            }
        }
    }
}

/// `spool dispatchers`: the dispatchers the store knows, with their agents.
struct DispatchersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dispatchers", abstract: "List dispatchers and their agents.")
    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let dispatchers = try await options.open().dispatchers()
            if options.json { return try Output.json(dispatchers.map(DispatcherDocument.init)) }
            Output.table(["DISPATCHER", "HOST", "PID", "STATE", "LAST PING", "AGENTS"], dispatchers.map { info in
                [info.id.uuidString.lowercased(), info.host, "\(info.pid)", info.state.rawValue, Output.relative(info.lastPingAt),
                 info.agents.map { "\($0.name)=\($0.filter):\($0.size) (\($0.running.count) running)" }.joined(separator: "; ")]
            })
        }
    }
}
