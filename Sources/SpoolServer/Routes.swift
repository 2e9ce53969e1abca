import Hummingbird

/// Registers the API's routes on a router and remembers each path's methods, so that a known
/// path asked with another method is answered 405 `method_not_allowed` with `Allow`, not 404.
final class Routes {
    /// A route's handler.
    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    private let router: Router<BasicRequestContext>
    private var methods: [(path: String, methods: [HTTPRequest.Method])] = []

    init(_ router: Router<BasicRequestContext>) { self.router = router }

    func get(_ path: String, _ handler: @escaping Handler) { add(path, .get, handler) }
    func post(_ path: String, _ handler: @escaping Handler) { add(path, .post, handler) }
    func put(_ path: String, _ handler: @escaping Handler) { add(path, .put, handler) }
    func delete(_ path: String, _ handler: @escaping Handler) { add(path, .delete, handler) }

    private func add(_ path: String, _ method: HTTPRequest.Method, _ handler: @escaping Handler) {
        router.on(RouterPath(path), method: method, use: handler)
        if let index = methods.firstIndex(where: { $0.path == path }) {
            methods[index].methods.append(method)
        } else {
            methods.append((path, [method]))
        }
    }

    /// Answers every method a path was not given (HEAD comes with GET) with 405 and `Allow`.
    func answerOtherMethods() {
        for (path, given) in methods {
            var allowed = given
            if given.contains(.get) { allowed.append(.head) }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .head, .post, .put, .delete, .patch, .options] where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(path); use \(allow)",
                                   headers: [.allow: allow])
                }
            }
        }
    }
}
