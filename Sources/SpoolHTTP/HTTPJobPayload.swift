import Foundation
import SpoolCore

/// The payload of a `spool.http` job: the request to make.
///
/// ```json
/// {"method": "POST", "url": "http://worker.internal:8080/reports/render?id=7",
///  "headers": {"Accept": "text/html"}, "body": "…" | "bodyBase64": "…",
///  "form": {"fields": {"title": "Q3"}, "files": [{"field": "data", "filename": "q3.csv",
///           "contentType": "text/csv", "base64": "…"}]},
///  "cookies": {"session": "…"} | "cookieHeader": "session=…; theme=dark", "authorization": "Bearer …",
///  "task": "reports.render", "timeout": 30, "maxResultBytes": 1048576,
///  "resultHeaders": ["Content-Type", "Location"]}
/// ```
///
/// A `url` may be relative when the worker has a base URL (`SPOOL_HTTP_BASE_URL`). A `form`
/// with files goes as `multipart/form-data`, one without as `application/x-www-form-urlencoded`.
public struct HTTPJobPayload: Codable, Sendable, Equatable {
    /// A file in a multipart form.
    public struct File: Codable, Sendable, Equatable {
        /// The form field's name.
        public var field: String
        /// The file's name.
        public var filename: String
        /// Its media type (default `application/octet-stream`).
        public var contentType: String?
        /// Its bytes, base64-encoded.
        public var base64: String

        /// Describes a file.
        public init(field: String, filename: String, contentType: String? = nil, base64: String) {
            self.field = field
            self.filename = filename
            self.contentType = contentType
            self.base64 = base64
        }
    }

    /// Form data: fields and, for a multipart form, files.
    public struct Form: Codable, Sendable, Equatable {
        /// Field names and values.
        public var fields: [String: String]?
        /// Files (making the form multipart).
        public var files: [File]?

        /// Describes a form.
        public init(fields: [String: String]? = nil, files: [File]? = nil) {
            self.fields = fields
            self.files = files
        }
    }

    /// The method (default `GET`, or `POST` with a body or form).
    public var method: String?
    /// The URL: absolute, or relative to the worker's base URL.
    public var url: String?
    /// Headers to send.
    public var headers: [String: String]?
    /// A text body.
    public var body: String?
    /// A binary body, base64-encoded.
    public var bodyBase64: String?
    /// Form data, instead of a body.
    public var form: Form?
    /// Cookies to forward, sent in one `Cookie` header.
    public var cookies: [String: String]?
    /// A `Cookie` header to forward as it is (the user's own), instead of `cookies`.
    public var cookieHeader: String?
    /// An `Authorization` header to forward.
    public var authorization: String?
    /// The task name in `X-Spool-Task`, for routing (default the job's queue).
    public var task: String?
    /// Seconds the request may take (default 30).
    public var timeout: Double?
    /// The most response bytes kept in the result (default 1 MiB, at most 16 MiB).
    public var maxResultBytes: Int?
    /// Response headers kept in the result (default `Content-Type`).
    public var resultHeaders: [String]?

    /// Describes a request.
    public init(method: String? = nil, url: String? = nil, headers: [String: String]? = nil, body: String? = nil,
                bodyBase64: String? = nil, form: Form? = nil, cookies: [String: String]? = nil, cookieHeader: String? = nil,
                authorization: String? = nil,
                task: String? = nil, timeout: Double? = nil, maxResultBytes: Int? = nil, resultHeaders: [String]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.bodyBase64 = bodyBase64
        self.form = form
        self.cookies = cookies
        self.cookieHeader = cookieHeader
        self.authorization = authorization
        self.task = task
        self.timeout = timeout
        self.maxResultBytes = maxResultBytes
        self.resultHeaders = resultHeaders
    }
}

/// A `spool.http` payload checked and turned into the request to send.
struct HTTPJobRequest: Sendable {
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    static let maximumBodyBytes = 16 << 20
    static let maximumResultBytes = 16 << 20

    var method: String
    var url: URL
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var task: String
    var timeout: Duration
    var maxResultBytes: Int
    var resultHeaders: [String]

    /// Checks `payload`; a payload that can never make a valid request throws naming what is wrong.
    init(_ payload: HTTPJobPayload, baseURL: URL?, defaultTask: String) throws(HTTPJobPayloadError) {
        guard let text = payload.url, !text.isEmpty else { throw HTTPJobPayloadError("the payload has no url") }
        guard let written = URL(string: text) else { throw HTTPJobPayloadError("url '\(text.prefix(200))' is not a URL") }
        guard written.scheme != nil || baseURL != nil else {
            throw HTTPJobPayloadError("url '\(text.prefix(200))' is relative and this worker has no base URL (SPOOL_HTTP_BASE_URL)")
        }
        guard let parsed = URL(string: text, relativeTo: baseURL)?.absoluteURL, let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", parsed.host?.isEmpty == false else {
            throw HTTPJobPayloadError("url '\(text.prefix(200))' is not an absolute http or https URL")
        }
        url = parsed
        var body: [UInt8] = []
        var headers: [(name: String, value: String)] = []
        let given = [payload.body != nil, payload.bodyBase64 != nil, payload.form != nil].filter { $0 }.count
        guard given <= 1 else { throw HTTPJobPayloadError("give one of body, bodyBase64 and form") }
        if let text = payload.body {
            body = Array(text.utf8)
        } else if let base64 = payload.bodyBase64 {
            guard let data = Data(base64Encoded: base64) else { throw HTTPJobPayloadError("bodyBase64 is not base64") }
            body = Array(data)
        } else if let form = payload.form {
            let encoded = try FormEncoding.encode(form)
            body = encoded.body
            headers.append(("Content-Type", encoded.contentType))
        }
        guard body.count <= Self.maximumBodyBytes else {
            throw HTTPJobPayloadError("the body is \(body.count) bytes, over the limit of \(Self.maximumBodyBytes)")
        }
        self.body = body
        method = (payload.method ?? (given > 0 ? "POST" : "GET")).uppercased()
        guard Self.methods.contains(method) else {
            throw HTTPJobPayloadError("method '\(method.prefix(20))' is not one of \(Self.methods.sorted().joined(separator: ", "))")
        }
        for (name, value) in (payload.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard Self.isToken(name), !value.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw HTTPJobPayloadError("header '\(name.prefix(60))' is not a valid header")
            }
            guard !name.lowercased().hasPrefix("x-spool-"), name.lowercased() != "host" else {
                throw HTTPJobPayloadError("header '\(name)' is set by Spool itself")
            }
            headers.append((name, value))
        }
        if let cookies = payload.cookies, !cookies.isEmpty {
            for (name, value) in cookies where !Self.isToken(name) || value.contains(where: { ";,\r\n\"".contains($0) }) {
                throw HTTPJobPayloadError("cookie '\(name.prefix(60))' is not a valid cookie")
            }
            headers.append(("Cookie", cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")))
        }
        if let header = payload.cookieHeader {
            guard payload.cookies == nil else { throw HTTPJobPayloadError("give cookies or cookieHeader, not both") }
            guard !header.contains(where: { $0 == "\r" || $0 == "\n" }) else { throw HTTPJobPayloadError("cookieHeader holds a line break") }
            headers.append(("Cookie", header))
        }
        if let authorization = payload.authorization {
            guard !authorization.contains(where: { $0 == "\r" || $0 == "\n" }) else { throw HTTPJobPayloadError("authorization holds a line break") }
            headers.append(("Authorization", authorization))
        }
        self.headers = headers
        task = payload.task ?? defaultTask
        guard !task.isEmpty, !task.contains(where: { $0 == "\r" || $0 == "\n" }) else { throw HTTPJobPayloadError("task '\(task.prefix(60))' is not a valid name") }
        let seconds = payload.timeout ?? 30
        guard seconds > 0, seconds <= 3600 else { throw HTTPJobPayloadError("timeout must be from 0 to 3600 seconds, got \(seconds)") }
        timeout = .milliseconds(Int64(seconds * 1000))
        let limit = payload.maxResultBytes ?? (1 << 20)
        guard (0...Self.maximumResultBytes).contains(limit) else {
            throw HTTPJobPayloadError("maxResultBytes must be from 0 to \(Self.maximumResultBytes), got \(limit)")
        }
        maxResultBytes = limit
        resultHeaders = payload.resultHeaders ?? ["Content-Type"]
    }

    /// The request target: the path and query as they go in the request line.
    static func target(of url: URL) -> String {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        let path = components?.percentEncodedPath ?? "/"
        let query = components?.percentEncodedQuery.map { "?" + $0 } ?? ""
        return (path.isEmpty ? "/" : path) + query
    }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256 && name.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "!#$%&'*+-.^_`|~".unicodeScalars.contains($0))
        }
    }
}

/// Why a `spool.http` payload cannot make a request.
struct HTTPJobPayloadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
