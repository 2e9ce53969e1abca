import Foundation
import Hummingbird
import SpoolCore

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
        guard let name = context.parameters.get(key), !name.isEmpty, name.utf8.count <= 200 else {
            throw APIError.invalidField("the \(key) name must be 1 to 200 bytes")
        }
        return name
    }

    /// Registers every route on `router`; other methods of their paths answer 405.
    func addRoutes(to router: Router<BasicRequestContext>) {
        let routes = Routes(router)
        addJobRoutes(to: routes)
        addQueueRoutes(to: routes)
        addQuotaRoutes(to: routes)
        addOverviewRoutes(to: routes)
        addEventRoutes(to: routes)
        addStatusRoutes(to: routes)
        addDashboardRoutes(to: routes)
        routes.answerOtherMethods()
    }
}
