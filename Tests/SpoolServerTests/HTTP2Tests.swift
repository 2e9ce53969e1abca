import Foundation
import SpoolServer
import SpoolTestSupport
import Testing

/// HTTP/2 over HTTPS against a real server, driven by curl (built with nghttp2): the protocol a
/// client offers by ALPN is the one it gets, and each stream keeps the limits of the HTTP/1.1
/// guard without costing the connection.
@Suite(.serialized, .enabled(if: Curl.shouldRun, "SPOOL_SKIP_CURL=1"), .timeLimit(.minutes(3)))
struct HTTP2Tests {
    static let token = "h2-\(UUID().uuidString)"

    /// Runs `body` against a server with TLS for `localhost` and `configure`'s settings, passing
    /// the curl options that trust the test CA and carry the token.
    private func withTLSServer(configure: @escaping (inout ServerConfiguration) -> Void = { _ in },
                               _ body: (ServerHarness, _ origin: String, _ options: [String]) async throws -> Void) async throws {
        let certificates = try await offPool { try TestCertificates() }
        let files = try await offPool { try certificates.server("localhost") }
        try await withServer(worker: false, token: Self.token, configure: {
            $0.tls = .init(certificate: files.certificate, key: files.key)
            configure(&$0)
        }) { server in
            try await body(server, "https://localhost:\(server.port)",
                           ["-sS", "-m", "30", "--cacert", certificates.caFile, "-H", "Authorization: Bearer \(Self.token)"])
        }
    }

    @Test("over HTTPS, curl offering h2 enqueues and reads a job over HTTP/2, and a client offering only HTTP/1.1 gets HTTP/1.1 on the same port")
    func negotiation() async throws {
        try await withTLSServer { _, origin, options in
            let created = try await Curl.run(options + ["--http2", "-w", "\n%{http_version} %{http_code}", "-H", "Content-Type: application/json",
                                                        "--data", #"{"name":"h2.job","queue":"h2"}"#, "\(origin)/v1/jobs"])
            #expect(created.status == 0 && created.output.hasSuffix("\n2 201"), "\(created.output) \(created.errors)")
            let id = try #require(created.output.firstMatch(of: /"id":"([0-9a-f-]+)"/)?.1)
            let shown = try await Curl.run(options + ["--http2", "-w", "\n%{http_version} %{http_code}", "\(origin)/v1/jobs/\(id)"])
            #expect(shown.output.contains(#""name":"h2.job""#) && shown.output.hasSuffix("\n2 200"), "\(shown.output) \(shown.errors)")
            let old = try await Curl.run(options + ["--http1.1", "-w", "\n%{http_version} %{http_code}", "\(origin)/v1/queues"])
            #expect(old.output.contains(#""name":"h2""#) && old.output.hasSuffix("\n1.1 200"), "\(old.output) \(old.errors)")
        }
    }

    @Test("on one HTTP/2 connection: a target over the limit is answered 414 and a declared body over the limit 413 on their own streams, and the next request is served on the same connection")
    func refusalsEndTheStreamOnly() async throws {
        try await withTLSServer(configure: { $0.maxBodyBytes = 1024 }) { _, origin, options in
            let directory = try TemporaryDirectory()
            try String(repeating: "a", count: 2048).write(toFile: directory.path("big"), atomically: true, encoding: .utf8)
            let format = ["-o", "/dev/null", "-w", "%{http_version} %{http_code} %{num_connects}\n"]
            let result = try await Curl.run(
                ["--http2"] + options + format + ["\(origin)/v1/jobs?x=\(String(repeating: "x", count: 9000))", "--next"]
                    + options + format + ["-H", "Content-Type: application/json", "--data-binary", "@\(directory.path("big"))", "\(origin)/v1/jobs", "--next"]
                    + options + format + ["\(origin)/v1/queues"])
            #expect(result.output == "2 414 1\n2 413 0\n2 200 0\n", "\(result.output) \(result.errors)")
        }
    }

    @Test("on HTTP/2, a request body that stalls is answered 408 after the body timeout, and Expect: 100-continue is answered 100 before the body")
    func stalledBodyAndContinue() async throws {
        try await withTLSServer(configure: { $0.bodyTimeout = .seconds(1) }) { _, origin, options in
            let quoted = (options + ["--http2", "-X", "POST", "-T", "-", "-H", "Content-Type: application/json", "-w", "\n%{http_version} %{http_code}",
                                     "\(origin)/v1/jobs"]).map { "'\($0)'" }.joined(separator: " ")
            // The body stalls for 10 s against a timeout of 1: on a machine the whole suite keeps
            // busy the timer has fired seconds late, and the body must not end before it does.
            let stalled = try await offPool { try ChildProcess.run("/bin/bash", ["-c", #"(printf '{"name":'; sleep 10) | /usr/bin/curl "# + quoted]) }
            #expect(stalled.output.contains(#""code":"request_timeout""#) && stalled.output.hasSuffix("\n2 408"), "\(stalled.output) \(stalled.errors)")
            let jobs = try await Curl.run(options + ["--http2", "\(origin)/v1/jobs"]).output
            #expect(jobs.contains(#""jobs":[]"#), "the stalled request enqueued nothing: \(jobs)")

            let continued = try await Curl.run(options + ["--http2", "-v", "-H", "Expect: 100-continue", "-H", "Content-Type: application/json",
                                                          "--data", #"{"name":"after.continue"}"#, "-w", "\n%{http_version} %{http_code}", "\(origin)/v1/jobs"])
            #expect(continued.errors.contains("< HTTP/2 100"), "\(continued.errors)")
            #expect(continued.output.hasSuffix("\n2 201"), "\(continued.output)")
        }
    }

    @Test("a connection that never finishes its TLS handshake is closed after the head timeout; the server goes on serving HTTP/2")
    func silentHandshakeIsClosed() async throws {
        try await withTLSServer(configure: { $0.headTimeout = .seconds(1) }) { server, origin, options in
            let silent = try LoopbackConnection(port: server.port, timeout: 20)
            let hello = try await offPool { try LoopbackConnection(port: server.port, timeout: 20) }
            hello.send([0x16, 0x03, 0x01, 0x00, 0x40])  // a TLS record header whose ClientHello never comes
            let (silentEnd, helloEnd) = try await offPool { (silent.receive(), hello.receive()) }
            #expect(silentEnd.isEmpty && !silent.timedOut, "the silent connection was closed")
            #expect(helloEnd.isEmpty && !hello.timedOut, "the unfinished handshake was closed")
            // The head timeout of one second holds for this request's own handshake too: on a
            // machine loaded by the rest of the suite it may run out, so up to three tries.
            var answers: [String] = []
            for _ in 0..<3 where answers.last?.hasPrefix("2 200") != true {
                let answered = try await Curl.run(options + ["--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "\(origin)/v1/stats"])
                answers.append(answered.output + " " + answered.errors)
            }
            #expect(answers.last?.hasPrefix("2 200") == true, "\(answers)")
        }
    }

    @Test("connections over the cap are refused over TLS too (503 to an HTTP/1.1 client); HTTP/2 connections count, and once they close a new one is served")
    func connectionCap() async throws {
        try await withTLSServer(configure: { $0.maxConnections = 2 }) { server, origin, options in
            let quoted = (options + ["--http2", "-X", "POST", "-T", "-", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                                     "\(origin)/v1/jobs"]).map { "'\($0)'" }.joined(separator: " ")
            let held = try (0..<2).map { _ in
                // exec: the child is curl itself, so the signal below ends the connection.
                try ChildProcess.spawn("/bin/bash", ["-c", #"exec /usr/bin/curl "# + quoted + #" < <(printf '{"name":'; sleep 60)"#],
                                       environment: ProcessInfo.processInfo.environment, outputPath: "/dev/null")
            }
            defer { for child in held { child.signal(SIGKILL); child.waitForExitBlocking() } }
            let deadline = ContinuousClock.now + .seconds(30)
            while server.server.openConnections < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(server.server.openConnections == 2, "two HTTP/2 connections are open")
            let refused = try await Curl.run(options + ["--http1.1", "-w", "\n%{http_code}", "\(origin)/v1/stats"])
            #expect(refused.output.contains("too_many_connections") && refused.output.hasSuffix("\n503"), "\(refused.output) \(refused.errors)")
            for child in held { child.signal(SIGKILL); child.waitForExitBlocking() }
            let served = try await waitForAnswer(options + ["--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "\(origin)/v1/stats"])
            #expect(served == "2 200")
        }
    }

    @Test("40 HTTP/2 connections that send the preface, then random frames (random types, flags, streams and payloads), then a connection error are closed; the server goes on serving")
    func randomFrames() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw ServerError("openssl is missing") }
        try await withTLSServer { server, origin, options in
            let directory = try TemporaryDirectory()
            for round in 0..<40 {
                // The preface and an empty SETTINGS frame, so random frames reach the frame decoder.
                var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
                for _ in 0..<Int.random(in: 1...8) {
                    let length = Int.random(in: 0...200)
                    bytes += [0, UInt8(length >> 8), UInt8(length & 0xFF), UInt8.random(in: 0...10), UInt8.random(in: 0...255)]
                    bytes += withUnsafeBytes(of: UInt32.random(in: 0...5).bigEndian, Array.init)
                    bytes += (0..<length).map { _ in UInt8.random(in: 0...255) }
                }
                bytes += [0, 0, 1, 0, 0, 0, 0, 0, 0, 0x2A]  // DATA on stream 0: a connection error whatever came before
                let file = directory.path("frames-\(round)")
                FileManager.default.createFile(atPath: file, contents: Data(bytes))
                let outcome = try await offPool {
                    try ChildProcess.run("/bin/bash", ["-c", "timeout 20 /usr/bin/openssl s_client -quiet -alpn h2 -connect 127.0.0.1:\(server.port) < '\(file)'"])
                }
                #expect(outcome.status != 124, "round \(round): the server kept a connection of random frames open")
            }
            // The head timeout of one second holds for this request's own handshake too: on a
            // machine loaded by the rest of the suite it may run out, so up to three tries.
            var answers: [String] = []
            for _ in 0..<3 where answers.last?.hasPrefix("2 200") != true {
                let answered = try await Curl.run(options + ["--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "\(origin)/v1/stats"])
                answers.append(answered.output + " " + answered.errors)
            }
            #expect(answers.last?.hasPrefix("2 200") == true, "\(answers)")
        }
    }

    /// curl's output once it is not a refusal, trying for up to 30 s while the held connections close.
    private func waitForAnswer(_ arguments: [String]) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        var output = ""
        repeat {
            output = try await Curl.run(arguments).output
            if output == "2 200" { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return output
    }
}
