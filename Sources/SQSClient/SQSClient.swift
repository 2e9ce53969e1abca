import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client of Amazon SQS (or a server that speaks its protocol), knowing nothing of Spool.
///
/// Requests use SQS's JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`,
/// `application/x-amz-json-1.0`) signed with Signature Version 4. Errors SQS reports become
/// ``SQSError`` with SQS's code and request id; throttling, SQS's own failures and broken
/// connections are tried again after a backoff with full jitter.
///
/// ```swift
/// let sqs = SQSClient(configuration: try .sqs())
/// let queue = try await sqs.createQueue("jobs")
/// _ = try await sqs.sendMessage(queue, body: "hello")
/// for message in try await sqs.receiveMessages(queue, waitSeconds: 20) {
///     try await sqs.deleteMessage(queue, receiptHandle: message.receiptHandle)
/// }
/// ```
public final class SQSClient: Sendable {
    /// How failed requests are tried again.
    public struct Retry: Sendable {
        /// How many attempts a request gets in all.
        public var maximumAttempts: Int
        /// The backoff's first ceiling; it doubles per attempt, and each wait is random below it.
        public var baseDelay: Duration
        /// The highest ceiling.
        public var maximumDelay: Duration

        /// Creates a retry policy.
        public init(maximumAttempts: Int = 4, baseDelay: Duration = .milliseconds(50), maximumDelay: Duration = .seconds(5)) {
            self.maximumAttempts = maximumAttempts
            self.baseDelay = baseDelay
            self.maximumDelay = maximumDelay
        }
    }

    /// Where requests go and how they are signed.
    public let configuration: AWSConfiguration
    /// How failed requests are tried again.
    public let retry: Retry
    /// How long one request may take, long polls included (their wait is added).
    public let timeout: Duration
    private let http: HTTPClient
    private let pollingHTTP: HTTPClient
    private let signer: SigV4Signer
    private let host: String

    /// The largest response read, in bytes: ten messages of SQS's largest size and their attributes.
    static let maximumResponseBytes = 16 << 20

    /// The HTTP client of long polls (``receiveMessages(_:maximum:waitSeconds:visibilitySeconds:)``
    /// with a wait), shared by every client of the process: a long poll holds its connection up to
    /// 20 s, and in the pool of the client that sends everything else (eight connections a host)
    /// a few queues' polls would make sends, deletes and visibility changes wait for them, long
    /// enough for a held message's visibility to pass. Their own pool allows 256 a host.
    public static let longPolling: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Creates a client on `httpClient` (by default the process's shared one, whose connection
    /// pool every client shares), its long polls on `pollingClient`.
    public init(configuration: AWSConfiguration, httpClient: HTTPClient = .shared, pollingClient: HTTPClient = SQSClient.longPolling,
                retry: Retry = Retry(), timeout: Duration = .seconds(30)) {
        self.configuration = configuration
        self.retry = retry
        self.timeout = timeout
        self.http = httpClient
        self.pollingHTTP = pollingClient
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "sqs")
        let endpoint = configuration.endpoint
        let defaultPort = endpoint.scheme == "https" ? 443 : 80
        self.host = (endpoint.host ?? "") + (endpoint.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
    }

    /// Calls `action` with `request` encoded as JSON and reads the answer as `Response`,
    /// trying again after retryable failures.
    func call<Request: SQSRequest, Response: SQSAnswer>(_ action: String, _ request: Request, as: Response.Type = Response.self,
                                                       extraTime: Duration = .zero) async throws -> Response {
        let body = request.json
        var attempt = 1
        while true {
            do {
                let data = try await send(action, body: body, timeout: timeout + extraTime, longPoll: extraTime > .zero)
                do {
                    return try Response(answer: AnswerJSON.parse(data.isEmpty ? Array("{}".utf8) : Array(data)))
                } catch {
                    throw SQSError(.invalidResponse, "the answer to \(action) is not what SQS sends: \(error)")
                }
            } catch let error as SQSError where error.isRetryable && attempt < retry.maximumAttempts {
                let ceiling = min(retry.baseDelay * (1 << min(attempt - 1, 20)), retry.maximumDelay)
                try await Task.sleep(for: ceiling * Double.random(in: 0...1))
                attempt += 1
            }
        }
    }

    /// Sends one signed request and returns the body of a 2xx answer; any other answer throws
    /// the error SQS reports.
    private func send(_ action: String, body: [UInt8], timeout: Duration, longPoll: Bool) async throws -> Data {
        let headers: [(name: String, value: String)] = [
            ("Host", host), ("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.\(action)"),
        ]
        let signed = signer.sign(SigV4Signer.Request(method: "POST", path: "/", headers: headers, body: body), at: Date())
        var requestHeaders = HTTPHeaders()
        for (name, value) in headers + signed.headers where name != "Host" { requestHeaders.add(name: name, value: value) }
        let response: HTTPClient.Response
        do {
            // The answer is gathered on the event loop, whole, and handed over once.
            let request = try HTTPClient.Request(url: configuration.endpoint, method: .POST, headers: requestHeaders,
                                                 body: .byteBuffer(ByteBuffer(bytes: body)))
            let accumulator = ResponseAccumulator(request: request, maxBodySize: Self.maximumResponseBytes)
            response = try await (longPoll ? pollingHTTP : http).execute(request: request, delegate: accumulator, deadline: .now() + TimeAmount(timeout)).get()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw SQSError(.timeout, "\(action) did not finish within \(timeout)")
        } catch let error as ResponseAccumulator.ResponseTooBigError {
            throw SQSError(.invalidResponse, "the answer to \(action) is larger than \(Self.maximumResponseBytes) bytes: \(error)")
        } catch {
            throw SQSError(.connectionFailed, "\(action) to \(configuration.endpoint.absoluteString) failed: \(error)")
        }
        let data = response.body.map { Data($0.readableBytesView) } ?? Data()
        let requestID = response.headers.first(name: "x-amzn-RequestId")
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Self.error(status: Int(response.status.code), body: data, requestID: requestID, action: action)
        }
        return data
    }

    /// The error a non-2xx answer reports: the name in its `__type` after the `#`, and its message.
    static func error(status: Int, body: Data, requestID: String?, action: String) -> SQSError {
        let answer = try? AnswerJSON.parse(Array(body))
        let type = try? answer?.string("__type", in: "error")
        let name = type.map { String($0.split(separator: "#").last ?? Substring($0)) }
        let code = name.map { SQSError.Code($0.isEmpty ? "HTTP\(status)" : $0) } ?? (status == 429 ? .throttling : SQSError.Code("HTTP\(status)"))
        let message = (try? answer?.string("message", in: "error")) ?? (try? answer?.string("Message", in: "error"))
            ?? "\(action) answered HTTP \(status): \(String(decoding: body.prefix(200), as: UTF8.self))"
        return SQSError(code, message, status: status, requestID: requestID)
    }
}
