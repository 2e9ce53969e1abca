import Hummingbird
import NIOCore

/// The dashboard: `GET /` and its assets under `GET /dashboard/{file}`, embedded in the binary
/// from `Sources/SpoolServer/Dashboard/`.
extension SpoolAPI {
    func addDashboardRoutes(to routes: Routes) {
        routes.get("/") { _, _ in try DashboardAssets.response("index.html") }
        routes.get("/dashboard/:file") { _, context in try DashboardAssets.response(context.parameters.get("file") ?? "") }
        routes.get("/push.js") { _, _ in try DashboardAssets.response("push.js") }
    }
}

/// The dashboard's files by name, with their content types. A file added to `Dashboard/` is
/// embedded by SwiftPM as `PackageResources.<name_with_underscores>`; list it here to serve it.
enum DashboardAssets {
    static let files: [String: (type: String, bytes: [UInt8])] = [
        "index.html": ("text/html; charset=utf-8", PackageResources.index_html),
        "signin.html": ("text/html; charset=utf-8", PackageResources.signin_html),
        "style.css": ("text/css; charset=utf-8", PackageResources.style_css),
        "app.js": ("text/javascript; charset=utf-8", PackageResources.app_js),
        "api.js": ("text/javascript; charset=utf-8", PackageResources.api_js),
        "charts.js": ("text/javascript; charset=utf-8", PackageResources.charts_js),
        "views.js": ("text/javascript; charset=utf-8", PackageResources.views_js),
        "jobs.js": ("text/javascript; charset=utf-8", PackageResources.jobs_js),
        "push.js": ("text/javascript; charset=utf-8", PackageResources.push_js),
        "push-demo.html": ("text/html; charset=utf-8", PackageResources.push_demo_html),
        "push-demo.js": ("text/javascript; charset=utf-8", PackageResources.push_demo_js),
    ]

    /// The page's content security policy: its own files only, no inline scripts, no other hosts.
    static let policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    /// The sign-in page's policy: its inline style, nothing else but the form.
    static let signInPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// The file `name`; `rejected` marks the sign-in page when a wrong token was given.
    static func response(_ name: String, status: HTTPResponse.Status = .ok, rejected: Bool = false) throws -> Response {
        guard let file = files[name] else { throw APIError(.notFound, "not_found", "no dashboard file '\(name.prefix(64))'") }
        var bytes = file.bytes
        if rejected { bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "hidden data-rejected", with: "data-rejected").utf8) }
        return Response(status: status, headers: [.contentType: file.type, .cacheControl: "no-cache", .contentSecurityPolicy: name == "signin.html" ? signInPolicy : policy,
                                                  .init("X-Content-Type-Options")!: "nosniff"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
