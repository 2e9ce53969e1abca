import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// The server's HTTPS connections: TLS, then HTTP/2 when the client offers it by ALPN (`h2`) and
/// HTTP/1.1 (with WebSocket upgrades) otherwise.
///
/// Both keep the plain server's defences: ``ConnectionWatch`` counts the connection (after TLS,
/// so that it sees the request's bytes), the TLS handshake and protocol choice must end within
/// ``HTTPLimits/headTimeout``, an HTTP/1.1 connection gets ``HTTPGuard`` as on plain HTTP, and
/// each HTTP/2 stream gets ``HTTP2StreamGuard``; HTTP/2 itself bounds a connection's concurrent
/// streams and header block size, and closes a connection idle for the idle timeout.
struct SpoolSecureChannel: ServerChildChannel, HTTPChannelHandler {
    /// A connection whose protocol is known once its handshake ends.
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<SpoolHTTPChannel.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    private let http1: SpoolHTTPChannel
    private let http2: HTTP2Channel
    private let context: NIOSSLContext

    var responder: Responder { http1.responder }

    /// HTTPS with `tls` (whose application protocols become `h2` and `http/1.1`), HTTP/1.1 served
    /// by `http1`, and HTTP/2 connections closed after `idleTimeout` without open streams.
    init(http1: SpoolHTTPChannel, tls: TLSConfiguration, idleTimeout: Duration?) throws {
        var tls = tls
        tls.applicationProtocols = NIOHTTP2SupportedALPNProtocols
        context = try NIOSSLContext(configuration: tls)
        self.http1 = http1
        let limits = http1.limits
        http2 = HTTP2Channel(responder: http1.responder, configuration: .init(
            idleTimeout: idleTimeout,
            streamConfiguration: .init(additionalChannelHandlers: [HTTP2StreamGuard(limits: limits)])))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let watch = http1.makeWatch()
        do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
            try channel.pipeline.syncOperations.addHandler(watch)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let (http1, http2) = (self.http1, self.http2)
        let boundWatch = NIOLoopBound(watch, eventLoop: channel.eventLoop)
        return channel.configureHTTP2AsyncSecureUpgrade { channel in
            http1.setup(channel: channel, watch: boundWatch.value, logger: logger)
        } http2ConnectionInitializer: { channel in
            boundWatch.value.tells = false
            return http2.setup(channel: channel, logger: logger)
        }.map { negotiated in
            let deadline = channel.eventLoop.scheduleTask(in: http1.limits.headTimeout) { channel.close(promise: nil) }
            negotiated.whenComplete { _ in deadline.cancel() }
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection):
                await http1.handle(value: connection, logger: logger)
            case .http2(let connection):
                await EventLoopExecutor.run(on: value.channel.eventLoop) {
                    await http2.handle(value: connection, logger: logger)
                }
            }
        } catch {
            logger.debug("connection closed before its TLS handshake and protocol choice ended: \(error)")
        }
    }
}
