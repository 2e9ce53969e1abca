import Foundation
import ServiceLifecycle
import SpoolCore
import SpoolServer

/// `spool serve --demo`'s steady trickle: the mix of `spool demo` (no-ops, echoes, sleeps, flaky
/// jobs that fail before they succeed, permanent failures, quota-limited reports, delayed
/// jobs), one job every 0.2 s, until shutdown.
struct DemoTrickle: Service {
    let store: any JobStore
    let server: SpoolServer

    func run() async throws {
        if try await store.quota("reports") == nil { _ = try? await store.createQuota("reports", size: 2) }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for job in DemoCommand.jobs(now: Date()).shuffled() {
                    var job = job
                    if let runAt = job.runAt { job.runAt = Date().addingTimeInterval(runAt.timeIntervalSinceNow) }
                    _ = try? await server.enqueue([job])
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }
}
