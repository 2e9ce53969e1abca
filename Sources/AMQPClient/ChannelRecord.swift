import NIOCore

/// What the connection knows about one logical channel, across recoveries. Confined to the
/// connection's event loop.
final class ChannelRecord: @unchecked Sendable {
    enum State {
        case opening(EventLoopPromise<Void>)
        case open
        case closing(EventLoopPromise<Void>)
        case closed(AMQPError)
    }

    /// A reply to a synchronous method: a method, or `basic.get-ok` with its content.
    enum Reply {
        case method(Method)
        case content(Method, AMQPBasicProperties, ByteBuffer)
    }

    struct PendingPublish {
        var publish: Method.Publish
        var properties: AMQPBasicProperties
        var body: ByteBuffer
        var promise: EventLoopPromise<Void>
    }

    struct Consumer {
        var consume: Method.Consume
        var continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
    }

    let id: UInt16
    var state: State
    var pendingReplies = CircularBuffer<EventLoopPromise<Reply>>()
    var prefetch: (count: UInt16, global: Bool)?
    var confirmMode = false
    var confirms = ConfirmLedger<PendingPublish>()
    var consumers: [String: Consumer] = [:]
    /// Where messages the broker returns (`basic.return`) go, once someone asked for them.
    var returns: AsyncStream<AMQPReturnedMessage>.Continuation?

    init(id: UInt16, opening promise: EventLoopPromise<Void>) {
        self.id = id
        self.state = .opening(promise)
    }

    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// The error operations on a channel that is not open fail with.
    var unavailableError: AMQPError {
        if case .closed(let error) = state { return error }
        return AMQPError(.channelClosed, "channel \(id) is not open")
    }

    /// The connection under the channel broke: replies in flight fail, unconfirmed publishes wait
    /// to be re-sent, unless the broker closed the connection refusing something the client sent
    /// (``AMQPError/ReplyCode/refusingWhatWasSent``): then the publishes it had received unconfirmed
    /// fail to their callers and only those never sent wait. Returns `false` when the channel cannot be recovered (it was opening or closing).
    func connectionLost(_ error: AMQPError) -> Bool {
        while let reply = pendingReplies.popFirst() { reply.fail(error) }
        if let code = error.replyCode, AMQPError.ReplyCode.refusingWhatWasSent.contains(code) {
            let refused = AMQPError(.connectionClosed, """
                the broker closed the connection (\(code) \(error.message)) while this publish was unconfirmed; \
                it is not sent again, as it may be what the broker refused
                """, replyCode: code)
            for pending in confirms.removeSent() { pending.promise.fail(refused) }
        }
        confirms.sessionEnded()
        switch state {
        case .opening(let promise):
            promise.fail(error)
            return false
        case .closing(let promise):
            promise.succeed()
            return false
        case .open, .closed:
            return true
        }
    }

    /// The channel is gone for good: everything waiting on it ends with `error`, or normally when `nil`.
    func finish(_ error: AMQPError?) {
        let failure = error ?? AMQPError(.channelClosed, "channel \(id) was closed by the client")
        while let reply = pendingReplies.popFirst() { reply.fail(failure) }
        for pending in confirms.removeAll() { pending.promise.fail(failure) }
        for consumer in consumers.values {
            if let error { consumer.continuation.finish(throwing: error) } else { consumer.continuation.finish() }
        }
        consumers.removeAll()
        returns?.finish()
        returns = nil
        switch state {
        case .opening(let promise): promise.fail(failure)
        case .closing(let promise): promise.succeed()
        case .open, .closed: break
        }
        state = .closed(failure)
    }
}
