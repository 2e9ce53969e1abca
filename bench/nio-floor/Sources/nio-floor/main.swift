// `nio-floor PORT`: answers every request on 127.0.0.1:PORT with a constant 201 and a JSON body
// the size of Spool's answer to an enqueue, using only SwiftNIO's HTTP/1 pipeline: no router,
// no middleware, no store. Build with `swift build -c release` in this directory.
import NIOCore
import NIOHTTP1
import NIOPosix

/// Answers each whole request with the same 201.
final class ConstantAnswer: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let body = ByteBuffer(string: #"{"id":"0190a0a0-0000-7000-8000-000000000000","state":"available","queue":"default","subscribeToken":"1765000000.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}"#)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .created, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    print("usage: nio-floor PORT")
    exit(2)
}
let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(ConstantAnswer())
        }
    }
    .bind(host: "127.0.0.1", port: port).wait()
try channel.closeFuture.wait()
