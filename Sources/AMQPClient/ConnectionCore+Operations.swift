import NIOCore

extension ConnectionCore {
    /// Opens a new logical channel on the lowest free channel number.
    func openChannel() -> EventLoopFuture<ChannelRecord> {
        if let error = unavailableError { return eventLoop.makeFailedFuture(error) }
        guard let id = machine.nextFreeChannel() else {
            return eventLoop.makeFailedFuture(AMQPError(.channelLimitReached, "every channel number is in use"))
        }
        let promise = eventLoop.makePromise(of: Void.self)
        let record = ChannelRecord(id: id, opening: promise)
        records[id] = record
        do {
            execute(try machine.openChannel(id))
        } catch {
            records[id] = nil
            return eventLoop.makeFailedFuture(error)
        }
        return promise.futureResult.map { record }
    }

    /// Reopens a recovered channel under its old number on the new connection.
    func reopen(_ record: ChannelRecord) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        record.state = .opening(promise)
        do {
            execute(try machine.openChannel(record.id))
        } catch {
            promise.fail(error)
        }
        return promise.futureResult
    }

    /// Sends a synchronous method and returns the broker's reply. Recovery passes `recovering`
    /// to use the channel before the connection counts as open again.
    func call(_ method: Method, on record: ChannelRecord, recovering: Bool = false) -> EventLoopFuture<ChannelRecord.Reply> {
        if !recovering, let error = unavailableError { return eventLoop.makeFailedFuture(error) }
        guard record.isOpen else { return eventLoop.makeFailedFuture(record.unavailableError) }
        let promise = eventLoop.makePromise(of: ChannelRecord.Reply.self)
        do {
            let actions = try machine.send(method, on: record.id)
            record.pendingReplies.append(promise)
            execute(actions)
        } catch {
            promise.fail(error)
        }
        return promise.futureResult
    }

    /// Sends a method the broker does not answer. Acknowledgements pass `recovering`: a delivery
    /// from the current socket may be settled while the rest of the connection is still recovering.
    func send(_ method: Method, on record: ChannelRecord, recovering: Bool = false) -> EventLoopFuture<Void> {
        if !recovering, let error = unavailableError { return eventLoop.makeFailedFuture(error) }
        guard record.isOpen else { return eventLoop.makeFailedFuture(record.unavailableError) }
        do {
            execute(try machine.send(method, on: record.id))
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// Acknowledges or rejects a delivery; one from an earlier connection is skipped (the future
    /// holds `false`), since the broker has already put it back in its queue.
    func settle(_ delivery: AMQPDelivery, with method: Method, on record: ChannelRecord) -> EventLoopFuture<Bool> {
        guard delivery.channelID == record.id else {
            return eventLoop.makeFailedFuture(AMQPError(.invalidArgument, "the delivery arrived on another channel"))
        }
        guard delivery.generation == generation, machine.isOpen(channel: record.id) else {
            return eventLoop.makeSucceededFuture(false)
        }
        return send(method, on: record, recovering: true).map { true }
    }

    /// Publishes a message; in confirm mode the future completes when the broker confirms it.
    func publish(_ pending: ChannelRecord.PendingPublish, on record: ChannelRecord) {
        switch (record.state, phase) {
        case (.open, .open):
            do {
                let actions = try machine.publish(pending.publish, properties: pending.properties, body: pending.body,
                                                  on: record.id)
                if record.confirmMode { _ = record.confirms.recordSent(pending) } else { pending.promise.succeed() }
                execute(actions)
            } catch {
                pending.promise.fail(error)
            }
        case (.open, _):
            pending.promise.fail(unavailableError ?? record.unavailableError)
        default:
            pending.promise.fail(record.unavailableError)
        }
    }

    /// Registers a consumer and sends `basic.consume`; the stream yields its deliveries.
    func consume(_ consume: Method.Consume, on record: ChannelRecord) -> EventLoopFuture<AMQPConsumer> {
        var consume = consume
        if consume.consumerTag.isEmpty {
            consumerCounter += 1
            consume.consumerTag = "amqp-client.\(record.id).\(consumerCounter)"
        }
        let tag = consume.consumerTag
        guard record.consumers[tag] == nil else {
            return eventLoop.makeFailedFuture(AMQPError(.invalidArgument, "consumer tag \(tag) is in use"))
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: AMQPDelivery.self, throwing: (any Error).self)
        record.consumers[tag] = ChannelRecord.Consumer(consume: consume, continuation: continuation)
        continuation.onTermination = { [self] termination in
            guard case .cancelled = termination else { return }
            eventLoop.execute { _ = self.cancel(consumerTag: tag, on: record) }
        }
        let consumer = AMQPConsumer(consumerTag: tag, stream: stream) { [self] in
            try await eventLoop.flatSubmit { self.cancel(consumerTag: tag, on: record) }.get()
        }
        return call(.basicConsume(consume), on: record).flatMapErrorThrowing { error in
            if let registered = record.consumers.removeValue(forKey: tag) { registered.continuation.finish(throwing: error) }
            throw error
        }.map { _ in consumer }
    }

    /// Cancels a consumer; its sequence ends after the deliveries already received.
    func cancel(consumerTag tag: String, on record: ChannelRecord) -> EventLoopFuture<Void> {
        guard record.consumers[tag] != nil else { return eventLoop.makeSucceededVoidFuture() }
        guard unavailableError == nil, record.isOpen else {
            record.consumers.removeValue(forKey: tag)?.continuation.finish()
            return eventLoop.makeSucceededVoidFuture()
        }
        return call(.basicCancel(consumerTag: tag, noWait: false), on: record).map { _ in
            record.consumers.removeValue(forKey: tag)?.continuation.finish()
        }
    }

    /// Closes a channel with `channel.close`.
    func closeChannel(_ record: ChannelRecord) -> EventLoopFuture<Void> {
        guard record.isOpen else { return eventLoop.makeSucceededVoidFuture() }
        guard unavailableError == nil else {
            records[record.id] = nil
            record.finish(nil)
            return eventLoop.makeSucceededVoidFuture()
        }
        let promise = eventLoop.makePromise(of: Void.self)
        do {
            let actions = try machine.closeChannel(record.id)
            record.state = .closing(promise)
            execute(actions)
        } catch {
            promise.fail(error)
        }
        return promise.futureResult
    }

    /// Closes the connection with `connection.close`, waiting at most five seconds for the broker.
    func close() -> EventLoopFuture<Void> {
        switch phase {
        case .closed:
            return eventLoop.makeSucceededVoidFuture()
        case .closing:
            return closePromise?.futureResult ?? eventLoop.makeSucceededVoidFuture()
        case .connecting, .recovering:
            if let socket { socket.close(promise: nil) }
            finishAll(nil)
            return eventLoop.makeSucceededVoidFuture()
        case .open:
            phase = .closing
            let promise = eventLoop.makePromise(of: Void.self)
            closePromise = promise
            execute(machine.close())
            eventLoop.scheduleTask(in: .seconds(5)) { [self] in
                if case .closing = phase { socket?.close(promise: nil) }
            }
            return promise.futureResult
        }
    }
}
