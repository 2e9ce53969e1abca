import Foundation
import SpoolCore

/// The opaque cursor of job listings: the last job of a page, as 22 base64url characters.
enum Cursor {
    /// The cursor that continues after `id`.
    static func encode(_ id: JobID) -> String {
        let hex = Array(id.description.utf8.filter { $0 != UInt8(ascii: "-") })
        let bytes = Data(stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16) ?? 0 })
        return bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The job a cursor continues after; throws 400 for anything this server did not hand out.
    static func decode(_ text: String) throws -> JobID {
        let invalid = APIError(.badRequest, "invalid_cursor", "cursor '\(text.prefix(64))' is not one this server handed out; use a page's nextCursor")
        guard text.count == 22 else { throw invalid }
        let base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=="
        guard let data = Data(base64Encoded: base64), data.count == 16 else { throw invalid }
        let hex = data.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        guard let id = JobID(parts.joined(separator: "-")) else { throw invalid }
        return id
    }
}
