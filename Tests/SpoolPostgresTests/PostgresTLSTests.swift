import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

@Suite("PostgreSQL over TLS", .enabled(if: PostgresServer.shouldRun))
struct PostgresTLSTests {
    @Test("sslmode as libpq's: require and verify-full with the CA connect, verify-full against another name and disable against a TLS-only server are refused, naming why")
    func modes() async throws {
        let certificates = try await offPool { try TestCertificates() }
        let localhost = try await offPool { try Self.contents(of: certificates.server("localhost")) }
        // TLS only: every TCP connection must use it (hostssl), none in the clear.
        let server = try await PostgresServer.startPrivate(
            settings: ["ssl": "on", "ssl_cert_file": "server.crt", "ssl_key_file": "server.key"],
            hostRules: "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            files: ["server.crt": localhost.certificate, "server.key": localhost.key])
        defer { server.stop() }
        func open(host: String = "127.0.0.1", _ options: String) async throws -> PostgresStore {
            try await PostgresStore(url: "postgres://postgres@\(host):\(server.port)/postgres?schema=tls_test\(options.isEmpty ? "" : "&" + options)", maximumConnections: 2)
        }

        let required = try await open("sslmode=require")
        _ = try await required.insert([NewJob(name: "spool.noop")], now: Date())
        #expect(try await required.queues().first?.counts[.available] == 1, "a store over TLS works")
        await required.close()

        let verified = try await open(host: "localhost", "sslmode=verify-full&sslrootcert=\(certificates.caFile)")
        #expect(try await verified.queues().first?.counts[.available] == 1)
        await verified.close()

        let preferred = try await open("sslmode=prefer")
        #expect(try await preferred.queues().first?.counts[.available] == 1, "prefer takes the TLS the server offers")
        await preferred.close()
        let byDefault = try await open("")
        #expect(try await byDefault.queues().first?.counts[.available] == 1, "a URL without sslmode takes the TLS the server offers, as libpq")
        await byDefault.close()

        let clear = await #expect(throws: SpoolError.self) { try await open("sslmode=disable") }
        #expect(clear?.message.contains("takes only TLS connections from here and the URL says sslmode=disable") == true, "\(clear?.message ?? "")")

        // The same CA, a certificate for another name: verify-ca accepts it, verify-full does not.
        let other = try await offPool { try Self.contents(of: certificates.server("db.spool.test")) }
        for (name, contents) in ["server.crt": other.certificate, "server.key": other.key] {
            let path = server.directory.appendingPathComponent("data/\(name)").path
            try contents.write(to: URL(fileURLWithPath: path))
        }
        _ = try await offPool { try server.psql("SELECT pg_reload_conf()") }
        try await Task.sleep(for: .milliseconds(500))
        let byCA = try await open(host: "localhost", "sslmode=verify-ca&sslrootcert=\(certificates.caFile)")
        #expect(try await byCA.queues().first?.counts[.available] == 1, "verify-ca checks the chain, not the name")
        await byCA.close()
        let wrongName = await #expect(throws: SpoolError.self) {
            try await open(host: "localhost", "sslmode=verify-full&sslrootcert=\(certificates.caFile)")
        }
        #expect(wrongName?.message.contains("TLS with PostgreSQL at localhost:\(server.port) failed (sslmode=verify-full)") == true,
                "\(wrongName?.message ?? "")")
    }

    private static func contents(of files: (certificate: String, key: String)) throws -> (certificate: Data, key: Data) {
        (try Data(contentsOf: URL(fileURLWithPath: files.certificate)), try Data(contentsOf: URL(fileURLWithPath: files.key)))
    }

    @Test("TLS options in the URL: an unknown sslmode and a certificate without its key are refused, naming what is wrong")
    func badOptions() throws {
        let mode = #expect(throws: SpoolError.self) { try PostgresLocation(url: "postgres://u@h/db?sslmode=always") }
        #expect(mode?.message.contains("sslmode 'always' is unknown; use one of disable, allow, prefer, require, verify-ca, verify-full") == true)
        let half = #expect(throws: SpoolError.self) { try PostgresLocation(url: "postgres://u@h/db?sslcert=/c.pem") }
        #expect(half?.message.contains("sslcert and sslkey go together") == true)
        let location = try PostgresLocation(url: "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&schema=s")
        #expect(location.tls.mode == .verifyFull && location.tls.rootCertificates == "/ca.pem" && location.schema == "s")
        #expect(try PostgresLocation(url: "postgres://u@h/db").tls.mode == .prefer, "prefer by default, as libpq")
        let address = #expect(throws: SpoolError.self) { try PostgresLocation(url: "postgres://u@127.0.0.1/db?sslmode=verify-full") }
        #expect(address?.message.contains("127.0.0.1 is an address") == true)
        #expect(throws: Never.self) { try PostgresLocation(url: "postgres://u@abc.def/db?sslmode=verify-full") }
    }
}
