import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// Malformed, oversized and slow HTTP: each is answered and let go, and none holds the server.
@Suite("HTTP API: malformed and slow clients")
struct HostileHTTPTests {
    /// Sends `raw` on a fresh connection and reads until the server closes it (or 10 s pass).
    static func exchange(_ port: Int, _ raw: [UInt8]) async throws -> (head: String, closed: Bool) {
        try await offPool {
            let connection = try LoopbackConnection(port: port, timeout: 10)
            defer { connection.close() }
            connection.send(raw)
            var received: [UInt8] = []
            while true {
                let chunk = connection.receive()
                if chunk.isEmpty { break }
                received += chunk
            }
            let head = String(decoding: received, as: UTF8.self)
            return (head, !connection.timedOut)
        }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("bad framing is 400, an overlong request line or target 414, overlong headers 431, each answered in JSON and closed")
    func malformedFraming() async throws {
        try await withServer(worker: false) { server in
            let host = "Host: 127.0.0.1\r\n"
            let cases: [(String, [UInt8], String)] = [
                ("a request line of 90 KB", Self.bytes("GET /" + String(repeating: "a", count: 90_000) + " HTTP/1.1\r\n\(host)\r\n"), "414"),
                ("a target of 10 KB", Self.bytes("GET /v1/stats?" + String(repeating: "a", count: 10_000) + " HTTP/1.1\r\n\(host)\r\n"), "414"),
                ("a header of 90 KB", Self.bytes("GET /v1/stats HTTP/1.1\r\n\(host)X-A: " + String(repeating: "b", count: 90_000) + "\r\n\r\n"), "431"),
                ("two Content-Lengths", Self.bytes("POST /v1/jobs HTTP/1.1\r\n\(host)Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"), "400"),
                ("a Content-Length that is no number", Self.bytes("POST /v1/jobs HTTP/1.1\r\n\(host)Content-Length: abc\r\n\r\n"), "400"),
                ("Content-Length with Transfer-Encoding",
                 Self.bytes("POST /v1/jobs HTTP/1.1\r\n\(host)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "400"),
                ("an HTTP/0.9 line", Self.bytes("GET /\r\n\r\n"), "400"),
                ("a body declared larger than the limit", Self.bytes("POST /v1/jobs HTTP/1.1\r\n\(host)Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n"), "413"),
            ]
            for (name, raw, status) in cases {
                let (head, closed) = try await Self.exchange(server.port, raw)
                #expect(head.hasPrefix("HTTP/1.1 \(status) "), "\(name): \(head.prefix(200))")
                #expect(head.contains(#"{"error":{"code":"#), "\(name): a JSON error")
                #expect(closed, "\(name): the server closed the connection")
            }
            let many = "GET /v1/stats HTTP/1.1\r\n\(host)" + (0..<10_000).map { "X-\($0): y\r\n" }.joined() + "\r\n"
            let (head, _) = try await Self.exchange(server.port, Self.bytes(many))
            #expect(head.hasPrefix("HTTP/1.1 431 "), "10,000 headers: \(head.prefix(200))")
            #expect(try await server.request("GET", "/v1/stats").status == 200, "the server serves on")
        }
    }

    @Test("a refused WebSocket handshake gets the API's JSON answer; Upgrade headers on an ordinary route are ignored")
    func refusedUpgrades() async throws {
        try await withServer(worker: false, token: "ws-token") { server in
            let handshake = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            let auth = "Authorization: Bearer ws-token\r\n"
            let cases: [(String, String, String, String)] = [
                ("no token", "/v1/events", handshake, "401 "),
                ("a wrong token", "/v1/events", handshake + "Authorization: Bearer nope\r\n", "401 "),
                ("a malformed job filter", "/v1/events?job=zz", handshake + auth, "400 "),
                ("another origin", "/v1/events", handshake + auth + "Origin: http://127.0.0.1:1\r\n", "403 "),
                ("no Sec-WebSocket-Key", "/v1/events", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" + auth, "426 "),
                ("an ordinary route", "/v1/stats", handshake + auth, "200 "),
            ]
            for (name, path, headers, status) in cases {
                let response = try await HTTPTestClient.exchange(port: server.port, Self.bytes("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n\(headers)Connection: close\r\n\r\n"))
                #expect("\(response.status) ".hasPrefix(status), "\(name): \(response.status) \(response.text)")
                #expect(response.text.hasPrefix("{"), "\(name): a JSON body: \(response.text)")
            }
        }
    }

    @Test("Expect: 100-continue is answered at once, or refused with 413 before the body when it is too large")
    func expectContinue() async throws {
        try await withServer(worker: false) { server in
            let body = #"{"name":"spool.noop"}"#
            let result = try await offPool { () -> (String, String) in
                let connection = try LoopbackConnection(port: server.port, timeout: 30)
                defer { connection.close() }
                connection.send(Self.bytes("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n"))
                let interim = String(decoding: connection.receive(), as: UTF8.self)
                connection.send(Self.bytes(body))
                var final: [UInt8] = []
                while !String(decoding: final, as: UTF8.self).contains("spool.noop") {
                    let chunk = connection.receive()
                    if chunk.isEmpty {
                        final += Array((connection.timedOut ? "[timed out]" : "[closed]").utf8)
                        break
                    }
                    final += chunk
                }
                return (interim, String(decoding: final, as: UTF8.self))
            }
            #expect(result.0.hasPrefix("HTTP/1.1 100 Continue"), "the interim answer before the body: \(result.0)")
            #expect(result.1.contains("HTTP/1.1 201 "), "after \(result.0.debugDescription): \(result.1.prefix(300))")
            let tooLarge = "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(32 << 20)\r\nExpect: 100-continue\r\n\r\n"
            let (head, closed) = try await Self.exchange(server.port, Self.bytes(tooLarge))
            #expect(head.hasPrefix("HTTP/1.1 413 ") && closed, "\(head.prefix(200))")
        }
    }

    @Test("500 slowloris and 100 silent connections are closed after the head timeout, the server answering others meanwhile")
    func slowAndSilentClients() async throws {
        try await withServer(worker: false, configure: { $0.headTimeout = .seconds(2); $0.bodyTimeout = .seconds(2) }) { server in
            let slow = try await offPool {
                try (0..<500).map { _ -> LoopbackConnection in
                    let connection = try LoopbackConnection(port: server.port, timeout: 30)
                    connection.send(Self.bytes("GET /v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "))
                    return connection
                }
            }
            let silent = try await offPool { try (0..<100).map { _ in try LoopbackConnection(port: server.port, timeout: 10) } }
            let stalledBody = try await offPool { () -> LoopbackConnection in
                let connection = try LoopbackConnection(port: server.port, timeout: 10)
                connection.send(Self.bytes("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na"))
                return connection
            }
            let started = ContinuousClock.now
            let normal = try await server.request("GET", "/v1/stats")
            print("a normal request while 600 idle connections are held: \(ContinuousClock.now - started)")
            #expect(normal.status == 200)
            // A byte a second keeps nothing open: the deadline is for the whole head.
            try await Task.sleep(for: .seconds(1))
            try await offPool { for connection in slow { connection.send([UInt8(ascii: "x")]) } }
            let outcome = try await offPool { () -> (slowAnswered: Int, silentClosed: Int, body: String) in
                let answered = slow.filter { connection in
                    String(decoding: connection.receive(), as: UTF8.self).hasPrefix("HTTP/1.1 408 ")
                }.count
                let closed = silent.filter { connection in
                    var bytes: [UInt8] = []
                    while case let chunk = connection.receive(), !chunk.isEmpty { bytes += chunk }
                    return !connection.timedOut
                }.count
                return (answered, closed, String(decoding: stalledBody.receive(), as: UTF8.self))
            }
            #expect(outcome.slowAnswered == 500, "every slowloris connection was answered 408")
            #expect(outcome.silentClosed == 100, "every silent connection was closed")
            #expect(outcome.body.hasPrefix("HTTP/1.1 408 "), "a stalled body is answered 408: \(outcome.body.prefix(100))")
            for connection in slow + silent + [stalledBody] { connection.close() }
            // The server's own count: descriptors of the whole test process move with other tests.
            let deadline = ContinuousClock.now + .seconds(30)
            while server.server.openConnections > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(server.server.openConnections == 0, "the server holds no connection")
        }
    }

    @Test("connections over the cap are answered 503 and closed; the others are served")
    func connectionCap() async throws {
        try await withServer(worker: false, configure: { $0.maxConnections = 20 }) { server in
            let held = try await offPool { try (0..<20).map { _ in try LoopbackConnection(port: server.port, timeout: 10) } }
            // Generous: on a loaded machine the server may take seconds to see all 20.
            let deadline = ContinuousClock.now + .seconds(60)
            while server.server.openConnections < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let (head, closed) = try await Self.exchange(server.port, Self.bytes("GET /v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            #expect(head.hasPrefix("HTTP/1.1 503 ") && head.contains("too_many_connections") && closed, "\(head.prefix(200))")
            for connection in held { connection.close() }
            while server.server.openConnections > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await server.request("GET", "/v1/stats").status == 200, "served again once below the cap")
        }
    }
}
