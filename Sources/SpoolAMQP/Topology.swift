import Foundation

/// The exchange, durable queues and bindings an RPC deployment needs, read from JSON.
///
/// ```json
/// {
///   "exchange": {"name": "spool", "type": "topic", "durable": true},
///   "queues": [
///     {"name": "spool.rpc", "routingKeys": ["rpc.#"]},
///     {"name": "spool.rpc.dead"}
///   ]
/// }
/// ```
///
/// `type` defaults to `direct`, `durable` to `true` and `routingKeys` to none. Queues are always
/// durable. See ``declare(on:)``.
public struct Topology: Codable, Hashable, Sendable {
    /// The exchange requests are published to.
    public struct Exchange: Codable, Hashable, Sendable {
        /// The exchange's name.
        public var name: String
        /// `direct`, `fanout`, `topic`, `headers`, or a plugin's type.
        public var type: String
        /// Whether the exchange survives a broker restart.
        public var durable: Bool

        /// Creates an exchange description.
        public init(name: String, type: String = "direct", durable: Bool = true) {
            self.name = name
            self.type = type
            self.durable = durable
        }

        /// Decodes an exchange, defaulting `type` and `durable`.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            type = try container.decodeIfPresent(String.self, forKey: .type) ?? "direct"
            durable = try container.decodeIfPresent(Bool.self, forKey: .durable) ?? true
        }
    }

    /// A durable queue and the routing keys that bind it to the exchange.
    public struct Queue: Codable, Hashable, Sendable {
        /// The queue's name.
        public var name: String
        /// The routing keys it is bound to the exchange with.
        public var routingKeys: [String]

        /// Creates a queue description.
        public init(name: String, routingKeys: [String] = []) {
            self.name = name
            self.routingKeys = routingKeys
        }

        /// Decodes a queue, defaulting `routingKeys` to none.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            routingKeys = try container.decodeIfPresent([String].self, forKey: .routingKeys) ?? []
        }
    }

    /// The exchange.
    public var exchange: Exchange
    /// The queues.
    public var queues: [Queue]

    /// Creates a topology.
    public init(exchange: Exchange, queues: [Queue]) {
        self.exchange = exchange
        self.queues = queues
    }

    /// Reads a topology from JSON and checks it (see ``validate()``).
    public init(json: Data) throws {
        do {
            self = try JSONDecoder().decode(Topology.self, from: json)
        } catch let error as DecodingError {
            throw AMQPRPCError(.invalidConfiguration, "the topology is not valid: \(error.summary(root: "topology"))")
        }
        try validate()
    }

    /// Checks that every name is set, no name is reserved (`amq.`) and no queue appears twice.
    public func validate() throws {
        guard !exchange.name.isEmpty, !exchange.type.isEmpty else {
            throw AMQPRPCError(.invalidConfiguration, "the exchange needs a name and a type")
        }
        let names = [exchange.name] + queues.map(\.name)
        if let reserved = names.first(where: { $0.hasPrefix("amq.") }) {
            throw AMQPRPCError(.invalidConfiguration, "'\(reserved)' is reserved by the broker (amq. prefix)")
        }
        guard queues.allSatisfy({ !$0.name.isEmpty }) else {
            throw AMQPRPCError(.invalidConfiguration, "every queue needs a name")
        }
        guard Set(queues.map(\.name)).count == queues.count else {
            throw AMQPRPCError(.invalidConfiguration, "a queue is named twice")
        }
    }

}
