import NIOCore

extension ConnectionStateMachine {
    /// Applies one decoded frame from the broker.
    mutating func receive(_ frame: Frame) throws(AMQPError) -> [Action] {
        switch frame {
        case .heartbeat:
            return []
        case .method(0, let method):
            return try receiveConnectionMethod(method)
        case .method(let channel, let method):
            return try receive(method, on: channel)
        case .header(let channel, let header):
            guard case .open(.awaitingHeader(let method)) = channels[channel] else {
                if case .closing = channels[channel] { return [] }
                throw unexpected("content header on channel \(channel)")
            }
            if header.bodySize == 0 {
                channels[channel] = .open(.idle)
                return [.content(channel: channel, method, header.properties, allocator.buffer(capacity: 0))]
            }
            let body = allocator.buffer(capacity: Int(min(header.bodySize, UInt64(frameMax))))
            channels[channel] = .open(.awaitingBody(method, header.properties, remaining: header.bodySize, body: body))
            return []
        case .body(let channel, var chunk):
            guard case .open(.awaitingBody(let method, let properties, let remaining, var body)) = channels[channel] else {
                if case .closing = channels[channel] { return [] }
                throw unexpected("content body on channel \(channel)")
            }
            guard UInt64(chunk.readableBytes) <= remaining else {
                throw AMQPError(.frameError, "content body on channel \(channel) is longer than its header announced")
            }
            let left = remaining - UInt64(chunk.readableBytes)
            body.writeBuffer(&chunk)
            if left == 0 {
                channels[channel] = .open(.idle)
                return [.content(channel: channel, method, properties, body)]
            }
            channels[channel] = .open(.awaitingBody(method, properties, remaining: left, body: body))
            return []
        }
    }

    private mutating func receiveConnectionMethod(_ method: Method) throws(AMQPError) -> [Action] {
        switch (state, method) {
        case (.awaitingStart, .connectionStart(let start)):
            guard start.mechanisms.split(separator: " ").contains("PLAIN") else {
                throw AMQPError(.connectionFailed, "the broker does not offer PLAIN authentication")
            }
            state = .awaitingTune
            serverProperties = start.serverProperties
            let response = [0] + Array(configuration.user.utf8) + [0] + Array(configuration.password.utf8)
            let startOk = Method.ConnectionStartOk(clientProperties: configuration.clientProperties,
                                                   mechanism: "PLAIN", response: response, locale: "en_US")
            return [try writingThrowing([.method(channel: 0, .connectionStartOk(startOk))])]
        case (.awaitingTune, .connectionTune(let proposal)):
            let tuning = negotiate(proposal)
            negotiated = Negotiated(channelMax: tuning.channelMax, frameMax: tuning.frameMax,
                                    heartbeat: tuning.heartbeat, serverProperties: serverProperties)
            state = .awaitingOpenOk
            return [try writingThrowing([.method(channel: 0, .connectionTuneOk(tuning)),
                                         .method(channel: 0, .connectionOpen(virtualHost: configuration.virtualHost))])]
        case (.awaitingOpenOk, .connectionOpenOk):
            state = .open
            return negotiated.map { [.opened($0)] } ?? []
        case (_, .connectionClose(let close)):
            let code: AMQPError.Code = state == .open || state == .closing ? .connectionClosed : .connectionFailed
            state = .closed
            let error = AMQPError(code, close.replyText, replyCode: close.replyCode)
            return [writing([.method(channel: 0, .connectionCloseOk)]), .closed(error)]
        case (.closing, .connectionCloseOk):
            state = .closed
            return [.closed(nil)]
        case (.open, .connectionBlocked(let reason)):
            return [.blocked(reason)]
        case (.open, .connectionUnblocked):
            return [.blocked(nil)]
        case (.closing, _):
            return []
        default:
            throw unexpected("\(method.ids) on channel 0 while \(state)")
        }
    }

    private mutating func receive(_ method: Method, on channel: UInt16) throws(AMQPError) -> [Action] {
        guard let channelState = channels[channel] else {
            if state == .closing { return [] }
            throw unexpected("method \(method.ids) on unknown channel \(channel)")
        }
        switch (channelState, method) {
        case (.opening, .channelOpenOk):
            channels[channel] = .open(.idle)
            return [.channelOpened(channel)]
        case (_, .channelClose(let close)):
            channels[channel] = nil
            let error = AMQPError(.channelClosed, close.replyText, replyCode: close.replyCode)
            return [writing([.method(channel: channel, .channelCloseOk)]), .channelClosed(channel, error)]
        case (.closing, .channelCloseOk):
            channels[channel] = nil
            return [.channelClosed(channel, nil)]
        case (.closing, _):
            return []
        case (.open(.idle), .channelFlow(let active)):
            return [writing([.method(channel: channel, .channelFlowOk(active: active))])]
        case (.open(.idle), _) where method.hasContent:
            channels[channel] = .open(.awaitingHeader(method))
            return []
        case (.open(.idle), _):
            return [.method(channel: channel, method)]
        default:
            throw unexpected("method \(method.ids) on channel \(channel)")
        }
    }

    private func negotiate(_ proposal: Method.Tuning) -> Method.Tuning {
        func limit<T: FixedWidthInteger>(_ server: T, _ client: T) -> T {
            server == 0 || client == 0 ? max(server, client) : min(server, client)
        }
        var frameMax = limit(proposal.frameMax, configuration.frameMax)
        if frameMax != 0 { frameMax = max(frameMax, Frame.minimumSize) }
        return Method.Tuning(channelMax: limit(proposal.channelMax, configuration.channelMax), frameMax: frameMax,
                             heartbeat: limit(proposal.heartbeat, configuration.heartbeat))
    }

    func unexpected(_ what: String) -> AMQPError {
        AMQPError(.protocolViolation, "unexpected \(what)")
    }

    /// Ends the connection because of `error`, telling the broker why when `reply` is given.
    mutating func fail(_ error: AMQPError, reply: UInt16?) -> [Action] {
        let wasOpen = state != .idle && state != .awaitingStart
        state = .closed
        var actions: [Action] = []
        if let reply, wasOpen {
            let close = Method.Close(replyCode: reply, replyText: String(decoding: error.message.utf8.prefix(200), as: UTF8.self))
            actions.append(writing([.method(channel: 0, .connectionClose(close))]))
        }
        return actions + [.closed(error)]
    }

    /// Encodes frames that cannot fail to encode.
    mutating func writing(_ frames: [Frame]) -> Action {
        (try? writingThrowing(frames)) ?? .write(allocator.buffer(capacity: 0))
    }

    /// Encodes frames into one write, marking the connection as active for heartbeats. A frame
    /// larger than the negotiated frame-max throws ``AMQPError/Code-swift.struct/frameTooLarge``
    /// and nothing is written: the broker would close the connection for it.
    mutating func writingThrowing(_ frames: [Frame]) throws(AMQPError) -> Action {
        var buffer = allocator.buffer(capacity: 256)
        let limit = frameMax == 0 ? Int.max : Int(frameMax)
        for frame in frames {
            let start = buffer.writerIndex
            try frame.encode(into: &buffer)
            let size = buffer.writerIndex - start
            guard size <= limit else {
                throw AMQPError(.frameTooLarge, "a \(frame.kindName) frame of \(size) bytes is over the negotiated frame-max of \(limit) "
                                + "bytes (a message's headers must fit one frame); nothing was sent")
            }
        }
        sentSinceTick = true
        return .write(buffer)
    }
}
