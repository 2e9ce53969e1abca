/// The exchanges, queues and bindings declared through one connection, kept so that recovery can
/// declare them again on a new connection.
///
/// Passive declarations are not recorded; deletes and unbinds remove what they name.
struct Topology: Sendable {
    struct RecordedQueue: Sendable {
        var declaration: Method.QueueDeclare
        /// The broker chose the name (declared with an empty name); recovery asks for a new one.
        var isServerNamed: Bool
    }

    private(set) var exchanges: [Method.ExchangeDeclare] = []
    private(set) var queues: [RecordedQueue] = []
    private(set) var exchangeBindings: [Method.Binding] = []
    private(set) var queueBindings: [Method.Binding] = []

    mutating func record(_ declaration: Method.ExchangeDeclare) {
        guard !declaration.passive else { return }
        exchanges.removeAll { $0.exchange == declaration.exchange }
        exchanges.append(declaration)
    }

    mutating func record(_ declaration: Method.QueueDeclare, assignedName: String) {
        guard !declaration.passive else { return }
        var named = declaration
        named.queue = assignedName
        queues.removeAll { $0.declaration.queue == assignedName }
        queues.append(RecordedQueue(declaration: named, isServerNamed: declaration.queue.isEmpty))
    }

    mutating func recordExchangeBinding(_ binding: Method.Binding) {
        exchangeBindings.removeAll { $0.sameBinding(as: binding) }
        exchangeBindings.append(binding)
    }

    mutating func recordQueueBinding(_ binding: Method.Binding) {
        queueBindings.removeAll { $0.sameBinding(as: binding) }
        queueBindings.append(binding)
    }

    mutating func removeExchangeBinding(_ binding: Method.Binding) {
        exchangeBindings.removeAll { $0.sameBinding(as: binding) }
    }

    mutating func removeQueueBinding(_ binding: Method.Binding) {
        queueBindings.removeAll { $0.sameBinding(as: binding) }
    }

    mutating func removeExchange(_ name: String) {
        exchanges.removeAll { $0.exchange == name }
        exchangeBindings.removeAll { $0.source == name || $0.destination == name }
        queueBindings.removeAll { $0.source == name }
    }

    mutating func removeQueue(_ name: String) {
        queues.removeAll { $0.declaration.queue == name }
        queueBindings.removeAll { $0.destination == name }
    }

    /// Records that a server-named queue came back under a new name, and rewrites its bindings.
    mutating func rename(queue oldName: String, to newName: String) {
        for index in queues.indices where queues[index].declaration.queue == oldName {
            queues[index].declaration.queue = newName
        }
        for index in queueBindings.indices where queueBindings[index].destination == oldName {
            queueBindings[index].destination = newName
        }
    }
}

extension Method.Binding {
    func sameBinding(as other: Method.Binding) -> Bool {
        destination == other.destination && source == other.source && routingKey == other.routingKey
            && arguments == other.arguments
    }
}
