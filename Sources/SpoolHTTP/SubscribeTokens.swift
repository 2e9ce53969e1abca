import Crypto
import Foundation
import SpoolCore

/// Per-job subscription tokens: what lets a browser that is not an admin hear the end of one
/// job, and only that job, on `/v1/events?job=ID&token=TOKEN`.
///
/// A token is `EXPIRY.MAC`: `EXPIRY` the Unix time in seconds after which it is refused, `MAC`
/// the unpadded base64url HMAC-SHA256, with the server's subscription secret, of
/// `spool-subscribe-v1\nJOB-ID\nEXPIRY` (the id in lowercase). The server hands one out with
/// every job it enqueues (`subscribeToken`); a Swift web app sharing the secret mints them
/// itself. Reading a job's end is harmless to repeat, so a token may be used any number of
/// times until it expires.
public struct SubscribeTokens: Sendable {
    private let key: SymmetricKey
    /// An HMAC with the key already absorbed: each token copies it instead of keying anew.
    private let keyed: HMAC<SHA256>

    /// How long a token is accepted by default: a day.
    public static let defaultLifetime: Duration = .seconds(86_400)

    /// Tokens with `secret`; servers sharing the secret accept each other's tokens.
    public init(secret: some Sequence<UInt8>) {
        key = SymmetricKey(data: Array(secret))
        keyed = HMAC(key: key)
    }

    /// Tokens with a random secret: accepted by this process only, until it ends.
    public static func random() -> SubscribeTokens { SubscribeTokens(secret: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }) }

    /// The token for job `id`, accepted until `lifetime` after `now`.
    public func token(for id: JobID, now: Date = Date(), lifetime: Duration = defaultLifetime) -> String {
        let expiry = Int64(now.timeIntervalSince1970) + lifetime.components.seconds
        return "\(expiry).\(mac(id, expiry: expiry))"
    }

    /// Whether `token` lets its bearer hear the end of job `id` at `now`; compared in constant time.
    public func accepts(_ token: String, for id: JobID, now: Date = Date()) -> Bool {
        guard token.utf8.count <= 128, let dot = token.firstIndex(of: "."), let expiry = Int64(token[..<dot]),
              expiry >= Int64(now.timeIntervalSince1970),
              let given = Base64URL.decode(token[token.index(after: dot)...]), !given.isEmpty else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: SubscribeTokens.text(id, expiry: expiry), using: key)
    }

    private func mac(_ id: JobID, expiry: Int64) -> String {
        var mac = keyed
        mac.update(data: SubscribeTokens.text(id, expiry: expiry))
        return mac.finalize().withUnsafeBytes { Base64URL.encode($0) }
    }

    /// What the MAC covers: a version line, the job's id and the expiry, one per line.
    private static func text(_ id: JobID, expiry: Int64) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(prefix.count + 36 + 1 + 20)
        text.append(contentsOf: prefix)
        id.withCanonicalUTF8 { text.append(contentsOf: $0) }
        text.append(UInt8(ascii: "\n"))
        text.append(contentsOf: String(expiry).utf8)
        return text
    }

    private static let prefix = Array("spool-subscribe-v1\n".utf8)
}
