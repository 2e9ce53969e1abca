import Crypto
import Foundation
import SpoolCore

/// The authenticator on every request of a `spool.http` job (docs/http-jobs.md has the algorithm
/// for other languages): the header `X-Spool-Signature: v=1,k=KEY,t=TIME,n=NONCE,s=SIGNATURE`,
/// where `s` is the lowercase hex HMAC-SHA256, with the secret of key `k`, of the lines
///
/// ```text
/// spool-http-v1
/// TIME             (Unix seconds, decimal)
/// NONCE            (16 to 64 of A-Z a-z 0-9 - _)
/// METHOD           (upper case)
/// TARGET           (path and query exactly as in the request line, such as /work?id=7)
/// BODY-SHA256      (lowercase hex SHA-256 of the body bytes; of nothing for no body)
/// ```
///
/// joined by `\n`, with no newline after the last.
public enum HTTPSignature {
    /// The header that carries the signature.
    public static let header = "X-Spool-Signature"
    /// The first line of the signed text.
    static let scheme = "spool-http-v1"

    /// The fields of a signature header.
    public struct Fields: Sendable, Equatable {
        /// The key id.
        public var key: String
        /// When it was signed, in Unix seconds.
        public var timestamp: Int64
        /// The request's unique nonce.
        public var nonce: String
        /// The HMAC, lowercase hex.
        public var signature: String
    }

    /// The text that is signed.
    public static func canonical(timestamp: Int64, nonce: String, method: String, target: String, body: some Sequence<UInt8>) -> String {
        [scheme, String(timestamp), nonce, method.uppercased(), target, Hex.encode(SHA256.hash(data: Array(body)))].joined(separator: "\n")
    }

    /// The header value signing a request with the first of `keys`.
    public static func sign(method: String, target: String, body: some Sequence<UInt8>, keys: HTTPSigningKeys,
                            at date: Date = Date(), nonce: String = newNonce()) -> String {
        let key = keys.keys[0]
        let timestamp = Int64(date.timeIntervalSince1970.rounded(.down))
        let text = canonical(timestamp: timestamp, nonce: nonce, method: method, target: target, body: body)
        return "v=1,k=\(key.id),t=\(timestamp),n=\(nonce),s=\(mac(text, key.secret))"
    }

    /// A random nonce: 32 hex digits.
    public static func newNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Parses a header value; throws naming what is malformed.
    public static func parse(_ value: String) throws(HTTPSignatureRefusal) -> Fields {
        guard value.utf8.count <= 512 else { throw .malformed("longer than 512 bytes") }
        var fields: [Substring: Substring] = [:]
        for part in value.split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, fields.updateValue(pair[1], forKey: pair[0]) == nil else {
                throw .malformed("'\(part.prefix(40))' is not one NAME=VALUE")
            }
        }
        guard fields["v"] == "1" else { throw .malformed("version v=\(fields["v"].map(String.init) ?? "(none)") is not 1") }
        guard let key = fields["k"], HTTPSigningKeys.isKeyID(key) else { throw .malformed("no valid key id k=") }
        guard let time = fields["t"], time.count <= 12, let timestamp = Int64(time), timestamp >= 0 else {
            throw .malformed("no valid timestamp t=")
        }
        guard let nonce = fields["n"], (16...64).contains(nonce.count),
              nonce.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }) else {
            throw .malformed("no valid nonce n= (16 to 64 letters, digits, '-' or '_')")
        }
        guard let signature = fields["s"], signature.count == 64, signature.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw .malformed("no valid signature s= (64 lowercase hex digits)")
        }
        return Fields(key: String(key), timestamp: timestamp, nonce: String(nonce), signature: String(signature))
    }

    static func mac(_ text: String, _ secret: SymmetricKey) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: secret))
    }
}

/// Why a receiver refused a request's signature; answered with 403 and ``reason``.
public enum HTTPSignatureRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// No `X-Spool-Signature` header.
    case missing
    /// The header does not parse.
    case malformed(String)
    /// The key id is not among the receiver's keys.
    case unknownKey(String)
    /// Signed too long ago, or too far in the future, for the window.
    case expired(secondsOff: Int64)
    /// The HMAC does not match: another secret, or the request changed on the way.
    case wrong
    /// The nonce was seen within the window.
    case replayed

    /// The reason, for the 403 answer and the log.
    public var reason: String {
        switch self {
        case .missing: "missing \(HTTPSignature.header)"
        case .malformed(let what): "malformed \(HTTPSignature.header): \(what)"
        case .unknownKey(let key): "unknown key id '\(key)'"
        case .expired(let off): off > 0 ? "signed \(off) s in the future, beyond the allowed skew" : "expired: signed \(-off) s ago"
        case .wrong: "wrong signature"
        case .replayed: "replayed: this nonce was already used"
        }
    }

    public var description: String { reason }
}
