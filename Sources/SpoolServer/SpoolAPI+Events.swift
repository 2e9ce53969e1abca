import Foundation
import Hummingbird
import HummingbirdCore
import HTTPTypes
import HummingbirdWebSocket
import NIOCore
import SpoolCore

/// `GET /v1/events`: the WebSocket stream of events.
///
/// The first message is `{"type": "subscribed", "at", "filter": {"queue", "job"}}`; then one
/// text message per ``ServerEvent``. Where a client fell more than the event buffer behind, the
/// events it missed are replaced by one `{"type": "lagged", "at", "dropped"}`; a client that
/// takes nothing for the lag limit meanwhile is disconnected. Clients need not send anything;
/// whatever they send is ignored.
///
/// `?job=ID&token=TOKEN`, with the job's `subscribeToken`, is a browser's subscription to the
/// end of that one job: it needs neither the API token nor the same origin (the page is the web
/// application's), and receives only `{"type": "job.ended", …}` (``ServerEvent/endText(_:)``),
/// at once when the job already ended.
extension SpoolAPI {
    func addEventRoutes(to routes: Routes) {
        routes.get("/v1/events") { request, _ -> Response in
            if try subscription(request.uri) == nil,
               let refusal = OriginMiddleware<BasicRequestContext>.refusal(request.headers, authority: request.head.authority) {
                throw refusal
            }
            _ = try SpoolAPI.eventFilter(request.uri)
            throw APIError(.upgradeRequired, "upgrade_required", "GET /v1/events is a WebSocket: send Connection: Upgrade and Upgrade: websocket")
        }
    }

    /// The job a `?token=` subscribes to, or `nil` without a token; 403 for a token that is not
    /// the job's, or expired, and 400 for a token without a job.
    func subscription(_ uri: URI) throws -> JobID? {
        guard let token = try SpoolAPI.parameter(uri, "token") else { return nil }
        guard let job = try SpoolAPI.eventFilter(uri).job else {
            throw APIError(.badRequest, "invalid_field", "token subscribes to one job: give its id as ?job=")
        }
        guard configuration.subscribeTokens.accepts(token, for: job) else {
            throw APIError(.forbidden, "invalid_subscribe_token", "token is not the subscribeToken of job \(job), or it expired")
        }
        return job
    }

    /// The filter of `?queue=` and `?job=`; 400 for a job that is not a UUID.
    static func eventFilter(_ uri: URI) throws -> EventFilter {
        var filter = EventFilter(queue: try SpoolAPI.parameter(uri, "queue"))
        if let job = try SpoolAPI.parameter(uri, "job") {
            guard let id = JobID(job) else { throw APIError(.badRequest, "invalid_id", "job '\(job.prefix(64))' is not a job id (a UUID)") }
            filter.job = id
        }
        return filter
    }

    /// Whether a request to `path` whose header fields `field` reads may be upgraded: only
    /// `/v1/events`, from no other origin, with the token when one is set, a valid filter and a
    /// well-formed WebSocket handshake. Anything else goes on as plain HTTP and gets the API's
    /// JSON answer there (401, 403, 400 or 426).
    func canUpgrade(path: String, token: AccessToken?, field: (String) -> String?) -> Bool {
        let uri = URI(path)
        guard uri.path == "/v1/events", field("upgrade")?.lowercased() == "websocket", field("sec-websocket-version") == "13",
              let key = field("sec-websocket-key"), Data(base64Encoded: key.trimmingCharacters(in: .whitespaces))?.count == 16,
              (try? SpoolAPI.eventFilter(uri)) != nil, let subscribed = try? Optional.some(subscription(uri)) else {
            return false
        }
        if subscribed != nil { return true }
        var headers = HTTPFields()
        for name in ["authorization", "cookie", "origin", "sec-fetch-site"] {
            if let value = field(name), let fieldName = HTTPField.Name(name) { headers[fieldName] = value }
        }
        return OriginMiddleware<BasicRequestContext>.refusal(headers, authority: field("host")) == nil
            && (token?.authorizes(headers) ?? true)
    }

    /// Upgrades what ``canUpgrade(path:token:field:)`` lets through (checked again here).
    func shouldUpgrade(_ head: HTTPRequest, channel: any Channel, token: AccessToken?)
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let fields = head.headerFields
        let path = head.path ?? "/"
        guard canUpgrade(path: path, token: token, field: { name in
                  name == "host" ? head.authority : HTTPField.Name(name).flatMap { fields[$0] } }),
              let filter = try? SpoolAPI.eventFilter(URI(path)), let subscribed = try? Optional.some(subscription(URI(path))) else {
            return .dontUpgrade
        }
        return .upgrade([:]) { inbound, outbound, _ in
            try await stream(filter, view: subscribed == nil ? .full : .end, inbound: inbound, outbound: outbound, channel: channel)
        }
    }

    private struct Subscribed: Encodable {
        struct Filter: Encodable {
            var queue: String?
            var job: JobID?
        }

        var type = "subscribed"
        var at = ISO8601.format(Date())
        var filter: Filter
    }

    private func stream(_ filter: EventFilter, view: EventSubscriber.View, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                        channel: any Channel) async throws {
        let (key, subscriber) = events.subscribe(filter, view: view, capacity: configuration.eventBuffer,
                                                 lagLimit: configuration.eventLagLimit) {
            channel.close(promise: nil)
        }
        defer { events.unsubscribe(key) }
        let hello = Subscribed(filter: .init(queue: filter.queue, job: filter.job))
        try await outbound.writeTextMessage(String(decoding: JSONBody.encode(hello), as: UTF8.self))
        if view == .end, let id = filter.job, let job = try await store.job(id), job.state.isTerminal {
            subscriber.offer(ServerEvent.endText(job))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await _ in inbound {}
            }
            group.addTask {
                while let text = await subscriber.next() { try await outbound.writeTextMessage(text) }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
