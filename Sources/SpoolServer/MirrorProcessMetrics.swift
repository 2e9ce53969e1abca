import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import SpoolMirror

/// The Prometheus metrics of a `spool mirror process`, and the small HTTP endpoint that serves
/// them at `GET /metrics` (`--metrics-listen`): units by outcome
/// (`spool_mirror_units_applied_total`, `…_duplicates_total`, `…_dead_lettered_total`,
/// `…_retried_total`) and `spool_mirror_lag_seconds`, the time from a unit's commit to its
/// application.
public final class MirrorProcessMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let counters: [MirrorProcessor.Outcome: Counter]
    private let lag: DurationHistogram

    /// A fresh registry; lag buckets from 1 ms to 60 s.
    public init() {
        let help: [MirrorProcessor.Outcome: (String, String)] = [
            .applied: ("spool_mirror_units_applied_total", "Units applied to the mirror by this process."),
            .duplicate: ("spool_mirror_units_duplicates_total", "Units delivered again after they were applied (nothing changed)."),
            .deadLettered: ("spool_mirror_units_dead_lettered_total", "Units that could not be read or applied, dead-lettered."),
            .retried: ("spool_mirror_units_retried_total", "Units handed back to be tried again."),
        ]
        counters = help.mapValues { [registry] in registry.makeCounter(name: $0.0, help: $0.1) }
        lag = registry.makeDurationHistogram(name: "spool_mirror_lag_seconds", buckets: [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ], help: "Time from a unit's commit to its application to the mirror.")
    }

    /// The observer to give the processor.
    public var observer: @Sendable (MirrorProcessor.Outcome, Duration?) -> Void {
        { [counters, lag] outcome, delay in
            counters[outcome]?.increment()
            if let delay { lag.record(max(.zero, delay)) }
        }
    }

    /// The Prometheus text exposition.
    public func render() -> [UInt8] { registry.emitToBuffer() }

    /// Serves `GET /metrics` on `host`:`port` until cancelled; `listening` gets the bound port.
    public func serve(host: String, port: Int, listening: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router()
        router.get("/metrics") { [self] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: render())))
        }
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
                              onServerRunning: { channel in listening(channel.localAddress?.port ?? 0) }, logger: Logger(label: "spool.mirror.metrics"))
        try await app.run()
    }
}
