import AMQPClient
import NIOCore
import SpoolCore

/// A request as a handler of ``AMQPRPCDaemon`` sees it.
public struct AMQPRPCRequest: Sendable {
    /// The request type the handler was chosen by.
    public var type: String
    /// The `UUID` header that pairs the response with this request.
    public var uuid: String
    /// The JSON body.
    public var body: JSONPayload
    /// All application headers of the request message.
    public var headers: AMQPTable
}

/// A successful response received by ``AMQPRPCClient``.
public struct AMQPRPCResponse: Sendable {
    /// The `UUID` header it was paired by.
    public var uuid: String
    /// The JSON body.
    public var body: JSONPayload
    /// All application headers of the response message.
    public var headers: AMQPTable
}

extension JSONPayload {
    /// Reads a message body as one UTF-8 JSON document, never trapping on malformed bytes; throws
    /// `SpoolError` with code `invalidJSON` naming the problem.
    init(messageBody body: ByteBuffer) throws {
        let bytes = body.getBytes(at: body.readerIndex, length: body.readableBytes) ?? []
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SpoolError(.invalidJSON, "the body is not UTF-8 text")
        }
        self = try JSONPayload(validating: text)
    }

    /// The JSON text as a message body.
    var messageBody: ByteBuffer { ByteBuffer(string: text) }
}

extension AMQPTable {
    /// The text of the `key` header when it holds a non-empty UTF-8 string.
    func text(_ key: String) -> String? {
        guard let text = self[key]?.stringValue, !text.isEmpty else { return nil }
        return text
    }
}
