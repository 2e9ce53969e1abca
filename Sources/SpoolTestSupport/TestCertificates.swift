import Foundation

/// A private certificate authority for TLS tests, and server certificates it signs, made with
/// the `openssl` command in a temporary directory (elliptic-curve keys: quick to make).
public struct TestCertificates: Sendable {
    /// Where the files are.
    public let directory: TemporaryDirectory
    /// The CA's certificate (PEM), for clients to trust.
    public var caFile: String { directory.path("ca.crt") }

    /// Makes the CA.
    public init() throws {
        directory = try TemporaryDirectory()
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                          "-subj", "/CN=Spool test CA", "-keyout", directory.path("ca.key"), "-out", caFile])
    }

    /// A server certificate signed by the CA for the DNS name `name`: the paths of the
    /// certificate and of its key (PEM), `NAME.crt` and `NAME.key` in ``directory``.
    public func server(_ name: String) throws -> (certificate: String, key: String) {
        let base = directory.path(name)
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(name)",
                          "-keyout", base + ".key", "-out", base + ".csr"])
        try "subjectAltName=DNS:\(name)\n".write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", base + ".csr", "-CA", caFile, "-CAkey", directory.path("ca.key"), "-CAcreateserial",
                          "-days", "2", "-extfile", base + ".ext", "-out", base + ".crt"])
        return (base + ".crt", base + ".key")
    }

    /// The base64 SHA-256 of the public key of `certificate` (its SubjectPublicKeyInfo), as
    /// Chromium's `--ignore-certificate-errors-spki-list` names a key to trust.
    public func publicKeyHash(_ certificate: String) throws -> String {
        let base = certificate + ".spki"
        try Self.openssl(["x509", "-in", certificate, "-pubkey", "-noout", "-out", base + ".pem"])
        try Self.openssl(["pkey", "-pubin", "-in", base + ".pem", "-outform", "der", "-out", base + ".der"])
        try Self.openssl(["dgst", "-sha256", "-binary", "-out", base + ".sha256", base + ".der"])
        return try Data(contentsOf: URL(fileURLWithPath: base + ".sha256")).base64EncodedString()
    }

    private static func openssl(_ arguments: [String]) throws {
        let outcome = try ChildProcess.run("/usr/bin/openssl", arguments)
        guard outcome.status == 0 else { throw ConformanceFailure("openssl \(arguments.first ?? "") failed: \(outcome.errors)") }
    }
}
