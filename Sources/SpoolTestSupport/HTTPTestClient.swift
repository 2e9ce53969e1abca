import Foundation

/// An HTTP/1.1 response as a test sees it.
public struct HTTPTestResponse: Sendable {
    /// The status code.
    public let status: Int
    /// Header fields with lowercase names.
    public let headers: [String: String]
    /// The body bytes.
    public let body: [UInt8]

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body decoded as `T`.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T { try JSONDecoder().decode(T.self, from: Data(body)) }

    /// The `error.code` of a JSON error body, or `nil`.
    public var errorCode: String? {
        struct Body: Decodable { struct Detail: Decodable { var code: String }; var error: Detail }
        return try? decode(Body.self).error.code
    }
}

/// A minimal HTTP/1.1 client over ``LoopbackConnection``: one request per connection.
public enum HTTPTestClient {
    /// Sends a request and reads the whole response.
    public static func request(port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil,
                               timeout: Double = 60) async throws -> HTTPTestResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((body ?? "").utf8)
        if body != nil || method == "POST" || method == "PUT" { head += "Content-Length: \(bytes.count)\r\n" }
        if body != nil, headers["Content-Type"] == nil { head += "Content-Type: application/json\r\n" }
        return try await exchange(port: port, Array((head + "\r\n").utf8) + bytes, timeout: timeout)
    }

    /// Sends raw bytes and reads the response.
    public static func exchange(port: Int, _ raw: [UInt8], timeout: Double = 60) async throws -> HTTPTestResponse {
        try await offPool {
            let connection = try LoopbackConnection(port: port, timeout: timeout)
            defer { connection.close() }
            connection.send(raw)
            return try readResponse(connection)
        }
    }

    /// Reads one response from `connection`.
    public static func readResponse(_ connection: LoopbackConnection) throws -> HTTPTestResponse {
        var buffer: [UInt8] = []
        var headerEnd: Int?
        while headerEnd == nil {
            let chunk = connection.receive()
            guard !chunk.isEmpty else { throw ServerError("the connection ended before a response head (\(buffer.count) bytes)") }
            buffer += chunk
            headerEnd = find([13, 10, 13, 10], in: buffer)
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ServerError("bad status line '\(head[0])'") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(buffer[(headerEnd! + 4)...])
        func fill(_ count: Int) {
            while body.count < count {
                let chunk = connection.receive()
                if chunk.isEmpty { return }
                body += chunk
            }
        }
        if let length = headers["content-length"].flatMap(Int.init) {
            fill(length)
            body = Array(body.prefix(length))
        } else if headers["transfer-encoding"]?.contains("chunked") == true {
            body = try dechunk(body, more: connection)
        } else if status != 101, status != 204, status != 304 {
            while case let chunk = connection.receive(), !chunk.isEmpty { body += chunk }
        }
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ start: [UInt8], more connection: LoopbackConnection) throws -> [UInt8] {
        var data = start, output: [UInt8] = [], offset = 0
        while true {
            while find([13, 10], in: Array(data[offset...])) == nil {
                let chunk = connection.receive()
                guard !chunk.isEmpty else { throw ServerError("chunked body cut off") }
                data += chunk
            }
            let lineEnd = offset + find([13, 10], in: Array(data[offset...]))!
            let sizeText = String(decoding: data[offset..<lineEnd], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { throw ServerError("bad chunk size '\(sizeText)'") }
            offset = lineEnd + 2
            if size == 0 { return output }
            while data.count < offset + size + 2 {
                let chunk = connection.receive()
                guard !chunk.isEmpty else { throw ServerError("chunked body cut off") }
                data += chunk
            }
            output += data[offset..<(offset + size)]
            offset += size + 2
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }
}
