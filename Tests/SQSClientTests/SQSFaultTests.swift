import Foundation
@testable import SQSClient
import Testing

/// The client against faults moto cannot show, from a ``ScriptedSQS``: each is a clear error or
/// is tried again, as it should be.
@Suite("SQS client faults", .timeLimit(.minutes(1)))
struct SQSFaultTests {
    static func client(_ server: ScriptedSQS, attempts: Int = 4) -> SQSClient {
        let configuration = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "old"),
                                             region: "us-east-1", endpoint: URL(string: server.endpoint)!)
        return SQSClient(configuration: configuration, retry: .init(maximumAttempts: attempts, baseDelay: .milliseconds(1)),
                         timeout: .seconds(10))
    }

    @Test("throttling and SQS's own failures are tried again with backoff until an answer comes")
    func retried() async throws {
        let server = try ScriptedSQS([
            .answer(400, #"{"__type":"com.amazon.coral.service#ThrottlingException","message":"Rate exceeded"}"#),
            .answer(500, #"{"__type":"com.amazonaws.sqs#InternalError","message":"oops"}"#),
            .answer(200, #"{"QueueUrl":"http://127.0.0.1/000000000000/jobs"}"#),
        ])
        #expect(try await Self.client(server).getQueueURL("jobs") == "http://127.0.0.1/000000000000/jobs")
        #expect(server.received == Array(repeating: "AmazonSQS.GetQueueUrl", count: 3))
    }

    @Test("an expired session token is a typed error at once, with SQS's request id, and is not tried again")
    func expiredToken() async throws {
        let server = try ScriptedSQS([.answer(403, #"{"__type":"com.amazonaws.sqs#ExpiredToken","message":"The security token included in the request is expired"}"#)])
        let error = await #expect(throws: SQSError.self) { _ = try await Self.client(server).getQueueURL("jobs") }
        #expect(error?.code == .expiredToken && error?.status == 403 && error?.requestID == "req-1", "\(String(describing: error))")
        #expect(error?.message.contains("expired") == true)
        #expect(server.received.count == 1)
    }

    @Test("wrong credentials are typed errors at once, naming what SQS said, and are not tried again")
    func wrongCredentials() async throws {
        for (type, code) in [("com.amazon.coral.service#InvalidClientTokenId", SQSError.Code.invalidClientTokenID),
                             ("com.amazon.coral.service#SignatureDoesNotMatch", .signatureDoesNotMatch)] {
            let server = try ScriptedSQS([.answer(403, #"{"__type":"\#(type)","message":"The request signature we calculated does not match"}"#)])
            let error = await #expect(throws: SQSError.self) { _ = try await Self.client(server).getQueueURL("jobs") }
            #expect(error?.code == code && error?.status == 403 && error?.message.contains("does not match") == true, "\(String(describing: error))")
            #expect(error?.isRetryable == false && server.received.count == 1)
        }
    }

    @Test("a connection reset in the middle of a batch is tried again; the batch's answer arrives")
    func resetMidBatch() async throws {
        let server = try ScriptedSQS([.reset, .answer(200, #"{"Successful":[{"Id":"0","MessageId":"a"},{"Id":"1","MessageId":"b"}]}"#)])
        let result = try await Self.client(server).sendMessageBatch("http://127.0.0.1/q", [SQSOutgoingMessage(body: "x"), SQSOutgoingMessage(body: "y")])
        #expect(result.succeeded == ["0": "a", "1": "b"] && result.failed.isEmpty)
        #expect(server.received == ["AmazonSQS.SendMessageBatch", "AmazonSQS.SendMessageBatch"])
    }

    @Test("a malformed answer is InvalidResponse naming the call; a truncated one fails the connection, tried again, then named")
    func malformedAndTruncated() async throws {
        let malformed = try ScriptedSQS([.answer(200, #"{"Messages":[{"MessageId":7}]}"#)])
        let invalid = await #expect(throws: SQSError.self) { _ = try await Self.client(malformed).receiveMessages("http://127.0.0.1/q") }
        #expect(invalid?.code == .invalidResponse && invalid?.message.contains("ReceiveMessage") == true, "\(String(describing: invalid))")
        #expect(malformed.received.count == 1, "not tried again")

        let body = #"{"QueueUrl":"http://127.0.0.1/000000000000/jobs"}"#
        let truncated = try ScriptedSQS([.truncated(body), .truncated(body)])
        let cut = await #expect(throws: SQSError.self) { _ = try await Self.client(truncated, attempts: 2).getQueueURL("jobs") }
        #expect(cut?.code == .connectionFailed && cut?.message.contains("GetQueueUrl") == true, "\(String(describing: cut))")
        #expect(truncated.received.count == 2)
    }

    @Test("a request is signed with the session token and names its action")
    func signed() async throws {
        let server = try ScriptedSQS([.answer(200, "")])
        try await Self.client(server).deleteQueue("http://127.0.0.1/q")
        #expect(server.received == ["AmazonSQS.DeleteQueue"], "an empty answer is a success")
        let head = try #require(server.requests.first)
        #expect(head.contains("\r\nx-amz-security-token: old"), "\(head)")
        #expect(head.contains("\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKID/") && head.contains("/us-east-1/sqs/aws4_request"), "\(head)")
        #expect(head.contains("\r\ncontent-type: application/x-amz-json-1.0"))
    }
}
