import NIOCore

/// The NIO handler of one socket: it hands bytes and socket events to the ``ConnectionCore`` and does
/// nothing else; the state machine decides, the core executes.
final class FrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let core: ConnectionCore
    private let generation: UInt64

    init(core: ConnectionCore, generation: UInt64) {
        self.core = core
        self.generation = generation
    }

    func channelActive(context: ChannelHandlerContext) {
        core.socketActive(generation, context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.bytesReceived(generation, unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.socketClosed(generation)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.socketError(generation, error)
        context.close(promise: nil)
    }
}
