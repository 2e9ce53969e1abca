import Hummingbird
import Synchronization

/// Registers the API's routes on a router and remembers each path's methods, so that a known
/// path asked with any other method is answered 405 `method_not_allowed` with `Allow`, not 404
/// (see ``MethodNotAllowedMiddleware``).
struct Routes {
    /// A route's handler.
    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    private let router: Router<BasicRequestContext>
    private let table: RouteTable

    init(_ router: Router<BasicRequestContext>, table: RouteTable) {
        self.router = router
        self.table = table
    }

    func get(_ path: String, _ handler: @escaping Handler) { add(path, .get, handler) }
    func post(_ path: String, _ handler: @escaping Handler) { add(path, .post, handler) }
    func put(_ path: String, _ handler: @escaping Handler) { add(path, .put, handler) }
    func delete(_ path: String, _ handler: @escaping Handler) { add(path, .delete, handler) }

    private func add(_ path: String, _ method: HTTPRequest.Method, _ handler: @escaping Handler) {
        router.on(RouterPath(path), method: method, use: handler)
        table.add(path, method)
    }
}

/// The paths the API serves (patterns with `:name` segments) and their methods.
final class RouteTable: Sendable {
    private let entries = Mutex<[(segments: [Substring], methods: [HTTPRequest.Method])]>([])

    func add(_ path: String, _ method: HTTPRequest.Method) {
        let segments = path.split(separator: "/")
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.segments == segments }) {
                entries[index].methods.append(method)
            } else {
                entries.append((segments, [method]))
            }
        }
    }

    /// The methods a path is served with (HEAD with GET), or `nil` for a path not served.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        let methods = entries.withLock { entries in
            entries.first { entry in
                entry.segments.count == segments.count
                    && zip(entry.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix(":") || pattern == segment }
            }?.methods
        }
        guard let methods else { return nil }
        return methods.contains(.get) ? methods + [.head] : methods
    }
}

/// Answers a request the router found no route for with 405 and `Allow` when its path is served
/// with other methods (any method: TRACE, QUERY, ...), leaving 404 for paths not served.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = table.methods(for: request.uri.path), !methods.contains(request.method) else { throw error }
            let allow = methods.map(\.rawValue).joined(separator: ", ")
            throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.uri.path); use \(allow)",
                           headers: [.allow: allow])
        }
    }
}
