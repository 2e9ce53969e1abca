// `hb-floor PORT`: answers every request on 127.0.0.1:PORT with the same constant 201 as
// `nio-floor`, through Hummingbird 2 (its HTTP/1 server, a router with one route per method, the
// request body read whole): what Hummingbird itself costs per request, without Spool's
// middleware, guards or store. Build with `swift build -c release` in this directory.
import Foundation
import Hummingbird

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    print("usage: hb-floor PORT")
    exit(2)
}
let body = #"{"id":"0190a0a0-0000-7000-8000-000000000000","state":"available","queue":"default","subscribeToken":"1765000000.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}"#
let router = Router()
let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
    _ = try await request.body.collect(upTo: 1 << 20)
    return Response(status: .created, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: body)))
}
router.get("**", use: answer)
router.post("**", use: answer)
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
