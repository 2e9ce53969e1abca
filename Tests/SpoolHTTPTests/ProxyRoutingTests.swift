import Foundation
import SpoolCore
import SpoolHTTP
import SpoolTestSupport
import Testing

/// `spool.http` requests routed by `X-Spool-Task` through a real nginx to two worker apps.
@Suite("spool.http through a reverse proxy", .enabled(if: NginxServer.shouldRun, "SPOOL_SKIP_NGINX=1"), .timeLimit(.minutes(2)))
struct ProxyRoutingTests {
    @Test("nginx routes by X-Spool-Task: each worker app receives only its own task's requests, and their signatures still hold")
    func routing() async throws {
        let reports = try await WorkerApp.start(keys: HTTPJobTests.keys)
        let mail = try await WorkerApp.start(keys: HTTPJobTests.keys)
        let nginx = try await NginxServer.start(http: """
            map $http_x_spool_task $pool { default 127.0.0.1:\(mail.port); reports 127.0.0.1:\(reports.port); }
            server { listen LISTEN; location / { proxy_pass http://$pool; } }
            """)
        defer { nginx.stop() }
        let harness = try await HTTPJobTests.Harness()
        let payloads = (0..<6).map { index in
            HTTPJobPayload(method: "POST", url: nginx.url + "/echo?n=\(index)", body: "job \(index)", task: index % 3 == 0 ? "mail" : "reports")
        }
        let jobs = try await harness.run(payloads, maxAttempts: 1)
        for job in jobs { #expect(job.state == .completed, "\(job.errors)") }
        #expect(reports.requests.count == 4 && reports.requests.allSatisfy { $0.headers["X-Spool-Task"] == "reports" },
                "\(reports.requests.map(\.target))")
        #expect(mail.requests.count == 2 && mail.requests.allSatisfy { $0.headers["X-Spool-Task"] == "mail" }, "\(mail.requests.map(\.target))")
        #expect(Set(mail.requests.map(\.target)) == ["/echo?n=0", "/echo?n=3"])
    }
}
