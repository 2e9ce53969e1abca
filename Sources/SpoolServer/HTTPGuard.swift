import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// What a connection may do before it is answered and let go: the limits ``HTTPGuard`` and
/// ``ConnectionWatch`` enforce.
struct HTTPLimits: Sendable {
    /// A connection's request head (request line and headers) must arrive within this time of
    /// its first byte (or of the connection's opening).
    var headTimeout: TimeAmount
    /// A request body may pause this long between two of its parts.
    var bodyTimeout: TimeAmount
    /// The longest request target (path and query) accepted.
    var maxTargetBytes = 8 * 1024
    /// The largest body accepted (a larger `Content-Length` is refused before the body is sent).
    var maxBodyBytes: Int
    /// How many connections may be open at once; more are answered 503 and closed.
    var maxConnections: Int

    /// The limits `configuration` sets.
    init(_ configuration: ServerConfiguration) {
        headTimeout = .nanoseconds(configuration.headTimeout.clampedNanoseconds)
        bodyTimeout = .nanoseconds(configuration.bodyTimeout.clampedNanoseconds)
        maxBodyBytes = configuration.maxBodyBytes
        maxConnections = configuration.maxConnections
    }
}

extension HTTPLimits {
    /// An answer a guard gives of its own, before a request reaches the API.
    struct Refusal {
        /// The HTTP status code.
        var status: Int
        /// The error code of the JSON error document.
        var code: String
        /// What is wrong, for the client.
        var message: String

        /// The answer's body: the API's JSON error document.
        var body: ByteBuffer { ByteBuffer(bytes: JSONBody.encode(APIError.ErrorDocument(error: .init(code: code, message: message)))) }
    }

    /// The answer to a request head not complete within ``headTimeout``.
    var headLate: Refusal {
        Refusal(status: 408, code: "request_timeout", message: "the request head did not arrive within \(headTimeout.seconds) s")
    }

    /// The answer to a request body that paused for ``bodyTimeout``.
    var bodyStalled: Refusal {
        Refusal(status: 408, code: "request_timeout", message: "the request body stalled for \(bodyTimeout.seconds) s")
    }

    /// Why a request for `target` with the `Content-Length` value `contentLength` is refused
    /// before it reaches the API (414 for a target over the limit, 413 for a declared body over
    /// the limit), or `nil`.
    func refusal(target: String, contentLength: String?) -> Refusal? {
        if target.utf8.count > maxTargetBytes {
            return Refusal(status: 414, code: "uri_too_long", message: "the request target is \(target.utf8.count) bytes; the limit is \(maxTargetBytes)")
        }
        if let contentLength, let length = Int(contentLength) ?? Int(contentLength.trimmingCharacters(in: .whitespaces)), length > maxBodyBytes {
            return Refusal(status: 413, code: "payload_too_large", message: "the request body is \(length) bytes; the limit is \(maxBodyBytes)")
        }
        return nil
    }
}

/// How many connections a server has open.
final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
}

/// Counts the server's open connections and refuses those over the limit; tells ``HTTPGuard``
/// when request bytes arrive, so a request head's deadline starts at its first byte.
///
/// It sits first in the pipeline, before the HTTP decoder, and stays for the connection's life
/// (WebSocket connections count too); once the connection is upgraded it stops telling.
final class ConnectionWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The event fired (inbound) when bytes arrive while ``tells`` is on.
    struct BytesArrived {}

    private let open: ConnectionCount
    private let limit: Int
    private var counted = false
    /// Whether reads are announced to the guard; off once the connection leaves HTTP.
    var tells = true
    /// How many bytes came before the first line end since the guard last saw a request head
    /// (counting stops at the line end): a head that overflows with a long first line is an
    /// overlong request line (414), not overlong headers (431).
    var lineLength = 0
    private var lineEnded = false

    /// Starts measuring the next request's first line.
    func requestHeadSeen() {
        lineLength = 0
        lineEnded = false
    }

    init(open: ConnectionCount, limit: Int) {
        self.open = open
        self.limit = limit
    }

    func channelActive(context: ChannelHandlerContext) {
        counted = true
        let now = open.value.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= limit else {
            tells = false
            let body = String(buffer: HTTPLimits.Refusal(status: 503, code: "too_many_connections",
                                                         message: "the server has too many open connections; try again shortly").body)
            let text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            open.value.wrappingSubtract(1, ordering: .relaxed)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if tells {
            if !lineEnded {
                let bytes = unwrapInboundIn(data).readableBytesView
                if let end = bytes.firstIndex(of: 0x0A) {
                    lineLength += end - bytes.startIndex
                    lineEnded = true
                } else {
                    lineLength += bytes.count
                }
            }
            context.fireUserInboundEventTriggered(BytesArrived())
        }
        context.fireChannelRead(data)
    }
}

/// Answers what the HTTP decoder cannot take and lets the connection go, so no client can hold
/// a connection without finishing a request: malformed or conflicting framing is answered 400,
/// an oversized head 431, an oversized target 414, a body larger than allowed 413 (before it is
/// sent, for `Expect: 100-continue`), a head not complete within ``HTTPLimits/headTimeout`` of its
/// first byte or a body that stalls for ``HTTPLimits/bodyTimeout`` 408, each with
/// `Connection: close`, and then the connection is closed.
///
/// It also answers `Expect: 100-continue` at once, and takes `Upgrade` off requests that will not
/// be upgraded (by `canUpgrade`), so those reach the API and get its JSON answer (401, 403, 400 or
/// 426) instead of a bare 400. It sits between the decoder and the upgrade handler, and once the
/// connection is upgraded it lets everything through untouched.
final class HTTPGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State: Equatable {
        /// Waiting for a request head; `armed` once its first byte came (or on a new connection).
        case waitingForHead
        /// Reading a request's body.
        case readingBody
        /// The request was read; its response is being written.
        case responding
        /// An answer of the guard's own was sent; the connection is closing.
        case closing
        /// The connection was upgraded: whatever passes is no longer HTTP, and goes through.
        case upgraded
    }

    private let limits: HTTPLimits
    private let canUpgrade: @Sendable (HTTPRequestHead) -> Bool
    private let watch: ConnectionWatch
    private var state = State.waitingForHead
    private var timer: Scheduled<Void>?
    /// Bytes of a next request arrived while the current one was answered.
    private var bytesPending = false
    private var responseStarted = false

    init(limits: HTTPLimits, watch: ConnectionWatch, canUpgrade: @escaping @Sendable (HTTPRequestHead) -> Bool) {
        self.limits = limits
        self.watch = watch
        self.canUpgrade = canUpgrade
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // A new connection must send its first request head within the head timeout.
        armHeadDeadline(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ConnectionWatch.BytesArrived {
            switch state {
            case .waitingForHead where timer == nil:
                armHeadDeadline(context)
            case .readingBody, .responding:
                bytesPending = true
            default:
                break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .closing: return
        case .upgraded: context.fireChannelRead(data)
        default: read(context, unwrapInboundIn(data))
        }
    }

    private func read(_ context: ChannelHandlerContext, _ part: HTTPServerRequestPart) {
        switch part {
        case .head(var head):
            disarm()
            responseStarted = false
            watch.requestHeadSeen()
            if let refusal = refusal(of: head) {
                answer(context, refusal)
                return
            }
            if head.headers.contains(name: "upgrade"), !canUpgrade(head) {
                head.headers.remove(name: "upgrade")
                let tokens = head.headers["connection"].flatMap { $0.split(separator: ",") }
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.lowercased() != "upgrade" }
                head.headers.remove(name: "connection")
                if !tokens.isEmpty { head.headers.add(name: "connection", value: tokens.joined(separator: ", ")) }
            }
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                head.headers.remove(name: "expect")
                if head.version.major == 1, head.version.minor >= 1 {
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
                }
            }
            state = .readingBody
            arm(context, limits.bodyTimeout, limits.bodyStalled)
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            if case .readingBody = state { arm(context, limits.bodyTimeout, limits.bodyStalled) }
            context.fireChannelRead(wrapInboundOut(part))
        case .end:
            disarm()
            if case .readingBody = state { state = .responding }
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    /// Why a request head is refused before it reaches the API, or `nil`.
    private func refusal(of head: HTTPRequestHead) -> HTTPLimits.Refusal? {
        limits.refusal(target: head.uri, contentLength: head.headers["content-length"].first)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state != .upgraded else {
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status == .switchingProtocols:
            // The upgrade handler is answering 101: from here on the connection speaks WebSocket.
            state = .upgraded
            watch.tells = false
            disarm()
        case .head(let head) where head.status.code >= 200:
            responseStarted = true
        case .end:
            if case .responding = state {
                state = .waitingForHead
                if bytesPending {
                    bytesPending = false
                    armHeadDeadline(context)
                }
            }
        default:
            break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard state != .upgraded, let error = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch error {
        case .headerOverflow where watch.lineLength > limits.maxTargetBytes:
            answer(context, .init(status: 414, code: "uri_too_long", message: "the request line is longer than the server accepts"))
        case .headerOverflow:
            answer(context, .init(status: 431, code: "headers_too_large", message: "the request headers are larger than the server accepts"))
        default:
            answer(context, .init(status: 400, code: "malformed_request", message: "the request is not valid HTTP/1.1: \(error)"))
        }
    }

    /// Sends an answer of the guard's own, unless a response is already under way, and closes.
    private func answer(_ context: ChannelHandlerContext, _ refusal: HTTPLimits.Refusal) {
        guard state != .closing, state != .upgraded else { return }
        state = .closing
        disarm()
        watch.tells = false
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        let body = refusal.body
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: refusal.status), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    private func arm(_ context: ChannelHandlerContext, _ delay: TimeAmount, _ refusal: HTTPLimits.Refusal) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.answer(context, refusal)
        }
    }

    private func armHeadDeadline(_ context: ChannelHandlerContext) {
        arm(context, limits.headTimeout, limits.headLate)
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

extension TimeAmount {
    /// Whole seconds, for messages.
    var seconds: Int64 { nanoseconds / 1_000_000_000 }
}
