import Foundation
import SQSClient
import SpoolCore

extension SQSTransport {
    /// The SQS message carrying `message`: its id and headers in attributes, its body as text
    /// when SQS accepts it as it is, else base64.
    /// The message SQS carries for `message`; to a FIFO queue (`fifo`) with its group and
    /// deduplication id: messages with ordering keys share one group, so they are handled one at
    /// a time in publish order (a unit may touch several entities, so no finer grouping is
    /// safe), others each have a group of their own; the deduplication id is the message id
    /// (SQS drops a second send of it within five minutes), or the body's hash when the id does
    /// not fit.
    static func outgoing(_ message: TransportMessage, fifo: Bool) throws -> SQSOutgoingMessage {
        var outgoing = try outgoing(message)
        guard fifo else { return outgoing }
        let fits = !message.id.isEmpty && message.id.utf8.count <= 128 && message.id.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0.value < 127 }
        outgoing.groupID = orderKeys(message.headers).isEmpty ? (fits ? message.id : UUID().uuidString) : "spool-ordered"
        outgoing.deduplicationID = fits ? message.id : nil
        return outgoing
    }

    static func outgoing(_ message: TransportMessage) throws -> SQSOutgoingMessage {
        var attributes: [String: SQSMessageAttribute] = [idAttribute: .string(message.id)]
        if !message.headers.isEmpty {
            let headers = try JSONEncoder().encode(message.headers)
            attributes[headersAttribute] = SQSMessageAttribute(dataType: "String.json", stringValue: String(decoding: headers, as: UTF8.self))
        }
        if let text = String(validating: message.body, as: UTF8.self), !text.isEmpty, text.unicodeScalars.allSatisfy(isAllowed) {
            return SQSOutgoingMessage(body: text, attributes: attributes)
        }
        attributes[encodingAttribute] = .string("base64")
        return SQSOutgoingMessage(body: Data(message.body).base64EncodedString(), attributes: attributes)
    }

    /// The transport message an SQS message carries; one sent by another client (no
    /// `spool-id`) gets SQS's message id, and its string attributes as headers.
    static func incoming(_ message: SQSMessage) -> TransportMessage {
        let body: [UInt8] = if message.attributes[encodingAttribute]?.stringValue == "base64" {
            Array(Data(base64Encoded: message.body) ?? Data(message.body.utf8))
        } else {
            Array(message.body.utf8)
        }
        var headers: [String: String] = [:]
        if let json = message.attributes[headersAttribute]?.stringValue,
           let decoded = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)) {
            headers = decoded
        } else {
            for (name, attribute) in message.attributes where !name.hasPrefix("spool-") {
                if let value = attribute.stringValue { headers[name] = value }
            }
        }
        let id = message.attributes[idAttribute]?.stringValue ?? message.messageID
        return TransportMessage(id: id, headers: headers, body: body)
    }

    /// The characters an SQS body may hold (`#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
    /// #x10000-#x10FFFF`).
    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }
}
