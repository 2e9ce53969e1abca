import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// ``HTTPGuard``'s counterpart on an HTTP/2 stream: refuses a target over the limit (414) or a
/// declared body over the limit (413) before the request reaches the API, answers
/// `Expect: 100-continue` at once, and answers a body that stalls for
/// ``HTTPLimits/bodyTimeout`` with 408; each of its own answers ends the stream, not the
/// connection.
///
/// What the HTTP/1.1 guard does for a whole connection, HTTP/2 does by itself: request heads
/// arrive whole in one header block bounded by the advertised header list size, and a connection
/// without open streams is closed after the idle timeout.
final class HTTP2StreamGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: HTTPLimits
    private var timer: Scheduled<Void>?
    private var readingBody = false
    private var responseStarted = false
    private var answered = false

    init(limits: HTTPLimits) {
        self.limits = limits
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(var request):
            if let refusal = limits.refusal(target: request.path ?? "", contentLength: request.headerFields[.contentLength]) {
                answer(context, refusal)
                return
            }
            if request.headerFields[.expect]?.lowercased() == "100-continue" {
                request.headerFields[.expect] = nil
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
            readingBody = true
            armBodyDeadline(context)
            context.fireChannelRead(wrapInboundOut(.head(request)))
        case .body:
            if readingBody { armBodyDeadline(context) }
            context.fireChannelRead(data)
        case .end:
            readingBody = false
            disarm()
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(let response) = unwrapOutboundIn(data), response.status.kind != .informational {
            responseStarted = true
        }
        context.write(data, promise: promise)
    }

    /// Sends an answer of the guard's own, unless a response is already under way, and ends the stream.
    private func answer(_ context: ChannelHandlerContext, _ refusal: HTTPLimits.Refusal) {
        guard !answered else { return }
        answered = true
        disarm()
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        let body = refusal.body
        let head = HTTPResponse(status: .init(code: refusal.status),
                                headerFields: [.contentType: "application/json; charset=utf-8", .contentLength: "\(body.readableBytes)"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    private func armBodyDeadline(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let stalled = limits.bodyStalled
        timer = context.eventLoop.scheduleTask(in: limits.bodyTimeout) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.answer(context, stalled)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
