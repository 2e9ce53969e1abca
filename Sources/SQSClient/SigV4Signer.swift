import Crypto
import Foundation
import Synchronization

/// AWS credentials: an access key, its secret and, for temporary credentials, a session token.
public struct AWSCredentials: Sendable, Hashable {
    /// The access key id, such as `AKIDEXAMPLE`.
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// Signs requests with AWS Signature Version 4 (`AWS4-HMAC-SHA256`), in the `Authorization` header.
///
/// ```swift
/// let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "sqs")
/// let signed = signer.sign(SigV4Signer.Request(method: "POST", path: "/", headers: [("Host", host)], body: body), at: Date())
/// for (name, value) in signed.headers { request.headers.add(name: name, value: value) }
/// ```
public struct SigV4Signer: Sendable {
    /// A request to sign: its method, its path and query as they are before percent-encoding
    /// (the signer encodes them), its headers (with `Host`) and its body.
    public struct Request: Sendable {
        /// The HTTP method.
        public var method: String
        /// The path, not percent-encoded, such as `/` or `/123456789012/jobs`.
        public var path: String
        /// The query string after `?`, its names and values raw or percent-encoded; empty for none.
        public var query: String
        /// The headers, in order; a name may repeat.
        public var headers: [(name: String, value: String)]
        /// The body.
        public var body: [UInt8]

        /// Creates a request.
        public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// A signed request: the headers to add and how they were computed.
    public struct Signed: Sendable {
        /// The headers to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` when there
        /// is a session token, `X-Amz-Content-Sha256` when the body is signed, and `Authorization`.
        public var headers: [(name: String, value: String)]
        /// The canonical request the signature covers.
        public var canonicalRequest: String
        /// The string the signing key signed.
        public var stringToSign: String
        /// The signature, in lowercase hex.
        public var signature: String
    }

    /// The credentials requests are signed with.
    public var credentials: AWSCredentials
    /// The region, such as `us-east-1`.
    public var region: String
    /// The service, such as `sqs`.
    public var service: String
    /// The signing key of the last day signed for.
    private let keys = DayKeys()

    /// Creates a signer.
    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Signs `request` as of `date`. `normalizePath` removes `.` and `..` segments and empty
    /// segments from the path (every service but S3); `signBody` adds `X-Amz-Content-Sha256`;
    /// `signSessionToken: false` leaves the session token out of the signature (a few services
    /// want it added after signing).
    public func sign(_ request: Request, at date: Date, normalizePath: Bool = true, signBody: Bool = false,
                     signSessionToken: Bool = true) -> Signed {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        let payloadHash = Self.hex(SHA256.hash(data: request.body))
        var added: [(name: String, value: String)] = [("X-Amz-Date", stamp)]
        if signBody { added.append(("X-Amz-Content-Sha256", payloadHash)) }
        var signedHeaders = request.headers + added
        if let token = credentials.sessionToken {
            if signSessionToken { signedHeaders.append(("X-Amz-Security-Token", token)) }
            added.append(("X-Amz-Security-Token", token))
        }
        let (canonicalHeaders, headerNames) = Self.canonicalHeaders(signedHeaders)
        let canonicalRequest = [
            request.method.uppercased(),
            Self.canonicalPath(request.path, normalize: normalizePath),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            headerNames,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        let scopeKey = "\(day)/\(region)/\(service)/\(credentials.secretAccessKey)"
        let key = keys.key(for: scopeKey) { Self.signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service) }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        added.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(headerNames), Signature=\(signature)"))
        return Signed(headers: added, canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature)
    }

    /// The key of one day's signatures: the secret's HMAC chain over the day, region, service
    /// and `aws4_request`.
    static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Lowercase names, sorted; values trimmed with inner runs of spaces made one; a repeated
    /// name's values joined by commas in their order. Returns the header block and the names.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (String, String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let squeezed = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
            values[name.lowercased(), default: []].append(squeezed)
        }
        let names = values.keys.sorted()
        let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    /// The path percent-encoded (all but unreserved characters and `/`), after removing dot
    /// and empty segments when `normalize`.
    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        var path = path.isEmpty ? "/" : path
        if normalize {
            var segments: [Substring] = []
            for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
                switch segment {
                case ".": continue
                case "..": _ = segments.popLast()
                default: segments.append(segment)
                }
            }
            let trailing = path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..")
            path = "/" + segments.joined(separator: "/") + (trailing && !segments.isEmpty ? "/" : "")
        }
        return percentEncode(path, keeping: "/")
    }

    /// The query's parameters decoded, encoded again the one canonical way, sorted by name then
    /// value, a parameter without `=` given an empty value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(String(parts[0]))
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            return (percentEncode(name), percentEncode(value))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Every byte of `text`'s UTF-8 but the unreserved characters (and those in `keeping`) as `%XX`.
    static func percentEncode(_ text: String, keeping: String = "") -> String {
        let kept = Set(keeping.utf8)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case _ where kept.contains(byte):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// `text` with its `%XX` sequences decoded (malformed ones kept as they are).
    static func percentDecode(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// The signing key last derived, by the day, region, service and secret it was derived for
/// (it changes daily).
private final class DayKeys: Sendable {
    private let last = Mutex<(scope: String, key: SymmetricKey)?>(nil)

    func key(for scope: String, derive: () -> SymmetricKey) -> SymmetricKey {
        if let last = last.withLock({ $0 }), last.scope == scope { return last.key }
        let key = derive()
        last.withLock { $0 = (scope, key) }
        return key
    }
}
