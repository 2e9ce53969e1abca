import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// `spool serve` started as a process on a random port.
struct ServeProcess {
    let process: ChildProcess
    let port: Int
    let log: String

    /// Starts `spool serve` with `arguments` and waits for it to print its URL.
    static func start(_ arguments: [String], environment: [String: String] = [:], log: String) async throws -> ServeProcess {
        let process = try SpoolProcess.start(["serve", "--listen", "127.0.0.1:0"] + arguments, environment: environment, log: log)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.range(of: "Dashboard: ").map({ text[$0.upperBound...].prefix { $0 != "\n" } }),
               let range = line.range(of: "://127.0.0.1:"), let port = Int(line[range.upperBound...].prefix { $0.isNumber }) {
                return ServeProcess(process: process, port: port, log: log)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
        throw ServerError("spool serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Sends SIGTERM and returns the exit status.
    func stop() async -> Int32 {
        process.terminate()
        return await process.waitForExit()
    }
}

@Suite("spool serve and spool status")
struct ServeCommandTests {
    let directory: TemporaryDirectory
    let store: String

    init() throws {
        directory = try TemporaryDirectory()
        store = "sqlite:" + directory.path("spool.db")
    }

    @Test("--no-worker without any worker: /status and spool status are red naming the dispatchers; a worker on the same store turns them green")
    func statusTurnsRed() async throws {
        let server = try await ServeProcess.start(["--no-worker", "--store", store, "--probe-timeout", "30"], log: directory.path("serve.log"))
        let red = try await HTTPTestClient.request(port: server.port, "GET", "/status")
        #expect(red.status == 503 && red.text.contains(#""failing":["dispatchers","probe"]"#), "\(red.text)")
        let cli = try await SpoolProcess.run(["status", "--store", store, "--probe-timeout", "30"])
        #expect(cli.status == 1 && cli.stdout.contains("failing: dispatchers, probe"), "\(cli.stdout)\(cli.stderr)")
        let worker = try SpoolProcess.start(["worker", "--store", store, "--uuid-file", directory.path("worker-uuid.txt")],
                                            log: directory.path("worker.log"))
        defer { if worker.isRunning { worker.terminate() } }
        var green = red
        let deadline = Date().addingTimeInterval(60)
        while green.status != 200, Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            green = try await HTTPTestClient.request(port: server.port, "GET", "/status")
        }
        #expect(green.status == 200, "\(green.text)")
        worker.terminate()
        await worker.waitForExit()
        #expect(await server.stop() == 0, "SIGTERM shuts spool serve down cleanly")
    }

    @Test("with the defaults, spool serve answers a request head that does not arrive within 10 s with 408 and closes")
    func headTimeoutByDefault() async throws {
        let server = try await ServeProcess.start(["--store", store], log: directory.path("serve-defaults.log"))
        let started = ContinuousClock.now
        let answer = try await offPool { () -> (String, Bool) in
            let connection = try LoopbackConnection(port: server.port, timeout: 30)
            defer { connection.close() }
            connection.send(Array("GET /v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8))
            var received: [UInt8] = []
            while case let chunk = connection.receive(), !chunk.isEmpty { received += chunk }
            return (String(decoding: received, as: UTF8.self), !connection.timedOut)
        }
        #expect(answer.0.hasPrefix("HTTP/1.1 408 ") && answer.0.contains("request_timeout"), "\(answer.0.prefix(200))")
        #expect(answer.1, "the server closed the connection")
        #expect(ContinuousClock.now - started >= .seconds(9), "not before the default head timeout")
        #expect(await server.stop() == 0)
    }

    @Test("an IPv6 listen address is printed in brackets, in the log line and the dashboard's address")
    func ipv6Address() async throws {
        let log = directory.path("serve6.log")
        let process = try SpoolProcess.start(["serve", "--listen", "[::1]:0", "--no-worker", "--store", store], log: log)
        defer { if process.isRunning { process.terminate() } }
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning, !text.contains("Dashboard: ") {
            try await Task.sleep(for: .milliseconds(50))
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        #expect(text.contains("listening on [::1]:"), "\(text)")
        #expect(text.contains("Dashboard: http://[::1]:"), "\(text)")
        #expect(!text.contains(":::"), "\(text)")
    }

    @Test("a non-loopback listen address without SPOOL_TOKEN is refused with the reason")
    func refusesOpenListen() async throws {
        let result = try await SpoolProcess.run(["serve", "--listen", "0.0.0.0:0", "--store", store], environment: ["SPOOL_TOKEN": ""])
        #expect(result.status == 1)
        #expect(result.stderr.contains("refusing to listen on 0.0.0.0:0 without a token") && result.stderr.contains("SPOOL_TOKEN"), "\(result.stderr)")
    }

    @Test("spool serve --tls-cert --tls-key: the curl script drives the whole API over HTTPS, trusting the test CA, and curl without options gets HTTP/2; plain HTTP to that port gets no answer")
    func https() async throws {
        guard Self.curlAvailable() else { return }
        let certificates = try await offPool { try TestCertificates() }
        let files = try await offPool { try certificates.server("localhost") }
        let half = try await SpoolProcess.run(["serve", "--store", store, "--tls-cert", files.certificate])
        #expect(half.status != 0 && half.stderr.contains("--tls-cert and --tls-key go together"), "\(half.stderr)")

        let token = "tls-\(UUID().uuidString)"
        let server = try await ServeProcess.start(["--store", store, "--uuid-file", directory.path("uuid.txt"),
                                                   "--tls-cert", files.certificate, "--tls-key", files.key],
                                                  environment: ["SPOOL_TOKEN": token], log: directory.path("serve.log"))
        #expect(((try? String(contentsOfFile: server.log, encoding: .utf8)) ?? "").contains("Dashboard: https://127.0.0.1:\(server.port)/"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/api-check").path
        let output = directory.path("curl.out")
        let child = try ChildProcess.spawn("/bin/bash", [script, "https://localhost:\(server.port)"],
                                           environment: ["SPOOL_TOKEN": token, "PATH": "/usr/bin:/bin", "CURL_CA_BUNDLE": certificates.caFile],
                                           outputPath: output)
        let status = await child.waitForExit()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0 && text.contains("checks passed"), "\(text)")

        // curl as a user runs it, without a protocol option, gets HTTP/2.
        let plainCurl = try await Curl.run(["-sS", "-m", "10", "--cacert", certificates.caFile, "-H", "Authorization: Bearer \(token)",
                                            "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "https://localhost:\(server.port)/v1/stats"])
        #expect(plainCurl.output == "2 200", "\(plainCurl.output) \(plainCurl.errors)")
        let plain = try await Curl.run(["-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/v1/stats"])
        #expect(plain.status != 0 && plain.output == "000", "plain HTTP got an answer: \(plain.output) \(plain.errors)")
        #expect(await server.stop() == 0)
    }

    /// Whether curl is there; records an issue when it is missing and not skipped (`SPOOL_SKIP_CURL=1`).
    static func curlAvailable() -> Bool {
        if Curl.isInstalled { return true }
        if Curl.shouldRun { Issue.record(Comment(rawValue: Curl.missing)) }
        return false
    }

    @Test("a shell script drives the whole API with curl only, with a bearer token")
    func curlOnly() async throws {
        guard Self.curlAvailable() else { return }
        let token = "curl-\(UUID().uuidString)"
        let server = try await ServeProcess.start(["--store", store, "--uuid-file", directory.path("uuid.txt")],
                                                  environment: ["SPOOL_TOKEN": token], log: directory.path("serve.log"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/api-check").path
        let output = directory.path("curl.out")
        let child = try ChildProcess.spawn("/bin/bash", [script, "http://127.0.0.1:\(server.port)"],
                                           environment: ["SPOOL_TOKEN": token, "PATH": "/usr/bin:/bin"], outputPath: output)
        let status = await child.waitForExit()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0 && text.contains("checks passed"), "\(text)")
        #expect(await server.stop() == 0)
    }
}
