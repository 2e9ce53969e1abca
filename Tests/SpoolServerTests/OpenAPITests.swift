import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// The routes of an OpenAPI document: path, method and documented status codes, read from its
/// `paths:` section by indentation (two spaces per level, as the document is written).
struct DocumentedRoute: CustomStringConvertible {
    var path: String
    var method: String
    var statuses: Set<Int>
    /// Whether the route needs no token (`security: [{}]`).
    var isPublic = false

    var description: String { "\(method.uppercased()) \(path)" }

    static func parse(_ yaml: String) -> [DocumentedRoute] {
        var routes: [DocumentedRoute] = []
        var inPaths = false, inResponses = false
        var path = ""
        for line in yaml.components(separatedBy: "\n") {
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            if indent == 0 { inPaths = text == "paths:"; continue }
            guard inPaths, !text.isEmpty else { continue }
            if indent == 2, text.hasSuffix(":") {
                path = String(text.dropLast())
            } else if indent == 4, ["get:", "post:", "put:", "delete:"].contains(text) {
                routes.append(DocumentedRoute(path: path, method: String(text.dropLast()), statuses: []))
                inResponses = false
            } else if indent == 6 {
                inResponses = text == "responses:"
                if text == "security: [{}]" { routes[routes.count - 1].isPublic = true }
            } else if indent == 8, inResponses, text.hasPrefix("\""), let code = Int(text.dropFirst().prefix(3)) {
                routes[routes.count - 1].statuses.insert(code)
            }
        }
        return routes
    }
}

@Suite("OpenAPI document")
struct OpenAPITests {
    @Test("the served document is OpenAPI 3.1 and every documented route answers with a documented status")
    func everyRouteAsDocumented() async throws {
        try await withServer { server in
            let response = try await server.request("GET", "/openapi.yaml")
            #expect(response.status == 200 && response.text.hasPrefix("openapi: 3.1.0"))
            let routes = DocumentedRoute.parse(response.text)
            #expect(routes.count >= 17, "parsed \(routes.count) routes")
            let job = try await server.enqueue(#"{"name":"spool.noop"}"#)
            _ = try await server.request("GET", "/v1/jobs/\(job.id)?wait=60")
            _ = try await server.request("PUT", "/v1/quotas/docs", body: #"{"size":1}"#)
            for route in routes {
                #expect(!route.statuses.isEmpty, "\(route) documents no status")
                let path = route.path.replacingOccurrences(of: "{id}", with: job.id.description)
                    .replacingOccurrences(of: "{name}", with: route.path.hasPrefix("/v1/quotas") ? "docs" : "default")
                let body: String? = switch (route.method, route.path) {
                case ("post", "/v1/jobs"): #"{"name":"spool.noop"}"#
                case ("put", _): #"{"size":2}"#
                default: nil
                }
                let answer = try await server.request(route.method.uppercased(), path, body: body)
                #expect(route.statuses.contains(answer.status), "\(route) answered \(answer.status), documented \(route.statuses.sorted())")
                #expect(route.isPublic || route.statuses.contains(401), "\(route) documents 401")
            }
        }
    }

    @Test("without a token every documented route answers 401, as documented")
    func unauthorized() async throws {
        try await withServer(worker: false, token: "t") { server in
            let routes = DocumentedRoute.parse(try await server.request("GET", "/openapi.yaml").text)
            for route in routes {
                let path = route.path.replacingOccurrences(of: "{id}", with: JobID.make().description).replacingOccurrences(of: "{name}", with: "q")
                let answer = try await HTTPTestClient.request(port: server.port, route.method.uppercased(), path)
                #expect(route.isPublic ? answer.status == 200 : answer.status == 401, "\(route)")
            }
        }
    }
}
