import Hummingbird
import Logging

/// Turns every error into the JSON error body with its status, and logs unexpected ones.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status == .internalServerError {
                logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            }
            return try apiError.response(from: request, context: context)
        }
    }
}

/// Refuses requests that change something when a browser sent them on behalf of a page of
/// another origin (cross-site request forgery): an `Origin` header (which browsers send with
/// every cross-origin request but simple GETs) that names another host, port or scheme than the
/// request's own `Host` gets 403 `forbidden_origin`; so does a request marked `Sec-Fetch-Site:
/// cross-site` or `same-site` (another port of this host is same-site, yet another origin).
/// GET and HEAD go through (a link from elsewhere may open the dashboard; reading an answer
/// across origins is the browser's to forbid), except WebSocket upgrades, which browsers do not
/// guard: `/v1/events` checks those itself. Clients other than browsers send neither header.
struct OriginMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method != .get && request.method != .head,
           let refusal = OriginMiddleware.refusal(request.headers, authority: request.head.authority) { throw refusal }
        return try await next(request, context)
    }

    /// Why a request with `headers` to `authority` (its `Host`) must be refused, or `nil`.
    static func refusal(_ headers: HTTPFields, authority: String?) -> APIError? {
        func field(_ name: String) -> String? { headers.first { $0.name.canonicalName == name }?.value }
        if let site = field("sec-fetch-site")?.lowercased(), site == "cross-site" || site == "same-site" {
            return forbidden("a page of another site or origin (Sec-Fetch-Site: \(site))")
        }
        guard let origin = field("origin") else { return nil }
        let host = authority ?? ""
        guard origin == "http://\(host)" || origin == "https://\(host)" else {
            return forbidden("a page of origin '\(origin.prefix(100))'")
        }
        return nil
    }

    private static func forbidden(_ who: String) -> APIError {
        APIError(.forbidden, "forbidden_origin", "requests from \(who) are refused: the API serves its own dashboard and non-browser clients")
    }
}

/// Requires the bearer token on every request but ``isPublic(_:)``: in `Authorization: Bearer …`, or in the
/// dashboard's `spool_token` cookie. `GET /?token=…` with the right token sets that cookie
/// (HttpOnly, SameSite=Strict) and redirects to `/`, so a browser can sign in once; a browser
/// asking for `/` without it gets a sign-in page (still 401, and no data).
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: AccessToken

    /// What needs no token: `/push.js` (a script for other sites' pages, with nothing secret
    /// in it), `/v1/events` with a job's subscription token (checked by the route), and the push
    /// demo's worker app under `/demo/app/`, which checks the signature of the `spool.http`
    /// requests it serves itself.
    static func isPublic(_ request: Request) -> Bool {
        let path = request.uri.path
        if request.method == .get, path == "/push.js" || (path == "/v1/events" && request.uri.queryParameters["token"] != nil) {
            return true
        }
        return path.hasPrefix("/demo/app/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if token.authorizes(request.headers) || AuthMiddleware.isPublic(request) { return try await next(request, context) }
        guard request.method == .get, request.uri.path == "/" else { throw APIError.unauthorized }
        let given = request.uri.queryParameters.get("token")
        if let given, token.matches(given[...]) {
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = "\(AccessToken.cookieName)=\(given); Path=/; HttpOnly; SameSite=Strict"
            return Response(status: .seeOther, headers: headers)
        }
        guard SpoolAPI.prefersHTML(request.headers[.accept]) else { throw APIError.unauthorized }
        return try DashboardAssets.response("signin.html", status: .unauthorized, rejected: given != nil)
    }
}

extension APIError {
    /// A request without the right token.
    static var unauthorized: APIError {
        APIError(.unauthorized, "unauthorized", "this server needs a bearer token: send Authorization: Bearer <SPOOL_TOKEN>",
                 headers: [.wwwAuthenticate: #"Bearer realm="spool""#])
    }
}

extension AccessToken {
    /// The cookie the dashboard signs in with.
    static let cookieName = "spool_token"

    /// Whether `headers` carry the token, as a bearer token or the dashboard's cookie.
    func authorizes(_ headers: HTTPFields) -> Bool {
        // The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces follow it.
        if let authorization = headers[.authorization], authorization.count > 7,
           authorization.prefix(7).lowercased() == "bearer " {
            return matches(authorization.dropFirst(7).drop { $0 == " " })
        }
        for cookies in headers[values: .cookie] {
            for pair in cookies.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if trimmed.hasPrefix(AccessToken.cookieName + "=") {
                    return matches(trimmed.dropFirst(AccessToken.cookieName.count + 1))
                }
            }
        }
        return false
    }
}
