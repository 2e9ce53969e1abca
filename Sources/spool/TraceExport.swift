import Foundation
import Instrumentation
import Logging
import OTel
import ServiceLifecycle
import SpoolCore
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
        // swift-otel reports each OTEL_* variable it reads, values included: those of the
        // *_HEADERS variables are the collector's credentials.
        var diagnostics = Logger(label: "spool.otel") { label in MaskedHeaders(wrapped: StreamLogHandler.standardError(label: label)) }
        diagnostics.logLevel = .warning
        configuration.diagnosticLogger = .custom(diagnostics)
        configuration.diagnosticLogLevel = .warning
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

/// A log handler that masks the values logged with an `environment_key` naming an `OTEL_*HEADERS`
/// variable (swift-otel logs `environment_value`, `new_value` and `previous_value` beside it).
struct MaskedHeaders: WrappingLogHandler {
    var wrapped: any LogHandler

    func log(event: LogEvent) {
        var event = event, handler = wrapped
        // swift-otel sets these on its logger, not on the event: mask both.
        let key = event.metadata?["environment_key"] ?? handler.metadata["environment_key"]
        if let key, "\(key)".uppercased().contains("HEADERS") {
            handler.metadata = Self.masked(handler.metadata)
            event.metadata = event.metadata.map(Self.masked)
        }
        handler.log(event: event)
    }

    /// `metadata` with the values swift-otel logs for an environment variable replaced by `***`.
    static func masked(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var metadata = metadata
        for name in ["environment_value", "new_value", "previous_value"] where metadata[name] != nil {
            metadata[name] = "***"
        }
        return metadata
    }
}
