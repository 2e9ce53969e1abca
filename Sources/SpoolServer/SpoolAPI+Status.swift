import Foundation
import Hummingbird
import NIOCore
import SpoolCore

/// `GET /status` (the self-test), `GET /metrics` (Prometheus) and `GET /openapi.yaml`.
extension SpoolAPI {
    func addStatusRoutes(to routes: Routes) {
        routes.get("/status") { request, _ in
            let report = await status.run()
            let code: HTTPResponse.Status = report.ok ? .ok : .serviceUnavailable
            guard SpoolAPI.prefersHTML(request.headers[.accept]) else { return JSONBody.response(report, status: code) }
            return Response(status: code, headers: [.contentType: "text/html; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: StatusPage.html(report))))
        }
        routes.get("/metrics") { _, _ in
            await metrics.refresh(store: store, events: events, deadAfter: configuration.status.deadAfter)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render() + Array(configuration.additionalMetrics().utf8))))
        }
        let document = SpoolAPI.document(maxWait: Int(configuration.maxWait.seconds))
        routes.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
        }
    }

    /// The OpenAPI document as this server answers: the longest `wait` is its own `maxWait`
    /// (300 s unless configured), written where the document says 300.
    static func document(maxWait: Int) -> String {
        let text = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
        guard maxWait != 300 else { return text }
        return text.components(separatedBy: "\n").map { line in
            line.contains("name: wait,") ? line.replacingOccurrences(of: "300", with: "\(maxWait)") : line
        }.joined(separator: "\n")
    }

    /// Whether an `Accept` header lists HTML before JSON (browsers do; curl sends `*/*`).
    static func prefersHTML(_ accept: String?) -> Bool {
        guard let accept, let html = accept.range(of: "text/html") else { return false }
        guard let json = accept.range(of: "application/json") else { return true }
        return html.lowerBound < json.lowerBound
    }
}

/// The self-test as a page a person reads.
enum StatusPage {
    static func html(_ report: StatusCheck.Report) -> String {
        let rows = report.parts.map { part in
            "<tr class=\"\(part.ok ? "ok" : "fail")\"><td>\(part.ok ? "✓" : "✗")</td><td>\(escape(part.name))</td>"
                + "<td>\(escape(part.detail))</td><td>\(String(format: "%.1f", part.milliseconds)) ms</td></tr>"
        }.joined(separator: "\n")
        let headline = report.ok ? "All systems go" : "Failing: \(report.failing.joined(separator: ", "))"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Spool status</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#1d232b}
            h1{font-size:1.4rem} .ok td:first-child{color:#1a7f37} .fail td:first-child{color:#cf222e}
            .fail{background:#fff1f0} table{border-collapse:collapse;width:100%} td{padding:.4rem .6rem;border-bottom:1px solid #e3e6ea}
            td:first-child{font-weight:bold;width:1.5rem} td:last-child{text-align:right;white-space:nowrap;color:#57606a}
            </style></head><body>
            <h1 class="\(report.ok ? "ok" : "fail")">Spool status: \(escape(headline))</h1>
            <table>
            \(rows)
            </table>
            <p>Checked \(escape(report.checkedAt)). <a href="/">Dashboard</a> · <a href="/metrics">Metrics</a></p>
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
