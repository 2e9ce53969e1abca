import Foundation
import Instrumentation
import OTel
import ServiceLifecycle
import Tracing

/// Trace export for `spool serve` and `spool worker` (DESIGN §11): when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, Spool's spans
/// (``JobTracing``) go to that collector with swift-otel over OTLP/HTTP (protobuf unless
/// `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), configured by the usual `OTEL_*` variables
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, …). Without one, no
/// tracer is installed and tracing costs nothing. Only traces: logs and metrics keep their own
/// outputs (standard error, `/metrics`).
enum TraceExport {
    /// Installs the exporting tracer when the environment asks for one and returns its service
    /// (run it first in the service group, so it shuts down last and sends what the others'
    /// shutdown traced); `nil` when tracing is off.
    static func bootstrap(serviceName: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (any Service)? {
        guard enabled(environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        return backend.service
    }

    /// Whether `environment` names a collector and does not turn tracing off.
    static func enabled(_ environment: [String: String]) -> Bool {
        let endpoint = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"].contains { !(environment[$0] ?? "").isEmpty }
        return endpoint && environment["OTEL_SDK_DISABLED"]?.lowercased() != "true" && environment["OTEL_TRACES_EXPORTER"]?.lowercased() != "none"
    }
}
