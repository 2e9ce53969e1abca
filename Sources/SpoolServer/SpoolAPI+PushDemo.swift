import Foundation
import Hummingbird
import NIOCore
import SpoolHTTP

/// `spool serve --demo`'s page of the push of job ends, and the small worker application its
/// `spool.http` jobs call: `GET /demo` has a button that enqueues a job through
/// `POST /v1/http-jobs`; a dispatcher (this server's or a separate `spool worker` with the
/// same `SPOOL_HTTP_SECRET`) sends the signed request to `POST /demo/app/render`, which
/// answers with an `X-Spool-Fragment`; the page, watching the job with `/push.js`, shows that
/// fragment without a reload.
extension SpoolAPI {
    func addPushDemoRoutes(to routes: Routes, verifier: HTTPSignatureVerifier) {
        routes.get("/demo") { _, _ in try DashboardAssets.response("push-demo.html") }
        routes.post("/demo/app/render") { request, _ in
            let body = try await request.body.collect(upTo: 64 << 10)
            do {
                try verifier.verify(header: request.headers[.init("X-Spool-Signature")!], method: request.method.rawValue,
                                    target: request.uri.description, body: body.readableBytesView)
            } catch {
                return Response(status: .forbidden, body: ResponseBody(byteBuffer: ByteBuffer(string: "refused: \(error)\n")))
            }
            let title = String((SpoolAPI.formField("title", in: String(buffer: body)) ?? "untitled").prefix(80))
            let job = String((request.headers[.init("X-Spool-Job")!] ?? "").prefix(40))
            try await Task.sleep(for: .milliseconds(700))
            var fragment = URLComponents()
            fragment.path = "/demo/app/fragment"
            fragment.queryItems = [URLQueryItem(name: "title", value: title), URLQueryItem(name: "job", value: job),
                                   URLQueryItem(name: "at", value: ISO8601DateFormatter().string(from: Date()))]
            return Response(status: .ok, headers: [.init(HTTPJobs.fragmentHeader)!: fragment.string ?? "/demo/app/fragment",
                                                   .contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "rendered \(title)\n")))
        }
        routes.get("/demo/app/fragment") { request, _ in
            func field(_ name: String) -> String { String((request.uri.queryParameters.get(name) ?? "").prefix(80)) }
            let html = """
                <figure class="rendered" data-job="\(SpoolAPI.escapeHTML(field("job")))"><strong>\(SpoolAPI.escapeHTML(field("title")))</strong>
                <figcaption>rendered by job \(SpoolAPI.escapeHTML(field("job"))) at \(SpoolAPI.escapeHTML(field("at")))</figcaption></figure>
                """
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        }
    }

    /// The value of field `name` in an `application/x-www-form-urlencoded` body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String? { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            if decoded(parts[0]) == name { return parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return nil
    }

    /// `text` safe to put in HTML text or a quoted attribute.
    static func escapeHTML(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
