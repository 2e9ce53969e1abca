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

    /// How long a token is accepted by default: a day.
    public static let defaultLifetime: Duration = .seconds(86_400)

    /// Tokens with `secret`; servers sharing the secret accept each other's tokens.
    public init(secret: some Sequence<UInt8>) { key = SymmetricKey(data: Array(secret)) }

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
              let given = SubscribeTokens.base64URLDecode(token[token.index(after: dot)...]) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: SubscribeTokens.text(id, expiry: expiry), using: key)
    }

    private func mac(_ id: JobID, expiry: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: SubscribeTokens.text(id, expiry: expiry), using: key)
        return Data(code).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func text(_ id: JobID, expiry: Int64) -> Data {
        Data("spool-subscribe-v1\n\(id.description.lowercased())\n\(expiry)".utf8)
    }

    private static func base64URLDecode(_ text: Substring) -> Data? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard)
    }
}
