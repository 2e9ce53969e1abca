import HTTPTypes
import Hummingbird
import NIOCore

/// Hummingbird middleware for a worker web application: refuses, with 403 and the reason, every
/// request whose `X-Spool-Signature` a ``HTTPSignatureVerifier`` refuses; the others go on with
/// their body collected (up to `maximumBodyBytes`; a larger one is answered 413).
///
/// ```swift
/// let verifier = HTTPSignatureVerifier(keys: try HTTPSigningKeys.fromEnvironment()!)
/// let router = Router()
/// router.middlewares.add(HTTPSignatureMiddleware(verifier: verifier))
/// router.post("/reports/render") { request, context in … }
/// ```
public struct HTTPSignatureMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The verifier, shared by every request of the application.
    public let verifier: HTTPSignatureVerifier
    /// The largest body read to check its hash.
    public let maximumBodyBytes: Int

    private static var signatureField: HTTPField.Name { HTTPField.Name(HTTPSignature.header)! }

    /// Middleware checking with `verifier`.
    public init(verifier: HTTPSignatureVerifier, maximumBodyBytes: Int = 16 << 20) {
        self.verifier = verifier
        self.maximumBodyBytes = maximumBodyBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        do {
            try verifier.verify(header: request.headers[Self.signatureField], method: request.method.rawValue,
                                target: request.head.path ?? "/", body: body.readableBytesView)
        } catch {
            context.logger.notice("refused a request without a valid Spool signature", metadata: ["reason": "\(error.reason)"])
            return Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: error.reason + "\n")))
        }
        return try await next(request, context)
    }
}
