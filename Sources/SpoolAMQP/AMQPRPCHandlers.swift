import SpoolCore

/// The handlers of an ``AMQPRPCDaemon``, one per request type.
///
/// ```swift
/// var handlers = AMQPRPCHandlers.builtin
/// handlers.register("isbn.lookup", as: Query.self) { query in try await catalogue.find(query) }
/// ```
public struct AMQPRPCHandlers: Sendable {
    /// A handler: the request in, the response body out; a thrown error becomes an error response.
    public typealias Handler = @Sendable (AMQPRPCRequest) async throws -> JSONPayload

    private var handlers: [String: Handler] = [:]

    /// An empty set of handlers.
    public init() {}

    /// The request types that have a handler, sorted.
    public var types: [String] { handlers.keys.sorted() }

    /// Registers `handler` for requests of `type`, replacing any earlier one.
    public mutating func register(_ type: String, _ handler: @escaping Handler) {
        handlers[type] = handler
    }

    /// Registers a handler that takes the body decoded as `Request` and returns a value encoded
    /// as the response body; a body that does not decode is reported as `invalid_request`.
    public mutating func register<Request: Decodable & SendableMetatype, Response: Encodable & SendableMetatype>(
        _ type: String, as request: Request.Type, _ handler: @escaping @Sendable (Request) async throws -> Response
    ) {
        register(type) { message in
            let decoded: Request
            do {
                decoded = try message.body.decode(Request.self)
            } catch {
                throw AMQPRPCError(.invalidRequest, "the body of \(type) does not decode: \(error)")
            }
            return try JSONPayload(encoding: try await handler(decoded))
        }
    }

    /// The handler for `type`, if any.
    public func handler(for type: String) -> Handler? { handlers[type] }

    /// The handlers `spool amqp serve` runs: `spool.echo` answers with the request's body, and
    /// `spool.fail` answers with an error of kind `requested_failure` whose message is the body's
    /// `message` string when it has one.
    public static var builtin: AMQPRPCHandlers {
        var handlers = AMQPRPCHandlers()
        handlers.register("spool.echo") { $0.body }
        handlers.register("spool.fail") { request in
            var message = "spool.fail always fails"
            if case .object(let fields)? = try? request.body.decode(JSONValue.self), case .string(let text)? = fields["message"] {
                message = text
            }
            throw AMQPRPCFailure(kind: "requested_failure", message: message)
        }
        return handlers
    }
}
