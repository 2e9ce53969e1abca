import Foundation

/// Form bodies: `application/x-www-form-urlencoded` for fields only, `multipart/form-data` with files.
enum FormEncoding {
    static func encode(_ form: HTTPJobPayload.Form) throws(HTTPJobPayloadError) -> (body: [UInt8], contentType: String) {
        let fields = (form.fields ?? [:]).sorted { $0.key < $1.key }
        guard let files = form.files, !files.isEmpty else {
            let text = fields.map { "\(urlEncoded($0.key))=\(urlEncoded($0.value))" }.joined(separator: "&")
            return (Array(text.utf8), "application/x-www-form-urlencoded")
        }
        let boundary = "spool-" + UUID().uuidString.lowercased()
        var body: [UInt8] = []
        func append(_ text: String) { body.append(contentsOf: text.utf8) }
        for (name, value) in fields {
            append("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(try quoted(name))\"\r\n\r\n\(value)\r\n")
        }
        for file in files {
            guard let bytes = Data(base64Encoded: file.base64) else { throw HTTPJobPayloadError("file '\(file.filename.prefix(60))' is not base64") }
            let type = file.contentType ?? "application/octet-stream"
            guard !type.contains(where: { $0 == "\r" || $0 == "\n" }) else { throw HTTPJobPayloadError("contentType of file '\(file.filename.prefix(60))' holds a line break") }
            append("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(try quoted(file.field))\"; filename=\"\(try quoted(file.filename))\"\r\n")
            append("Content-Type: \(type)\r\n\r\n")
            body.append(contentsOf: bytes)
            append("\r\n")
        }
        append("--\(boundary)--\r\n")
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    /// A name for a quoted-string of `Content-Disposition`: no quotes, backslashes or line breaks.
    private static func quoted(_ name: String) throws(HTTPJobPayloadError) -> String {
        guard !name.contains(where: { "\"\\\r\n".contains($0) }) else {
            throw HTTPJobPayloadError("form name '\(name.prefix(60))' holds a quote, backslash or line break")
        }
        return name
    }

    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*")

    private static func urlEncoded(_ text: String) -> String {
        (text.addingPercentEncoding(withAllowedCharacters: unreserved.union(CharacterSet(charactersIn: " "))) ?? text)
            .replacingOccurrences(of: " ", with: "+")
    }
}
