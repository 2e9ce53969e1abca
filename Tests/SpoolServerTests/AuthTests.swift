import Foundation
import SpoolCore
import SpoolServer
import SpoolTestSupport
import Testing

@Suite("HTTP API: tokens and listen addresses")
struct AuthTests {
    @Test("with a token every route needs it: missing or wrong is 401, right is 200, the dashboard cookie works")
    func bearerToken() async throws {
        try await withServer(worker: false, token: "s3cret-token") { server in
            for path in ["/v1/stats", "/v1/jobs", "/", "/metrics", "/status", "/openapi.yaml", "/v1/events"] {
                let missing = try await HTTPTestClient.request(port: server.port, "GET", path)
                #expect(missing.status == 401, "\(path)")
                #expect(missing.errorCode == "unauthorized")
                #expect(missing.headers["www-authenticate"] == #"Bearer realm="spool""#)
            }
            for wrong in ["Bearer s3cret-tokeN", "Bearer s3cret", "Bearer s3cret-token-and-more", "Basic s3cret-token", "s3cret-token"] {
                let response = try await HTTPTestClient.request(port: server.port, "GET", "/v1/stats", headers: ["Authorization": wrong])
                #expect(response.status == 401, "\(wrong)")
            }
            #expect(try await server.request("GET", "/v1/stats").status == 200)
            for scheme in ["bearer s3cret-token", "BEARER s3cret-token", "Bearer  s3cret-token"] {
                let response = try await HTTPTestClient.request(port: server.port, "GET", "/v1/stats", headers: ["Authorization": scheme])
                #expect(response.status == 200, "the scheme is case-insensitive: \(scheme)")
            }
            let signIn = try await HTTPTestClient.request(port: server.port, "GET", "/?token=s3cret-token")
            #expect(signIn.status == 303 && signIn.headers["location"] == "/")
            #expect(signIn.headers["set-cookie"]?.contains("HttpOnly") == true)
            let withCookie = try await HTTPTestClient.request(port: server.port, "GET", "/", headers: ["Cookie": "a=b; spool_token=s3cret-token"])
            #expect(withCookie.status == 200 && withCookie.headers["content-type"]?.hasPrefix("text/html") == true)
            let badSignIn = try await HTTPTestClient.request(port: server.port, "GET", "/?token=guess")
            #expect(badSignIn.status == 401)
            await #expect(throws: WebSocketTestClient.WebSocketRefused.self) {
                _ = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events")
            }
            let socket = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events", headers: ["Authorization": "Bearer s3cret-token"])
            #expect(try await socket.nextText()?.contains(#""type":"subscribed""#) == true)
            socket.close()
        }
    }

    @Test("requests that change something are refused from another origin, and bodies must be JSON")
    func crossOrigin() async throws {
        try await withServer(worker: false, token: "t0k") { server in
            let json = ["Content-Type": "application/json"]
            let own = try await server.request("POST", "/v1/jobs", body: #"{"name":"a"}"#,
                                               headers: json.merging(["Origin": "http://127.0.0.1:\(server.port)"]) { $1 })
            #expect(own.status == 201, "the dashboard's own origin: \(own.text)")
            for (name, value) in [("Origin", "http://127.0.0.1:1"), ("Origin", "null"), ("Sec-Fetch-Site", "same-site"),
                                  ("Sec-Fetch-Site", "cross-site")] {
                let forged = try await server.request("POST", "/v1/jobs", body: #"{"name":"b"}"#, headers: json.merging([name: value]) { $1 })
                #expect(forged.status == 403 && forged.errorCode == "forbidden_origin", "\(name): \(value)")
            }
            let link = try await server.request("GET", "/v1/stats", headers: ["Sec-Fetch-Site": "cross-site"])
            #expect(link.status == 200, "reading is left to the browser's own rules")
            for type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
                let form = try await server.request("POST", "/v1/jobs", body: #"{"name":"c"}"#, headers: ["Content-Type": type])
                #expect(form.status == 415 && form.errorCode == "unsupported_media_type", "\(type)")
            }
            let charset = try await server.request("PUT", "/v1/quotas/q", body: #"{"size":1}"#,
                                                   headers: ["Content-Type": "application/json; charset=utf-8"])
            #expect(charset.status == 201)
            let jobs = try await server.request("GET", "/v1/jobs").text
            #expect(jobs.contains(#""name":"a""#) && !jobs.contains(#""name":"b""#) && !jobs.contains(#""name":"c""#))
        }
    }

    @Test("a non-loopback listen address without a token is refused with a reason; with a token it is allowed")
    func listenAddresses() throws {
        #expect(throws: SpoolError.self) { try ServerConfiguration(listen: "0.0.0.0:7070", token: nil) }
        #expect(throws: SpoolError.self) { try ServerConfiguration(listen: "[::]:7070", token: "") }
        do {
            _ = try ServerConfiguration(listen: "0.0.0.0:7070", token: nil)
        } catch let error as SpoolError {
            #expect(error.message.contains("SPOOL_TOKEN"))
        }
        let open = try ServerConfiguration(listen: "0.0.0.0:8080", token: "t")
        #expect(open.host == "0.0.0.0" && open.port == 8080)
        let loopback = try ServerConfiguration(listen: "[::1]:0", token: nil)
        #expect(loopback.host == "::1" && loopback.port == 0)
        #expect(try ServerConfiguration(listen: ":9000", token: nil).host == "127.0.0.1")
        for bad in ["7070", "host:", "host:99999", "::1:80", "[::1:80"] {
            #expect(throws: SpoolError.self, "\(bad)") { try ServerConfiguration(listen: bad, token: nil) }
        }
    }
}
