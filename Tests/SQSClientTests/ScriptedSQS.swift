import Foundation
import SpoolTestSupport
import Synchronization

/// An HTTP server on a loopback port that answers each request with the next of a script: the
/// faults moto cannot be made to show (throttling, an expired token, a truncated answer, a
/// connection reset). Each connection is served on a thread of its own with blocking sockets.
final class ScriptedSQS: Sendable {
    enum Answer: Sendable {
        /// A complete answer with this status and JSON body.
        case answer(Int, String)
        /// The head and only the first half of the body, then the connection closes.
        case truncated(String)
        /// The connection closes without an answer.
        case reset
    }

    /// The port it listens on, on 127.0.0.1.
    let port: Int
    private let listener: Int32
    private let script: Mutex<[Answer]>
    private let heads = Mutex<[String]>([])

    /// The head of every request received, in order, its header names in lowercase.
    var requests: [String] { heads.withLock { $0 } }

    /// The `X-Amz-Target` of every request received, in order.
    var received: [String] {
        requests.map { head in
            head.split(separator: "\r\n").first { $0.hasPrefix("x-amz-target:") }
                .map { String($0.dropFirst("x-amz-target:".count)).trimmingCharacters(in: .whitespaces) } ?? "-"
        }
    }

    /// The endpoint URL to configure.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    init(_ script: [Answer]) throws {
        self.script = Mutex(script)
        (listener, port) = try LoopbackSocket.listener()
        Thread.detachNewThread { [self] in
            while case let connection = accept(listener, nil, nil), connection >= 0 {
                Thread.detachNewThread { [self] in serve(connection) }
            }
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        while true {
            guard let head = readRequest(fd, &buffer) else { return }
            let lowered = head.split(separator: "\r\n").map { line in
                guard let colon = line.firstIndex(of: ":") else { return String(line) }
                return line[..<colon].lowercased() + line[colon...]
            }.joined(separator: "\r\n")
            heads.withLock { $0.append(lowered) }
            let answer = script.withLock { $0.isEmpty ? Answer.answer(500, #"{"__type":"InternalFailure","message":"script ended"}"#) : $0.removeFirst() }
            switch answer {
            case .answer(let status, let text):
                send(fd, "HTTP/1.1 \(status) X\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: req-\(received.count)\r\nContent-Length: \(text.utf8.count)\r\n\r\n\(text)")
            case .truncated(let text):
                send(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: \(text.utf8.count)\r\n\r\n\(text.prefix(text.count / 2))")
                return
            case .reset:
                var linger = linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                return
            }
        }
    }

    /// Reads one request, its `Content-Length` body skipped, and returns its head; `nil` once the peer closed.
    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> String? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let end = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if buffer.count >= end + 4 + length {
                    buffer.removeFirst(end + 4 + length)
                    return head
                }
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            buffer += chunk[0..<count]
        }
    }

    private func send(_ fd: Int32, _ text: String) {
        LoopbackSocket.send(Array(text.utf8), on: fd)
    }
}
