import Foundation
import SpoolTestSupport
import Testing

/// Private keys and passwords: a key others may read is named with its fix wherever a key is
/// given, and a password in a URL shows in no output, even when the connection fails.
@Suite("Secrets: private keys and passwords")
struct SecretsTests {
    @Test("a private key other users may read gets a warning naming it and the fix (store URL, AMQP URL, --tls-key); a 0600 key none; the URLs' passwords never show")
    func looseKeys() async throws {
        let certificates = try TestCertificates()
        let (certificate, key) = try certificates.server("localhost")
        let directory = try TemporaryDirectory()
        let password = "topsecret-\(UInt32.random(in: 0...UInt32.max))"
        #expect(chmod(key, 0o644) == 0)
        let warning = "spool: warning: the private key \(key)"
        let fix = "may be read by every user of this host (mode 0644); make it"

        let store = "postgres://app:\(password)@127.0.0.1:1/jobs?sslmode=require&sslcert=\(certificate)&sslkey=\(key)"
        let postgres = try await SpoolProcess.run(["jobs", "list", "--store", store])
        #expect(postgres.status != 0, "nothing listens on port 1")
        #expect(postgres.stderr.contains("\(warning) (sslkey= of a URL) \(fix)"), "\(postgres.stderr)")
        #expect(!(postgres.stdout + postgres.stderr).contains(password), "\(postgres.stderr)")

        let topology = directory.path("topology.json")
        try #"{"exchange": {"name": "spool", "type": "direct", "durable": true}, "queues": []}"#.write(toFile: topology, atomically: true, encoding: .utf8)
        let broker = "amqps://app:\(password)@127.0.0.1:1/?cacertfile=\(certificates.caFile)&certfile=\(certificate)&keyfile=\(key)"
        let amqp = try await SpoolProcess.run(["amqp", "declare", "--config", topology, "--amqp", broker])
        #expect(amqp.status != 0)
        #expect(amqp.stderr.contains("\(warning) (keyfile= of a URL) \(fix)"), "\(amqp.stderr)")
        #expect(!(amqp.stdout + amqp.stderr).contains(password), "\(amqp.stderr)")

        let log = directory.path("serve.log")
        let server = try await ServeProcess.start(["--store", "sqlite:" + directory.path("spool.db"), "--no-worker",
                                                   "--tls-cert", certificate, "--tls-key", key], log: log)
        #expect(await server.stop() == 0)
        let served = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(served.contains("\(warning) (--tls-key) \(fix)"), "\(served)")

        #expect(chmod(key, 0o600) == 0)
        let tight = try await SpoolProcess.run(["jobs", "list", "--store", store])
        #expect(!tight.stderr.contains("spool: warning"), "\(tight.stderr)")
    }
}
