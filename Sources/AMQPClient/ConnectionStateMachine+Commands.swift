import NIOCore

extension ConnectionStateMachine {
    /// Opens channel `id` (from ``nextFreeChannel()``); ``Action/channelOpened(_:)`` follows.
    mutating func openChannel(_ id: UInt16) throws(AMQPError) -> [Action] {
        try requireOpen()
        guard id != 0, channels[id] == nil, id <= (negotiated?.channelMax ?? 0) || negotiated?.channelMax == 0 else {
            throw AMQPError(.channelLimitReached, "channel \(id) is in use or above the negotiated channel-max")
        }
        channels[id] = .opening
        return [try writingThrowing([.method(channel: id, .channelOpen)])]
    }

    /// Sends a method without content on an open channel.
    mutating func send(_ method: Method, on channel: UInt16) throws(AMQPError) -> [Action] {
        try requireOpen(channel: channel)
        return [try writingThrowing([.method(channel: channel, method)])]
    }

    /// Sends `basic.publish` with its content header and the body split into frames that fit frame-max.
    mutating func publish(
        _ publish: Method.Publish, properties: AMQPBasicProperties, body: ByteBuffer, on channel: UInt16
    ) throws(AMQPError) -> [Action] {
        try requireOpen(channel: channel)
        var frames: [Frame] = [
            .method(channel: channel, .basicPublish(publish)),
            .header(channel: channel, Frame.ContentHeader(bodySize: UInt64(body.readableBytes), properties: properties)),
        ]
        let chunkSize = Int(min(UInt64(frameMax) - UInt64(Frame.overhead), UInt64(Int32.max)))
        var remaining = body
        while remaining.readableBytes > 0, let chunk = remaining.readSlice(length: min(chunkSize, remaining.readableBytes)) {
            frames.append(.body(channel: channel, chunk))
        }
        return [try writingThrowing(frames)]
    }

    /// Starts closing a channel; ``Action/channelClosed(_:_:)`` with `nil` follows the broker's `close-ok`.
    mutating func closeChannel(_ channel: UInt16) throws(AMQPError) -> [Action] {
        try requireOpen(channel: channel)
        channels[channel] = .closing
        let close = Method.Close(replyCode: AMQPError.ReplyCode.success, replyText: "closed by the client")
        return [try writingThrowing([.method(channel: channel, .channelClose(close))])]
    }

    /// Starts closing the connection; ``Action/closed(_:)`` with `nil` follows the broker's `close-ok`.
    mutating func close() -> [Action] {
        switch state {
        case .open:
            state = .closing
            let close = Method.Close(replyCode: AMQPError.ReplyCode.success, replyText: "closed by the client")
            return [writing([.method(channel: 0, .connectionClose(close))])]
        case .closing, .closed:
            return []
        case .idle, .awaitingStart, .awaitingTune, .awaitingOpenOk:
            state = .closed
            return [.closed(nil)]
        }
    }

    private func requireOpen() throws(AMQPError) {
        guard state == .open else { throw AMQPError(.connectionClosed, "the connection is not open") }
    }

    private func requireOpen(channel: UInt16) throws(AMQPError) {
        try requireOpen()
        guard isOpen(channel: channel) else { throw AMQPError(.channelClosed, "channel \(channel) is not open") }
    }
}
