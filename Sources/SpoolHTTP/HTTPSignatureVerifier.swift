import Crypto
import Foundation
import SpoolCore

/// Checks the signature of requests from `spool.http` jobs: a receiver refuses a missing,
/// malformed, unknown-key, wrong, expired or replayed one. Keep one verifier per process: its
/// nonce cache is what catches replays.
public final class HTTPSignatureVerifier: Sendable {
    /// How strict the verifier is.
    public struct Configuration: Sendable {
        /// How far a signature's time may be from the receiver's clock, either way.
        public var window: Duration
        /// How many nonces are remembered (the requests expected within one window, with room).
        public var nonceCapacity: Int

        /// Creates a configuration: 5 minutes, 100,000 nonces.
        public init(window: Duration = .seconds(300), nonceCapacity: Int = 100_000) {
            self.window = window
            self.nonceCapacity = nonceCapacity
        }
    }

    /// The keys accepted.
    public let keys: HTTPSigningKeys
    /// How strict the verifier is.
    public let configuration: Configuration
    private let nonces: NonceCache

    /// A verifier accepting `keys`.
    public init(keys: HTTPSigningKeys, configuration: Configuration = Configuration()) {
        self.keys = keys
        self.configuration = configuration
        self.nonces = NonceCache(capacity: configuration.nonceCapacity)
    }

    /// Checks one request: the header's value (or `nil`), its method, its target (path and query
    /// as in the request line) and its body. Throws the refusal; the nonce of an accepted
    /// request is remembered, so the same request is refused the second time.
    public func verify(header: String?, method: String, target: String, body: some Sequence<UInt8>,
                       now: Date = Date()) throws(HTTPSignatureRefusal) {
        guard let header else { throw .missing }
        let fields = try HTTPSignature.parse(header)
        guard let key = keys.key(id: fields.key) else { throw .unknownKey(fields.key) }
        let current = Int64(now.timeIntervalSince1970.rounded(.down))
        let window = Int64(configuration.window.components.seconds)
        let off = fields.timestamp - current
        guard abs(off) <= window else { throw .expired(secondsOff: off) }
        let text = HTTPSignature.canonical(timestamp: fields.timestamp, nonce: fields.nonce, method: method, target: target, body: body)
        // A constant-time comparison.
        guard let given = Hex.decode(fields.signature),
              HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(text.utf8), using: key.secret) else {
            throw .wrong
        }
        guard nonces.insert(fields.key + ":" + fields.nonce, expiry: fields.timestamp + window, now: current) else { throw .replayed }
    }

    /// How many nonces were forgotten before their window ended because the cache was full (a
    /// replay of those could pass): raise ``Configuration/nonceCapacity`` if this grows.
    public var noncesForgottenEarly: Int { nonces.evictedEarly }
}
