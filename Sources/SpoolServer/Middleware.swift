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

/// Requires the bearer token on every request: in `Authorization: Bearer …`, or in the
/// dashboard's `spool_token` cookie. `GET /?token=…` with the right token sets that cookie
/// (HttpOnly, SameSite=Strict) and redirects to `/`, so a browser can sign in once; a browser
/// asking for `/` without it gets a sign-in page (still 401, and no data).
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: AccessToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if token.authorizes(request.headers) { return try await next(request, context) }
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
        if let authorization = headers[.authorization], authorization.hasPrefix("Bearer ") {
            return matches(authorization.dropFirst("Bearer ".count))
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
