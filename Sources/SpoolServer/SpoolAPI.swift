import Foundation
import Hummingbird
import HummingbirdCore
import SpoolCore
import SpoolHTTP

/// What the route handlers share: the store, the event hub, the metrics and the settings.
struct SpoolAPI: Sendable {
    let store: any JobStore
    let events: ServerEvents
    let metrics: ServerMetrics
    let configuration: ServerConfiguration
    let status: StatusCheck

    /// The job id in a path, or 400.
    static func jobID(_ context: BasicRequestContext) throws -> JobID {
        let text = context.parameters.get("id") ?? ""
        guard let id = JobID(text) else {
            throw APIError(.badRequest, "invalid_id", "'\(text.prefix(64))' is not a job id (a UUID such as 0193c3a4-5b6e-7c8d-9e0f-112233445566)")
        }
        return id
    }

    /// A named path parameter that must not be empty.
    static func name(_ context: BasicRequestContext, _ key: String) throws -> String {
        // A path segment arrives percent-encoded; the name is what it encodes.
        guard let raw = context.parameters.get(key), let name = raw.removingPercentEncoding, !name.isEmpty,
              name.unicodeScalars.count <= 200, !name.utf8.contains(0) else {
            throw APIError.invalidField("the \(key) name must be 1 to 200 characters, without NUL")
        }
        return name
    }

    /// The query parameter `key`, if given; an empty value is refused with 400 (leave the
    /// parameter out instead).
    static func parameter(_ uri: URI, _ key: String) throws -> String? {
        guard let value = uri.queryParameters.get(key) else { return nil }
        guard !value.isEmpty else { throw APIError.invalidField("\(key) must not be empty; leave it out for no \(key)") }
        guard !value.utf8.contains(0) else { throw APIError.invalidField("\(key) must not contain the NUL character") }
        return value
    }

    /// Registers every route on `router`, and each path's methods in `table`.
    func addRoutes(to router: Router<BasicRequestContext>, table: RouteTable) {
        let routes = Routes(router, table: table)
        addJobRoutes(to: routes)
        addHTTPJobRoutes(to: routes)
        addMirrorRoutes(to: routes)
        addQueueRoutes(to: routes)
        addQuotaRoutes(to: routes)
        addOverviewRoutes(to: routes)
        addEventRoutes(to: routes)
        addStatusRoutes(to: routes)
        addDashboardRoutes(to: routes)
        if let keys = configuration.pushDemoKeys { addPushDemoRoutes(to: routes, verifier: HTTPSignatureVerifier(keys: keys)) }
    }
}
