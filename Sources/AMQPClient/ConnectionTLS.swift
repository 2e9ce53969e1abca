import NIOCore
import NIOSSL

/// The TLS side of an `amqps://` connection: one context for every socket the connection opens
/// (recoveries too), and the handler that goes first in each socket's pipeline.
struct ConnectionTLS: Sendable {
    private let context: NIOSSLContext
    private let serverName: String?

    /// Builds the context for `tls` towards `host`; throws naming a file that cannot be read.
    init(_ tls: AMQPConnectionConfiguration.TLS, host: String) throws(AMQPError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        let name = tls.serverName ?? host
        let isAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
        // The TLS library checks names, not addresses: towards an address the chain is checked alone.
        configuration.certificateVerification = !tls.verifyPeer ? .none : isAddress ? .noHostnameVerification : .fullVerification
        if let caFile = tls.caFile { configuration.trustRoots = .file(caFile) }
        do {
            if let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw AMQPError(.connectionFailed, "cannot set up TLS (cacertfile \(tls.caFile ?? "none"), certfile \(tls.certificateFile ?? "none")): \(error)")
        }
        serverName = isAddress ? nil : name
    }

    /// A handler for one socket, to go first in its pipeline.
    func handler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverName)
    }

    /// Whether `error`, caught on a socket, comes from TLS.
    static func isTLSError(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }
}
