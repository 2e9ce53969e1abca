import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// The dashboard in a real headless Chromium against a real server: it shows what the API
/// says, changes live without a reload, acts through the API, and shows nothing without the
/// token. A screenshot is kept in `artifacts/dashboard.png`.
@Suite(.serialized, .enabled(if: HeadlessChromium.shouldRun, "SPOOL_SKIP_CHROMIUM=1"), .timeLimit(.minutes(3)))
struct DashboardBrowserTests {
    static let token = "dashboard-test-token"
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("artifacts").path

    /// A JavaScript string literal of `text`.
    static func literal(_ text: String) -> String { JSONValue.string(text).compactText }

    @Test("signed in, the page shows the API's counts, updates live without a reload, and its buttons act through the API")
    func liveDashboard() async throws {
        try await withServer(worker: false, token: DashboardBrowserTests.token) { server in
            let first = try await server.enqueue(#"{"name":"mail.send","queue":"mail","delay":3600,"payload":{"to":"ada@example.com"}}"#)
            let browser = try await HeadlessChromium.start()
            defer { browser.close() }
            try await browser.navigate("http://127.0.0.1:\(server.port)/?token=\(DashboardBrowserTests.token)")
            try await browser.waitUntil("document.body.dataset.ready === 'true'", "the dashboard loaded its data")
            let scheduled = "document.querySelector('#queues tr[data-queue=\"mail\"] td[data-count=\"scheduled\"]')?.textContent"
            try await browser.waitUntil("\(scheduled) === '1'", "queue mail with 1 scheduled job, as the API says")
            try await browser.waitUntil("document.getElementById('connection').dataset.state === 'live'", "the live event stream connected")
            try await browser.evaluate("window.spoolTestMarker = 42")

            let second = try await server.enqueue(#"{"name":"mail.digest","queue":"mail","delay":3600}"#)
            try await browser.waitUntil("document.querySelector('#jobs tr[data-job=\"\(second.id)\"]') !== null", "the new job's row")
            try await browser.waitUntil("\(scheduled) === '2'", "the scheduled count going to 2")
            #expect(try await browser.evaluate("window.spoolTestMarker") == .number(42), "the page was not reloaded")

            try await browser.evaluate("document.querySelector('#queues button[data-queue=\"mail\"]').click()")
            try await waitFor("the pause button to pause queue mail") {
                try await server.request("GET", "/v1/queues").text.contains(#""name":"mail","paused":true"#)
            }
            try await browser.waitUntil("document.querySelector('#queues button[data-queue=\"mail\"]')?.dataset.action === 'resume'", "a Resume button")

            try await browser.evaluate("document.querySelector('#jobs tr[data-job=\"\(first.id)\"]').click()")
            try await browser.waitUntil("document.getElementById('detail-body').textContent.includes('ada@example.com')", "the job's payload in its detail")
            try await browser.evaluate("document.querySelector('#detail-body button[data-action=\"cancel\"]').click()")
            try await waitFor("the cancel button to cancel the job") {
                try await server.request("GET", "/v1/jobs/\(first.id)").decode(Job.self).state == .cancelled
            }
            try await browser.waitUntil("document.querySelector('#jobs tr[data-job=\"\(first.id)\"]')?.dataset.state === 'cancelled'", "the row showing cancelled")
            let http = try await server.request("POST", "/v1/http-jobs", body: #"{"request":{"method":"post","url":"http://127.0.0.1:9/reports/7","task":"reports"},"delay":3600}"#)
            #expect(http.status == 201, "\(http.text)")
            let httpJob = try http.decode(Job.self)
            try await browser.waitUntil("document.querySelector('#jobs tr[data-job=\"\(httpJob.id)\"]') !== null", "the spool.http job's row")
            try await browser.evaluate("document.querySelector('#jobs tr[data-job=\"\(httpJob.id)\"]').click()")
            try await browser.waitUntil("document.querySelector('#detail-body [data-role=\"request-line\"]')?.textContent === 'POST http://127.0.0.1:9/reports/7'",
                                        "the spool.http job's request line in its detail")
            try await browser.screenshot(to: DashboardBrowserTests.artifacts + "/dashboard.png")
            #expect(FileManager.default.fileExists(atPath: DashboardBrowserTests.artifacts + "/dashboard.png"))
        }
    }

    @Test("with a dispatcher at work, the charts, the dispatcher's agents and the quotas show it as it happens")
    func workInProgress() async throws {
        try await withServer(worker: true, token: DashboardBrowserTests.token) { server in
            #expect(try await server.request("PUT", "/v1/quotas/smtp", body: #"{"size":4}"#).status == 201)
            let browser = try await HeadlessChromium.start()
            defer { browser.close() }
            try await browser.navigate("http://127.0.0.1:\(server.port)/?token=\(DashboardBrowserTests.token)")
            try await browser.waitUntil("document.body.dataset.ready === 'true'", "the dashboard loaded its data")
            try await browser.waitUntil("document.querySelector('[data-quota=\"smtp\"] .bar > span')?.style.width === '0%'", "quota smtp at 0 of 4")
            try await browser.waitUntil("document.querySelector('[data-dispatcher] .agent') !== null", "the dispatcher and its agent")
            let latency = "document.querySelector('#latency-legend [data-series=\"wait p50\"] b').textContent.endsWith(' ms')"
            let completed = "/^[0-9.]+k?\\/s$/.test(document.querySelector('#throughput-legend [data-series=\"completed\"] b').textContent)"
            let deadline = ContinuousClock.now + .seconds(40)
            var shown = false
            while !shown, ContinuousClock.now < deadline {
                _ = try await server.enqueue(#"{"name":"spool.noop"}"#)
                shown = try await browser.evaluate("\(latency) && \(completed)") == .bool(true)
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(shown, "the latency and throughput legends show figures of the jobs run")
        }
    }

    @Test("a steady 5 jobs/s shows as about 5/s in the throughput chart, though events refresh the page in between")
    func steadyThroughput() async throws {
        try await withServer(worker: true, token: DashboardBrowserTests.token) { server in
            let browser = try await HeadlessChromium.start()
            defer { browser.close() }
            try await browser.navigate("http://127.0.0.1:\(server.port)/?token=\(DashboardBrowserTests.token)")
            try await browser.waitUntil("document.body.dataset.ready === 'true'", "the dashboard loaded its data")
            try await browser.waitUntil("document.getElementById('connection').dataset.state === 'live'", "the live event stream connected")
            // 5 jobs/s for 12 s at least, and on until the chart has 5 points (a loaded machine
            // refreshes the page less often), for at most 60 s.
            let start = ContinuousClock.now
            var tick = 0
            while true {
                tick += 1
                _ = try await server.enqueue(#"{"name":"spool.noop"}"#)
                try await Task.sleep(until: start + .milliseconds(200 * tick))
                guard tick >= 60, tick % 5 == 0 else { continue }
                let count = try await browser.evaluate("document.getElementById('throughput-chart').chart.points.length")
                if tick >= 300 || (count.number ?? 0) >= 5 { break }
            }
            let points = try await browser.evaluate("""
                JSON.stringify(document.getElementById('throughput-chart').chart.points.map((p) => [p.t, p.values[0], p.values[2]]))
                """)
            guard case .string(let text) = points else { throw ServerError("no chart points: \(points)") }
            let samples = try JSONDecoder().decode([[Double]].self, from: Data(text.utf8))
            let steady = samples.dropFirst(2)   // the first points may span the start
            #expect(steady.count >= 3, "\(samples)")
            for (earlier, later) in zip(samples, samples.dropFirst()) {
                #expect(later[0] - earlier[0] >= 1400, "points at least most of the refresh interval apart: \(samples)")
            }
            // Rates over whole intervals: on a loaded machine the enqueues may come in bursts,
            // but never as the 30-40/s of rates taken over a few hundred milliseconds.
            #expect(steady.allSatisfy { $0[1] <= 20 && $0[2] <= 20 }, "no spikes: \(samples)")
            let average = steady.map { $0[1] }.reduce(0, +) / Double(max(1, steady.count))
            #expect(average > 1 && average < 10, "completed about 5/s on average: \(samples)")
        }
    }

    @Test("a page of another origin on the same host cannot act with the signed-in cookie: no form POST, no event stream")
    func crossOriginForgery() async throws {
        try await withServer(worker: false, token: DashboardBrowserTests.token) { server in
            let pages = try TemporaryDirectory()
            let target = "http://127.0.0.1:\(server.port)"
            try """
                <!doctype html><html><body>
                <form id="f" method="post" action="\(target)/v1/jobs" enctype="text/plain" target="sink">
                <input name='{"name":"forged.job","x":"' value='"}'></form>
                <iframe name="sink"></iframe>
                <script>
                window.socket = "pending";
                const ws = new WebSocket("ws://127.0.0.1:\(server.port)/v1/events");
                ws.onopen = () => { window.socket = "open"; };
                ws.onclose = () => { if (window.socket === "pending") window.socket = "refused"; };
                document.getElementById("f").submit();
                fetch("\(target)/v1/queues/default/pause", { method: "POST", credentials: "include", mode: "no-cors" })
                  .finally(() => { window.posted = true; });
                </script></body></html>
                """.write(toFile: pages.path("attack.html"), atomically: true, encoding: .utf8)
            let otherPort = try LoopbackSocket.freePort()
            let python = ProcessInfo.processInfo.environment["SPOOL_PYTHON"] ?? "/usr/bin/python3"
            let other = try ChildProcess.spawn(python, ["-m", "http.server", "\(otherPort)", "--bind", "127.0.0.1", "--directory", pages.url.path],
                                               environment: ProcessInfo.processInfo.environment, outputPath: pages.path("http.log"))
            defer {
                other.signal(SIGKILL)
                other.waitForExitBlocking()
            }
            try await LoopbackSocket.waitUntilAccepting(port: otherPort, process: other, name: "the other origin's web server")
            let browser = try await HeadlessChromium.start()
            defer { browser.close() }
            try await browser.navigate("\(target)/?token=\(DashboardBrowserTests.token)")
            try await browser.waitUntil("document.body.dataset.ready === 'true'", "signed in: the cookie is set")
            // Each navigation gets seconds to run the page's script: navigating again at once
            // would cut a slow load short every time on a busy machine.
            var loaded = false
            for _ in 0..<6 where !loaded {
                try await browser.navigate("http://127.0.0.1:\(otherPort)/attack.html")
                loaded = (try? await browser.waitUntil("typeof window.socket === 'string'", timeout: .seconds(5), "the page's script ran")) != nil
            }
            #expect(loaded, "the other origin's page loaded")
            try await browser.waitUntil("window.socket !== 'pending' && window.posted === true", "the forged requests were answered")
            #expect(try await browser.evaluate("window.socket") == .string("refused"), "the event stream refused the other origin")
            try await Task.sleep(for: .milliseconds(300))
            let jobs = try await server.request("GET", "/v1/jobs").text
            #expect(!jobs.contains("forged.job"), "the forged form enqueued nothing: \(jobs)")
            #expect(!(try await server.request("GET", "/v1/queues").text.contains(#""paused":true"#)), "the forged POST paused nothing")
        }
    }

    @Test("without the token the page is a sign-in form and the API gives the browser no data; signing in shows the jobs")
    func signIn() async throws {
        try await withServer(worker: false, token: DashboardBrowserTests.token) { server in
            _ = try await server.enqueue(#"{"name":"secret.report","queue":"private","delay":3600}"#)
            let browser = try await HeadlessChromium.start()
            defer { browser.close() }
            try await browser.navigate("http://127.0.0.1:\(server.port)/")
            try await browser.waitUntil("document.querySelector('input[name=\"token\"]') !== null", "the sign-in form")
            #expect(try await browser.evaluate("document.body.innerText.includes('private')") == .bool(false))
            try await browser.navigate("http://127.0.0.1:\(server.port)/v1/queues")
            try await browser.waitUntil("document.body.innerText.includes('unauthorized')", "the API refusing the browser")
            #expect(try await browser.evaluate("document.body.innerText.includes('private')") == .bool(false))
            try await browser.navigate("http://127.0.0.1:\(server.port)/")
            try await browser.waitUntil("document.querySelector('input[name=\"token\"]') !== null", "the sign-in form again")

            try await browser.evaluate("document.querySelector('input[name=\"token\"]').value = 'wrong'; document.querySelector('form').submit()")
            try await browser.waitUntil("document.querySelector('[data-rejected]') !== null && !document.querySelector('[data-rejected]').hidden", "the rejection")

            try await browser.evaluate("document.querySelector('input[name=\"token\"]').value = \(DashboardBrowserTests.literal(DashboardBrowserTests.token)); document.querySelector('form').submit()")
            try await browser.waitUntil("document.querySelector('#queues tr[data-queue=\"private\"]') !== null", "the queues once signed in")
        }
    }

    @Test("over HTTPS (--tls-cert, --tls-key): Chromium trusting only the server's key signs in, loads the dashboard over HTTP/2, and its live stream connects over WSS and shows a job enqueued from the page")
    func overHTTPS() async throws {
        let certificates = try TestCertificates()
        let files = try certificates.server("spool.test")
        try await withServer(worker: false, token: DashboardBrowserTests.token,
                             configure: { $0.tls = .init(certificate: files.certificate, key: files.key) }) { server in
            let browser = try await HeadlessChromium.start(arguments: [
                "--host-resolver-rules=MAP spool.test 127.0.0.1",
                "--ignore-certificate-errors-spki-list=\(try certificates.publicKeyHash(files.certificate))",
            ])
            defer { browser.close() }
            let origin = "https://spool.test:\(server.port)"
            try await browser.navigate("\(origin)/?token=\(DashboardBrowserTests.token)")
            try await browser.waitUntil("document.body.dataset.ready === 'true'", "the dashboard loaded over HTTPS")
            #expect(try await browser.evaluate("location.protocol") == .string("https:"))
            #expect(try await browser.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == .string("h2"),
                    "the page came over HTTP/2")
            try await browser.waitUntil("document.getElementById('connection').dataset.state === 'live'", "the live event stream connected over WSS")
            try await browser.evaluate("""
                fetch('/v1/jobs', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                   body: JSON.stringify({name: 'tls.job', queue: 'secure', delay: 3600})})
                    .then(r => r.json()).then(job => { window.enqueued = job.id })
                """)
            try await browser.waitUntil("typeof window.enqueued === 'string'", "the page's enqueue over HTTPS")
            let id = try await browser.evaluate("window.enqueued")
            guard case .string(let jobID) = id else { Issue.record("no job id: \(id)"); return }
            try await browser.waitUntil("document.querySelector('#jobs tr[data-job=\"\(jobID)\"]') !== null", "the job's row, from the live stream")
        }
    }

    private func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerError("never saw \(what)")
    }
}
