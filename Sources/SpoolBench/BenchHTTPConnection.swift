import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection to a Spool server, for `spool bench --http`.
///
/// Requests may overlap (they are pipelined); responses come back in request order, each
/// answering the oldest request still waiting.
final class BenchHTTPConnection: Sendable {
    /// A response: its status code and body.
    struct Response: Sendable {
        var status: UInt
        var body: ByteBuffer
    }

    private let channel: any Channel
    private let host: String
    private let token: String?

    private init(channel: any Channel, host: String, token: String?) {
        self.channel = channel
        self.host = host
        self.token = token
    }

    /// Connects to `host:port`; `token` goes in every request's `Authorization` header.
    static func connect(host: String, port: Int, token: String?) async throws -> BenchHTTPConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseMatcher())
                }
            }
            .connect(host: host, port: port).get()
        return BenchHTTPConnection(channel: channel, host: "\(host):\(port)", token: token)
    }

    /// Sends one request and returns its response.
    func request(_ method: HTTPMethod, _ path: String, json body: String? = nil) async throws -> Response {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        if let token { headers.add(name: "Authorization", value: "Bearer " + token) }
        var buffer: ByteBuffer?
        if let body {
            let bytes = ByteBuffer(string: body)
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(bytes.readableBytes))
            buffer = bytes
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        let promise = channel.eventLoop.makePromise(of: Response.self)
        channel.writeAndFlush(PendingRequest(head: head, body: buffer, response: promise), promise: nil)
        return try await promise.futureResult.get()
    }

    /// Closes the connection.
    func close() async {
        try? await channel.close()
    }
}

/// A request on its way out, with the promise its response fulfils.
private struct PendingRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var response: EventLoopPromise<BenchHTTPConnection.Response>
}

/// Writes requests and pairs each response with the oldest request waiting for one.
private final class ResponseMatcher: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var waiting = CircularBuffer<EventLoopPromise<BenchHTTPConnection.Response>>()
    private var status: UInt = 0
    private var body = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append(request.response)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            waiting.popFirst()?.succeed(.init(status: status, body: body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}
