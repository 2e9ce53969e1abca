import ArgumentParser
import Foundation
import SpoolCore
import SpoolServer
import SpoolSQLite

/// `spool status`: the self-test of `GET /status`, run against the store directly.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Check the store, its migrations, live dispatchers and a probe job's round trip; exit 1 if a part fails.")

    @Option(help: "The queue of the probe job; a dispatcher must serve it.")
    var probeQueue = NewJob.defaultQueue

    @Option(help: "Seconds to wait for a dispatcher to run the probe job.")
    var probeTimeout: Double = 10

    @Option(help: "Seconds of silence after which a dispatcher does not count as live.")
    var deadAfter: Double = 10

    @OptionGroup var transport: TransportOptions
    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let report = try await check(probeTimeout: try duration(probeTimeout, "--probe-timeout"),
                                         deadAfter: try duration(deadAfter, "--dead-after"))
            if options.json {
                try Output.json(report)
            } else {
                Output.table(["PART", "OK", "MS", "DETAIL"], report.parts.map { part in
                    [part.name, part.ok ? "yes" : "NO", String(format: "%.1f", part.milliseconds), part.detail]
                })
                print(report.ok ? "\nall parts work" : "\nfailing: \(report.failing.joined(separator: ", "))")
            }
            if !report.ok { throw ExitCode(1) }
        }
    }

    /// Runs the checks; a store file that does not exist is a failing part, never created.
    private func check(probeTimeout: Duration, deadAfter: Duration) async throws -> StatusCheck.Report {
        if !options.isPostgres {
            let path = try options.sqlitePath()
            guard FileManager.default.fileExists(atPath: path) else {
                return StatusCheck.unreachable("store file \(path) does not exist (check --store or SPOOL_STORE)")
            }
        }
        let store: any JobStore
        do {
            store = try await options.open()
        } catch let error as SpoolError {
            return StatusCheck.unreachable(error.message)
        }
        var configuration = StatusCheck.Configuration()
        configuration.probeQueue = probeQueue
        configuration.probeTimeout = probeTimeout
        configuration.deadAfter = deadAfter
        ReplicationReporting.configure(&configuration, store: store)
        let transports = try transport.named(store: store)
        return await StatusCheck(store: store, configuration: configuration, transports: transports).run()
    }
}
