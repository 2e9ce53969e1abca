import Logging

/// A log handler that changes some records on their way to another handler: it forwards its
/// level and metadata to ``wrapped`` and writes through it.
public protocol WrappingLogHandler: LogHandler {
    /// The handler records go to.
    var wrapped: any LogHandler { get set }
}

extension WrappingLogHandler {
    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }
}
