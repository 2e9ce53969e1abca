import Foundation
import SpoolCore
import Hummingbird
import NIOCore

/// JSON request and response bodies.
enum JSONBody {
    /// The encoder of every JSON response: compact, keys sorted.
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            return Data(#"{"error":{"code":"internal","message":"the response could not be encoded"}}"#.utf8)
        }
    }

    /// A response of JSON text already written.
    static func response(json text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A JSON response.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(data: encode(value))))
    }

    /// The request body as one JSON value, read up to `limit` bytes. Throws 413 for a larger
    /// body and 400 for anything that is not one JSON document.
    ///
    /// A body declared as anything but JSON (`Content-Type` other than `application/json` or a
    /// `+json` type) is refused with 415: a browser can send form and plain-text bodies to any
    /// site without asking, so accepting them would let another page's form act on the API.
    static func read(_ request: Request, limit: Int) async throws -> JSONValue {
        if let type = request.headers[.contentType] {
            let media = type.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else {
                throw APIError(.unsupportedMediaType, "unsupported_media_type",
                               "the request body is declared as '\(type.prefix(100))'; send JSON with Content-Type: application/json")
            }
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is \(length) bytes; the limit is \(limit)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is larger than the limit of \(limit) bytes")
        } catch {
            throw APIError(.badRequest, "invalid_body", "the request body could not be read: \(error)")
        }
        let text = String(buffer: buffer)
        guard !text.isEmpty else { throw APIError(.badRequest, "invalid_json", "the request body is empty; send a JSON object") }
        do {
            return try JSONValue.parse(text)
        } catch let error as SpoolError {
            throw APIError(.badRequest, "invalid_json", "the request body is not JSON: \(error.message)")
        }
    }
}
