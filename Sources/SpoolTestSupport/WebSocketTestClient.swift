import Foundation

/// A minimal WebSocket client over ``LoopbackConnection``: the upgrade handshake, text
/// messages (fragments joined), pings answered, and a close. Every call blocks; call the async
/// wrappers from tests.
public final class WebSocketTestClient: @unchecked Sendable {
    /// The connection; a test may leave it unread to play a slow client.
    public let connection: LoopbackConnection
    private var buffer: [UInt8]

    private init(connection: LoopbackConnection, buffer: [UInt8]) {
        self.connection = connection
        self.buffer = buffer
    }

    /// Opens `path` on 127.0.0.1:`port`; throws with the server's response unless it answers 101.
    public static func connect(port: Int, path: String, headers: [String: String] = [:], receiveBuffer: Int? = nil) async throws -> WebSocketTestClient {
        try await offPool {
            let connection = try LoopbackConnection(port: port, receiveBuffer: receiveBuffer)
            let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            connection.send(Array((head + "\r\n").utf8))
            var data: [UInt8] = []
            while HTTPTestClient.find([13, 10, 13, 10], in: data) == nil {
                let chunk = connection.receive()
                guard !chunk.isEmpty else { throw ServerError("the server closed during the WebSocket handshake") }
                data += chunk
            }
            let end = HTTPTestClient.find([13, 10, 13, 10], in: data)!
            let statusLine = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")[0]
            guard statusLine.split(separator: " ").dropFirst().first == "101" else {
                throw WebSocketRefused(statusLine: statusLine, rest: String(decoding: data, as: UTF8.self))
            }
            return WebSocketTestClient(connection: connection, buffer: Array(data[(end + 4)...]))
        }
    }

    /// The server answered the upgrade with something other than 101.
    public struct WebSocketRefused: Error, CustomStringConvertible {
        /// The response's status line.
        public let statusLine: String
        /// The response as received.
        public let rest: String
        public var description: String { "WebSocket refused: \(statusLine)" }
    }

    /// The next text message; `nil` when the server closed the connection. Throws when no
    /// message came within `limit`: the server's pings, answered here, would otherwise keep a
    /// wait for a message that never comes going for ever.
    public func nextText(within limit: Duration = .seconds(90)) async throws -> String? {
        let deadline = ContinuousClock.now + limit
        return try await offPool { try self.readText(until: deadline, limit: limit) }
    }

    /// Reads and drops everything until the server closes; `true` once it has, `false` if
    /// the receive timeout or `limit` passed first.
    public func drainUntilClosed(within limit: Duration = .seconds(90)) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        return try await offPool {
            while !self.connection.receive().isEmpty {
                if ContinuousClock.now >= deadline { return false }
            }
            return !self.connection.timedOut
        }
    }

    /// Sends one text message (a single masked frame).
    public func sendText(_ text: String) {
        connection.send(Self.frame(opcode: 1, payload: Array(text.utf8)))
    }

    /// Sends a close frame and closes the connection.
    public func close() {
        connection.send(Self.frame(opcode: 8, payload: [3, 232]))
        connection.close()
    }

    private func readText(until deadline: ContinuousClock.Instant, limit: Duration) throws -> String? {
        var message: [UInt8] = []
        while true {
            guard ContinuousClock.now < deadline else { throw ServerError("no WebSocket message within \(limit), only pings") }
            guard let (fin, opcode, payload) = readFrame() else { return nil }
            switch opcode {
            case 0, 1, 2:
                message += payload
                if fin { return String(decoding: message, as: UTF8.self) }
            case 8:
                return nil
            case 9:
                connection.send(Self.frame(opcode: 10, payload: payload))
            default:
                continue
            }
        }
    }

    private func need(_ count: Int) -> Bool {
        while buffer.count < count {
            let chunk = connection.receive()
            if chunk.isEmpty { return false }
            buffer += chunk
        }
        return true
    }

    private func readFrame() -> (Bool, UInt8, [UInt8])? {
        guard need(2) else { return nil }
        let fin = buffer[0] & 0x80 != 0, opcode = buffer[0] & 0x0F
        var length = Int(buffer[1] & 0x7F), offset = 2
        if length == 126 {
            guard need(4) else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            guard need(10) else { return nil }
            length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
            offset = 10
        }
        guard need(offset + length) else { return nil }
        let payload = Array(buffer[offset..<(offset + length)])
        buffer.removeFirst(offset + length)
        return (fin, opcode, payload)
    }

    /// A masked client frame.
    static func frame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        var bytes: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        return bytes + mask + payload.enumerated().map { $1 ^ mask[$0 % 4] }
    }
}
