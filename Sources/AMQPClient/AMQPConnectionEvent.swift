/// Something that happened to a connection, for logs, metrics and tests: see ``AMQPConnection/events()``.
public enum AMQPConnectionEvent: Hashable, Sendable {
    /// The connection broke and recovery started.
    case recovering(AMQPError)
    /// Recovery finished: channels, topology, prefetch, confirm mode and consumers are back, and
    /// unconfirmed publishes were re-sent.
    case recovered
    /// The broker stopped accepting publishes (it is low on memory or disk), for this reason.
    case blocked(String)
    /// The broker accepts publishes again.
    case unblocked
    /// The connection is closed for good: `nil` when the client closed it, else why it ended.
    case closed(AMQPError?)
}
