import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import SpoolCore

/// The server's connections: Hummingbird's HTTP/1.1 channel with WebSocket upgrades, guarded by
/// ``ConnectionWatch`` (a cap on open connections) and ``HTTPGuard`` (deadlines for request
/// heads and bodies, answers for malformed HTTP, `Expect: 100-continue`), so that nothing a
/// client sends or withholds can pin a connection.
struct SpoolHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let inner: HTTP1WebSocketUpgradeChannel
    let limits: HTTPLimits
    let connections: ConnectionCount
    /// Whether a request head with `Upgrade` will be upgraded; others lose the header.
    let canUpgrade: @Sendable (HTTPRequestHead) -> Bool

    var responder: Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let watch = makeWatch()
        do {
            try channel.pipeline.syncOperations.addHandler(watch, position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return setup(channel: channel, watch: watch, logger: logger)
    }

    /// A watch for a new connection, counted against this server's connections.
    func makeWatch() -> ConnectionWatch {
        ConnectionWatch(open: connections, limit: limits.maxConnections)
    }

    /// Sets up HTTP/1.1 on a connection whose `watch` is already in the pipeline (after TLS, when
    /// there is TLS): the decoder, the guard and the upgrade handler.
    func setup(channel: any Channel, watch: ConnectionWatch, logger: Logger) -> EventLoopFuture<Value> {
        let (limits, canUpgrade) = (self.limits, self.canUpgrade)
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(HTTPGuard(limits: limits, watch: watch, canUpgrade: canUpgrade),
                                                           position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        var quieter = logger
        quieter.handler = ClosedBeforeRequest(wrapping: logger.handler)
        await EventLoopExecutor.run(on: value.channel.eventLoop) {
            await inner.handle(value: value, logger: quieter)
        }
    }
}

/// Logs a connection that ended before it sent a whole request (a client that left, or one
/// ``HTTPGuard`` answered and closed) at debug level: Hummingbird reports it as an error of
/// the upgrade, and a client must not be able to fill the log with errors.
private struct ClosedBeforeRequest: WrappingLogHandler {
    var wrapped: any LogHandler

    init(wrapping handler: any LogHandler) { wrapped = handler }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let closedEarly = message.description == "Error handling upgrade result"
        let level = closedEarly ? .debug : level
        guard level >= wrapped.logLevel else { return }
        wrapped.log(level: level, message: message, metadata: metadata, source: source, file: file, function: function, line: line)
    }
}
