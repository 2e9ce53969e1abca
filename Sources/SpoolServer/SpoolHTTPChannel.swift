import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

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
        let watch = ConnectionWatch(open: connections, limit: limits.maxConnections)
        do {
            try channel.pipeline.syncOperations.addHandler(watch, position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let (limits, canUpgrade) = (self.limits, self.canUpgrade)
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(HTTPGuard(limits: limits, watch: watch, canUpgrade: canUpgrade),
                                                           position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
