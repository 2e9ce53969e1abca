import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SpoolHTTP
import SpoolTestSupport
import Synchronization

/// A worker web application for the tests, on a random loopback port, behind
/// ``HTTPSignatureMiddleware``: it records each request that passed the check and answers by
/// route (echo, flaky, missing, busy, hang, big, redirects).
final class WorkerApp: Sendable {
    struct Seen: Sendable {
        var method: String
        var target: String
        var headers: [String: String]
        var body: [UInt8]
    }

    private final class Shared: Sendable {
        let seen = Mutex<[Seen]>([])
        let counters = Mutex<[String: Int]>([:])
        let port = Mutex<Int?>(nil)
    }

    let port: Int
    private let task: Task<Void, any Error>
    private let shared: Shared

    var requests: [Seen] { shared.seen.withLock { $0 } }
    var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, task: Task<Void, any Error>, shared: Shared) {
        self.port = port
        self.task = task
        self.shared = shared
    }

    deinit { task.cancel() }

    /// Starts the app checking signatures with `keys`.
    static func start(keys: HTTPSigningKeys) async throws -> WorkerApp {
        let shared = Shared()
        let router = Router()
        router.middlewares.add(HTTPSignatureMiddleware(verifier: HTTPSignatureVerifier(keys: keys)))
        router.middlewares.add(Recorder { seen in shared.seen.withLock { $0.append(seen) } })
        @Sendable func count(_ name: String) -> Int {
            shared.counters.withLock { counters in
                counters[name, default: 0] += 1
                return counters[name]!
            }
        }
        router.post("/echo") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            return Response(status: .ok, headers: [.contentType: request.headers[.contentType] ?? "application/octet-stream"],
                            body: ResponseBody(byteBuffer: body))
        }
        router.get("/hello") { _, _ in "hello" }
        router.get("/flaky") { _, _ -> Response in
            count("flaky") == 1 ? Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "down for a moment")))
                : Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "up")))
        }
        router.get("/missing") { _, _ -> Response in Response(status: .notFound, body: ResponseBody(byteBuffer: ByteBuffer(string: "no such report"))) }
        router.get("/busy") { _, _ -> Response in
            count("busy") == 1 ? Response(status: .tooManyRequests, headers: [.retryAfter: "2"]) : Response(status: .ok)
        }
        router.get("/hang") { _, _ -> Response in
            if count("hang") == 1 { try await Task.sleep(for: .seconds(30)) }
            return Response(status: .ok)
        }
        router.get("/big") { _, _ in String(repeating: "x", count: 3000) }
        router.get("/redirect-here") { _, _ in Response(status: .found, headers: [.location: "/hello"]) }
        router.get("/redirect-away") { _, _ in Response(status: .found, headers: [.location: "http://elsewhere.invalid/hello"]) }
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: nil),
                              onServerRunning: { channel in shared.port.withLock { $0 = channel.localAddress?.port } })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        let deadline = ContinuousClock.now + .seconds(60)
        while shared.port.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard let port = shared.port.withLock({ $0 }) else {
            task.cancel()
            throw ServerError("the worker app did not start listening within 60 s")
        }
        return WorkerApp(port: port, task: task, shared: shared)
    }
}

/// Records every request that reached it, with its body.
private struct Recorder<Context: RequestContext>: RouterMiddleware {
    let record: @Sendable (WorkerApp.Seen) -> Void

    init(_ record: @escaping @Sendable (WorkerApp.Seen) -> Void) { self.record = record }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.rawName] = field.value }
        record(WorkerApp.Seen(method: request.method.rawValue, target: request.head.path ?? "/", headers: headers,
                                  body: Array(body.readableBytesView)))
        return try await next(request, context)
    }
}
