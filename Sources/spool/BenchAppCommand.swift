import ArgumentParser
import Foundation
import SpoolBench
import SpoolCore
import SpoolHTTP

/// `spool bench-app`: the no-op worker application `spool bench --http-jobs` and
/// `bench/compare` call (hidden).
struct BenchAppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-app",
        abstract: "Serve the no-op worker application of the spool.http benchmarks: POST /noop, signature checked, 204.",
        shouldDisplay: false)

    @Option(help: "The port on 127.0.0.1 (0: a free one, printed).")
    var port: Int = 0

    func run() async throws {
        try await reportingErrors {
            guard let keys = try HTTPSigningKeys.fromEnvironment() else {
                throw SpoolError(.invalidArgument, "set SPOOL_HTTP_SECRET: the app checks the signature of every request")
            }
            try await NoopWorkerApp.serve(host: "127.0.0.1", port: port, keys: keys) { port in
                print("listening on 127.0.0.1:\(port)")
                fflush(nil)
            }
        }
    }
}
