#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import NIOSSL
import PostgresNIO
import SpoolCore

/// How connections to PostgreSQL use TLS, written in the store URL as libpq's users write it:
/// `sslmode`, `sslrootcert`, `sslcert` and `sslkey`.
///
/// - `disable`: never.
/// - `allow`, `prefer` (the default, as libpq's): when the server offers it, without checking
///   its certificate; in the clear otherwise.
/// - `require`: always, without checking the certificate, unless `sslrootcert` names a CA file,
///   which then checks the chain as `verify-ca` does (as libpq does).
/// - `verify-ca`: always, with a certificate issued by the CA of `sslrootcert` (the system's
///   trusted CAs when it is missing or `system`).
/// - `verify-full`: as `verify-ca`, and the certificate must name the URL's host.
///
/// `sslcert` and `sslkey` (PEM files) give a client certificate.
public struct PostgresTLS: Sendable, Hashable {
    /// The modes of `sslmode`.
    public enum Mode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// The mode; `prefer` unless the URL says otherwise.
    public var mode: Mode = .prefer
    /// `sslrootcert`: the CA certificates (PEM) that server certificates must chain to, or `system`.
    public var rootCertificates: String?
    /// `sslcert`: the client certificate chain (PEM).
    public var certificate: String?
    /// `sslkey`: the client certificate's private key (PEM).
    public var key: String?

    /// Creates the default: `prefer`, no files.
    public init() {}

    /// Takes one URL option; `false` when `name` is not a TLS option. Throws naming an unknown mode.
    mutating func take(_ name: String, _ value: String) throws -> Bool {
        switch name {
        case "sslmode":
            guard let mode = Mode(rawValue: value) else {
                throw SpoolError(.invalidArgument, "sslmode '\(value)' is unknown; use one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.mode = mode
        case "sslrootcert": rootCertificates = value
        case "sslcert": certificate = value
        case "sslkey": key = value
        default: return false
        }
        return true
    }

    /// Throws unless the options fit together and with `host`: a certificate needs its key and
    /// the other way round, and `verify-full` needs a host name to check (the TLS library checks
    /// names, not addresses).
    func validate(host: String) throws {
        if (certificate == nil) != (key == nil) {
            throw SpoolError(.invalidArgument, "sslcert and sslkey go together: give both files of the client certificate, or neither")
        }
        if mode == .verifyFull, Self.isAddress(host) {
            throw SpoolError(.invalidArgument, "sslmode=verify-full checks the server's name, and \(host) is an address: put the name its certificate carries in the URL, or use sslmode=verify-ca")
        }
    }

    /// Whether `host` is an IPv4 or IPv6 address rather than a name.
    static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
    }

    /// PostgresNIO's TLS setting for these options; throws naming a file that cannot be read.
    public func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        let verifies = mode == .verifyCA || mode == .verifyFull || (mode == .require && rootCertificates != nil)
        configuration.certificateVerification = !verifies ? .none : mode == .verifyFull ? .fullVerification : .noHostnameVerification
        if verifies, let roots = rootCertificates, roots != "system" {
            configuration.trustRoots = .file(roots)
        }
        if let certificate, let key {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw SpoolError(.invalidArgument, "cannot read the client certificate \(certificate) or its key \(key): \(error)")
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SpoolError(.invalidArgument, "cannot set up TLS (sslrootcert \(rootCertificates ?? "none")): \(error)")
        }
        switch mode {
        case .disable: return .disable
        case .allow, .prefer: return .prefer(context)
        case .require, .verifyCA, .verifyFull: return .require(context)
        }
    }
}
