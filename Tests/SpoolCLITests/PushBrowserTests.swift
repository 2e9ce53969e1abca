import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// The push of a job's end to a real browser, with every part a separate process: `spool serve`
/// without a worker, a separate `spool worker`, a web application, headless Chromium.
@Suite(.serialized, .enabled(if: HeadlessChromium.shouldRun, "SPOOL_SKIP_CHROMIUM=1"), .timeLimit(.minutes(3)))
struct PushBrowserTests {
    static let webapp = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("push/webapp.py").path
    static let secret = "main:0123456789abcdef0123456789"

    @Test("a page enqueues through its web app, a separate worker runs the job as the user, the page shows the fragment without a reload")
    func webApplication() async throws {
        let directory = try TemporaryDirectory()
        let token = "push-browser-api-token"
        let environment = ["SPOOL_STORE": "sqlite:" + directory.path("spool.db"), "SPOOL_TOKEN": token, "SPOOL_HTTP_SECRET": Self.secret]
        let server = try await ServeProcess.start(["--no-worker"], environment: environment, log: directory.path("serve.log"))
        defer { server.process.terminate() }
        let worker = try SpoolProcess.start(["worker"], environment: environment, log: directory.path("worker.log"), in: directory.path(""))
        defer { worker.terminate() }
        let port = try LoopbackSocket.freePort()
        let app = try ChildProcess.spawn("/usr/bin/env", [MotoServer.python, Self.webapp, "\(port)"],
                                         environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
                                             .merging(["SPOOL_URL": "http://127.0.0.1:\(server.port)"]) { $1 },
                                         outputPath: directory.path("webapp.log"))
        defer { app.terminate() }
        try await waitForHTTP(port: port, "the web app")

        let browser = try await HeadlessChromium.start()
        defer { browser.close() }
        try await browser.navigate("http://127.0.0.1:\(port)/")
        try await browser.waitUntil("window.SpoolPush !== undefined", "push.js loaded from the Spool server")
        try await browser.evaluate("window.pushTestMarker = 7")
        try await browser.evaluate("document.getElementById('upload').click()")
        try await browser.waitUntil("document.querySelector('#preview .done')?.textContent === 'Preview of Q3 report for alice'",
                                    timeout: .seconds(60), "the preview fragment, rendered as alice, in place of the placeholder")
        #expect(try await browser.evaluate("document.querySelector('#jobs li').dataset.spoolState") == .string("completed"))
        #expect(try await browser.evaluate("window.pushTestMarker") == .number(7), "the page was not reloaded")
        let serveLog = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
        #expect(!serveLog.contains(token), "the API token appears in no log")
    }

    @Test("spool serve --demo --no-worker with a separate spool worker: the demo page shows each rendered preview without a reload")
    func demoPage() async throws {
        let directory = try TemporaryDirectory()
        let environment = ["SPOOL_STORE": "sqlite:" + directory.path("spool.db"), "SPOOL_HTTP_SECRET": Self.secret]
        let server = try await ServeProcess.start(["--demo", "--no-worker"], environment: environment, log: directory.path("serve.log"))
        defer { server.process.terminate() }
        let worker = try SpoolProcess.start(["worker"], environment: environment, log: directory.path("worker.log"), in: directory.path(""))
        defer { worker.terminate() }
        let browser = try await HeadlessChromium.start()
        defer { browser.close() }
        try await browser.navigate("http://127.0.0.1:\(server.port)/demo")
        try await browser.waitUntil("document.body.dataset.ready === 'true'", "the demo page loaded")
        try await browser.evaluate("window.pushTestMarker = 7")
        for title in ["First report", "Second report"] {
            try await browser.evaluate("document.getElementById('title').value = \(JSONValue.string(title).compactText); document.getElementById('enqueue').click()")
            try await browser.waitUntil("Array.from(document.querySelectorAll('#previews figure.rendered strong')).some(e => e.textContent === \(JSONValue.string(title).compactText))",
                                        timeout: .seconds(60), "the rendered preview of '\(title)'")
        }
        #expect(try await browser.evaluate("document.querySelectorAll('#previews li[data-spool-state=\"completed\"]').length") == .number(2))
        #expect(try await browser.evaluate("window.pushTestMarker") == .number(7), "the page was not reloaded")
    }

    private func waitForHTTP(port: Int, _ what: String) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while (try? await HTTPTestClient.request(port: port, "GET", "/nothing")) == nil {
            guard ContinuousClock.now < deadline else { throw ServerError("\(what) did not start") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
