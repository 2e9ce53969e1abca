import Foundation
import SpoolCore

/// The opaque cursor of job listings: the last job of a page, as 22 base64url characters.
enum Cursor {
    /// The cursor that continues after `id`.
    static func encode(_ id: JobID) -> String {
        withUnsafeBytes(of: id.uuid.uuid) { Base64URL.encode($0) }
    }

    /// The job a cursor continues after; throws 400 for anything this server did not hand out.
    static func decode(_ text: String) throws -> JobID {
        guard text.utf8.count == 22, let bytes = Base64URL.decode(text), bytes.count == 16 else {
            throw APIError(.badRequest, "invalid_cursor", "cursor '\(text.prefix(64))' is not one this server handed out; use a page's nextCursor")
        }
        return JobID(UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                                 bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])))
    }
}
