import AMQPClient
import SpoolCore

/// A failure of the RPC machinery itself: a stable ``Code`` and a message.
public struct AMQPRPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New kinds may be added without breaking existing code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// No response arrived within the call's timeout.
        public static let timeout = Code("timeout")
        /// The client was closed, or its reply consumer ended, before the response arrived.
        public static let clientClosed = Code("client_closed")
        /// A response arrived that is not valid UTF-8 JSON.
        public static let invalidResponse = Code("invalid_response")
        /// A request whose body is not valid UTF-8 JSON.
        public static let invalidRequest = Code("invalid_request")
        /// A request whose type no handler is registered for.
        public static let unknownRequestType = Code("unknown_request_type")
        /// A configuration that cannot be used, such as an empty queue name.
        public static let invalidConfiguration = Code("invalid_configuration")

        /// The code's stable name, such as `unknown_request_type`; sent as `exception_type`.
        public var description: String { name }
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}

/// The failure a daemon reported for a request: the three exception headers of its response.
public struct AMQPRPCRemoteError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The request's `UUID`.
    public var uuid: String
    /// `exception`: the failure's message.
    public var message: String
    /// `exception_name`: the name of the error's type on the daemon's side.
    public var name: String
    /// `exception_type`: the stable kind of failure.
    public var type: String

    /// Creates an error from its parts.
    public init(uuid: String, message: String, name: String, type: String) {
        self.uuid = uuid
        self.message = message
        self.name = name
        self.type = type
    }

    /// Reads the exception headers of a response; `nil` when it has no `exception` header.
    /// Headers that are missing or not strings read as empty text.
    init?(uuid: String, headers: AMQPTable) {
        guard let exception = headers[AMQPRPCHeader.exception] else { return nil }
        func text(_ value: AMQPFieldValue?) -> String {
            guard let value else { return "" }
            return value.stringValue ?? "\(value)"
        }
        self.init(uuid: uuid, message: text(exception), name: text(headers[AMQPRPCHeader.exceptionName]),
                  type: text(headers[AMQPRPCHeader.exceptionType]))
    }

    /// `name (type): message`.
    public var description: String { "\(name) (\(type)): \(message)" }
}

/// An error a handler throws to choose the `exception_type` its request's response reports.
///
/// ```swift
/// throw AMQPRPCFailure(kind: "not_found", message: "no record for ISBN \(isbn)")
/// ```
public struct AMQPRPCFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The stable kind sent as `exception_type`.
    public var kind: String
    /// The message sent as `exception`.
    public var message: String

    /// Creates a failure.
    public init(kind: String, message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension AMQPRPCRemoteError {
    /// The three exception headers that report `error` to the caller: its message, its type's
    /// name and a stable kind (an ``AMQPRPCFailure``'s kind, an ``AMQPRPCError``'s or a
    /// `SpoolError`'s code, otherwise `handler_error`).
    static func headers(reporting error: any Error, style: AMQPRPCDaemon.Configuration.ExceptionTypeStyle = .kind) -> AMQPTable {
        let message: String
        let kind: String
        switch error {
        case let failure as AMQPRPCFailure: (message, kind) = (failure.message, failure.kind)
        case let rpc as AMQPRPCError: (message, kind) = (rpc.message, rpc.code.description)
        case let spool as SpoolError: (message, kind) = (spool.message, spool.code.description)
        default: (message, kind) = (String(describing: error), "handler_error")
        }
        let name = String(describing: Swift.type(of: error))
        return [
            AMQPRPCHeader.exception: .string(truncated(message)),
            AMQPRPCHeader.exceptionName: .string(truncated(name)),
            AMQPRPCHeader.exceptionType: .string(truncated(style == .python ? "<class '\(name)'>" : kind)),
        ]
    }

    /// The longest exception header text, in UTF-8 bytes; a longer one is cut and ends with
    /// ``truncationMarker``, so an answer always fits a broker's frame.
    public static let maximumHeaderBytes = 4096
    /// What ends a cut exception header: ` [truncated from N bytes]`.
    static func truncationMarker(_ bytes: Int) -> String { " [truncated from \(bytes) bytes]" }

    /// `text` cut on a character boundary to at most ``maximumHeaderBytes`` with the marker.
    static func truncated(_ text: String) -> String {
        let bytes = text.utf8.count
        guard bytes > maximumHeaderBytes else { return text }
        let marker = truncationMarker(bytes)
        var kept = Substring(text)
        var budget = maximumHeaderBytes - marker.utf8.count
        var end = kept.startIndex
        for character in kept {
            let size = character.utf8.count
            guard size <= budget else { break }
            budget -= size
            end = kept.index(after: end)
        }
        kept = kept[..<end]
        return String(kept) + marker
    }
}
