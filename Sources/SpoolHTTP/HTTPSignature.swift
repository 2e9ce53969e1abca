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
        // Two draws of 64 bits: one system call each, not one per byte.
        var generator = SystemRandomNumberGenerator()
        let (high, low) = (generator.next(), generator.next())
        return Hex.encode((0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? high : low) >> (UInt64($0 % 8) * 8)) })
    }

    /// Parses a header value; throws naming what is malformed.
    public static func parse(_ value: String) throws(HTTPSignatureRefusal) -> Fields {
        // Read byte by byte: every request a worker app receives goes through here.
        let bytes = Array(value.utf8)
        guard bytes.count <= 512 else { throw .malformed("longer than 512 bytes") }
        var fields: [(name: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []
        for part in bytes.split(separator: UInt8(ascii: ",")) {
            let trimmed = trim(part)
            guard let equals = trimmed.firstIndex(of: UInt8(ascii: "=")) else {
                throw .malformed("'\(String(decoding: part.prefix(40), as: UTF8.self))' is not one NAME=VALUE")
            }
            let name = trimmed[..<equals], fieldValue = trimmed[(equals + 1)...]
            guard !fields.contains(where: { $0.name.elementsEqual(name) }) else {
                throw .malformed("'\(String(decoding: part.prefix(40), as: UTF8.self))' is not one NAME=VALUE")
            }
            fields.append((name, fieldValue))
        }
        func field(_ name: String) -> ArraySlice<UInt8>? { fields.first { $0.name.elementsEqual(name.utf8) }?.value }
        guard let version = field("v"), version.elementsEqual("1".utf8) else {
            throw .malformed("version v=\(field("v").map { String(decoding: $0.prefix(20), as: UTF8.self) } ?? "(none)") is not 1")
        }
        guard let key = field("k"), (1...64).contains(key.count), key.allSatisfy({ isWordByte($0) || $0 == UInt8(ascii: ".") }) else {
            throw .malformed("no valid key id k=")
        }
        guard let time = field("t"), (1...12).contains(time.count), time.allSatisfy({ (48...57).contains($0) }),
              let timestamp = Int64(String(decoding: time, as: UTF8.self)) else {
            throw .malformed("no valid timestamp t=")
        }
        guard let nonce = field("n"), (16...64).contains(nonce.count), nonce.allSatisfy(isWordByte) else {
            throw .malformed("no valid nonce n= (16 to 64 letters, digits, '-' or '_')")
        }
        guard let signature = field("s"), signature.count == 64,
              signature.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw .malformed("no valid signature s= (64 lowercase hex digits)")
        }
        return Fields(key: String(decoding: key, as: UTF8.self), timestamp: timestamp, nonce: String(decoding: nonce, as: UTF8.self),
                      signature: String(decoding: signature, as: UTF8.self))
    }

    /// An ASCII letter, digit, `-` or `_`.
    private static func isWordByte(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    /// `part` without the spaces and tabs around it.
    private static func trim(_ part: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = part.firstIndex(where: { !blank($0) }), let last = part.lastIndex(where: { !blank($0) }) else { return part[part.endIndex...] }
        return part[first...last]
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
