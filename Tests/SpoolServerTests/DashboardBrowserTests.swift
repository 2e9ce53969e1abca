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

    private func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerError("never saw \(what)")
    }
}
