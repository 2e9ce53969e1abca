import NIOCore

extension ConnectionCore {
    /// Starts reconnecting in the background after the connection broke.
    func startRecovery() {
        Task { await recover() }
    }

    /// Reconnects with exponential backoff until the connection is restored or closed by the client.
    private func recover() async {
        var delay = configuration.recovery.initialDelay
        while true {
            try? await Task.sleep(for: delay)
            do {
                let recovering = try await eventLoop.submit { [self] in
                    if case .recovering = phase { return true }
                    return false
                }.get()
                guard recovering else { return }
                try await eventLoop.flatSubmit { [self] in connectSocket() }.get()
                try await restore()
                return
            } catch {
                logger.info("recovery attempt failed", metadata: ["error": "\(error)"])
                eventLoop.execute { [self] in
                    if case .recovering = phase, let socket { socket.close(promise: nil) }
                }
                delay = min(delay * 2, configuration.recovery.maximumDelay)
            }
        }
    }

    /// Re-creates on the new connection what the old one had: channels, topology, prefetch,
    /// confirm mode and consumers; then re-sends the unconfirmed publishes and reopens for business.
    private func restore() async throws {
        let channels = try await eventLoop.submit { [self] in records.values.sorted { $0.id < $1.id } }.get()
        for record in channels {
            try await eventLoop.flatSubmit { [self] in reopen(record) }.get()
        }
        if let first = channels.first {
            try await restoreTopology(on: first)
        }
        for record in channels {
            let (prefetch, confirmMode, consumers) = try await eventLoop.submit {
                (record.prefetch, record.confirmMode, Array(record.consumers.values.map(\.consume)))
            }.get()
            if let prefetch {
                try await call(.basicQos(prefetchSize: 0, prefetchCount: prefetch.count, global: prefetch.global), record)
            }
            if confirmMode { try await call(.confirmSelect(noWait: false), record) }
            for consume in consumers { try await call(.basicConsume(consume), record) }
        }
        try await eventLoop.submit { [self] in
            guard case .recovering = phase else {
                socket?.close(promise: nil)
                return
            }
            phase = .open
            for record in records.values where record.isOpen {
                for pending in record.confirms.sendUnsent() {
                    guard let actions = try? machine.publish(pending.publish, properties: pending.properties,
                                                             body: pending.body, on: record.id) else { continue }
                    execute(actions)
                }
            }
            logger.info("connection recovered", metadata: ["channels": "\(records.count)"])
            emit(.recovered)
            runWaitingOperations()
        }.get()
    }

    private func restoreTopology(on record: ChannelRecord) async throws {
        let (exchanges, queues) = try await eventLoop.submit { [self] in (topology.exchanges, topology.queues) }.get()
        for exchange in exchanges { try await call(.exchangeDeclare(exchange), record) }
        for queue in queues {
            var declaration = queue.declaration
            if queue.isServerNamed { declaration.queue = "" }
            let reply = try await call(.queueDeclare(declaration), record)
            guard queue.isServerNamed, case .method(.queueDeclareOk(let ok)) = reply else { continue }
            let oldName = queue.declaration.queue
            try await eventLoop.submit { [self] in
                topology.rename(queue: oldName, to: ok.queue)
                for channel in records.values {
                    for (tag, consumer) in channel.consumers where consumer.consume.queue == oldName {
                        channel.consumers[tag]?.consume.queue = ok.queue
                    }
                }
            }.get()
        }
        let (exchangeBindings, queueBindings) = try await eventLoop.submit { [self] in
            (topology.exchangeBindings, topology.queueBindings)
        }.get()
        for binding in exchangeBindings { try await call(.exchangeBind(binding), record) }
        for binding in queueBindings { try await call(.queueBind(binding), record) }
    }

    @discardableResult
    private func call(_ method: Method, _ record: ChannelRecord) async throws -> ChannelRecord.Reply {
        try await eventLoop.flatSubmit { [self] in call(method, on: record, recovering: true) }.get()
    }
}
