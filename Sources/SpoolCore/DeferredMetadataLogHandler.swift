import Logging

/// Keeps a logger's metadata to itself and hands it to the wrapped handler only with a record.
///
/// Hummingbird gives every request a logger with a request id of its own; swift-log's stream
/// handler renders all its metadata again at every such change, which on a busy server costs
/// more per request than routing it, although almost no request logs anything. Wrapped in this
/// handler, a metadata change costs a dictionary write.
public struct DeferredMetadataLogHandler: LogHandler {
    /// The handler records go to.
    public var wrapped: any LogHandler
    /// The metadata every record of this logger carries (explicit metadata of a record wins).
    public var metadata: Logger.Metadata = [:]

    /// A handler that writes through `handler`.
    public init(wrapping handler: any LogHandler) {
        wrapped = handler
    }

    /// The wrapped handler's level.
    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    /// One metadata value of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Passes the record to the wrapped handler with this logger's metadata merged in.
    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let merged = explicit.map { metadata.merging($0) { $1 } } ?? metadata
        wrapped.log(level: level, message: message, metadata: merged.isEmpty ? nil : merged, source: source,
                    file: file, function: function, line: line)
    }
}
