import ArgumentParser

/// The `spool` command-line tool.
@main
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Spool: durable background jobs with an embedded store.",
        discussion: "Every command takes --store URL (or SPOOL_STORE; default sqlite:spool.db) and --json.",
        subcommands: [
            ServeCommand.self, WorkerCommand.self, EnqueueCommand.self, CallCommand.self, JobsCommand.self, QueuesCommand.self,
            QuotasCommand.self, DispatchersCommand.self, StatusCommand.self, DemoCommand.self, BenchCommand.self, BenchAppCommand.self, AMQPCommand.self,
            SQSCommand.self, MirrorCommand.self, ReplicateCommand.self, SecondaryCommand.self, PromoteCommand.self, ReplicationBenchCommand.self,
        ]
    )
}
