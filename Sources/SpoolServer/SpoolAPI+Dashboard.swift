import Hummingbird
import NIOCore

/// The dashboard: `GET /` and its assets under `GET /dashboard/{file}`, embedded in the binary
/// from `Sources/SpoolServer/Dashboard/`.
extension SpoolAPI {
    func addDashboardRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in try DashboardAssets.response("index.html") }
        router.get("/dashboard/:file") { _, context in try DashboardAssets.response(context.parameters.get("file") ?? "") }
    }
}

/// The dashboard's files by name, with their content types. A file added to `Dashboard/` is
/// embedded by SwiftPM as `PackageResources.<name_with_underscores>`; list it here to serve it.
enum DashboardAssets {
    static let files: [String: (type: String, bytes: [UInt8])] = [
        "index.html": ("text/html; charset=utf-8", PackageResources.index_html),
    ]

    static func response(_ name: String) throws -> Response {
        guard let file = files[name] else { throw APIError(.notFound, "not_found", "no dashboard file '\(name.prefix(64))'") }
        return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
