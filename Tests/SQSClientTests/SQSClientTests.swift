import Foundation
@testable import SQSClient
import SpoolTestSupport
import Testing

/// The SQS client against moto's server (see ``MotoServer``).
@Suite("SQS client against moto", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSClientTests {
    static func client() async throws -> SQSClient {
        let moto = try await MotoServer.start()
        let configuration = try AWSConfiguration.sqs(
            environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                          "AWS_ENDPOINT_URL_SQS": moto.endpoint, "HOME": "/nonexistent"])
        return SQSClient(configuration: configuration)
    }

    static func name(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test("queues are created once, found by name, configured, purged and deleted; a missing one is QueueDoesNotExist with SQS's request id")
    func queues() async throws {
        let sqs = try await Self.client()
        let name = Self.name("queue")
        let url = try await sqs.createQueue(name, attributes: ["VisibilityTimeout": "45"])
        #expect(try await sqs.createQueue(name, attributes: ["VisibilityTimeout": "45"]) == url, "creating it again returns it")
        #expect(try await sqs.getQueueURL(name) == url)
        #expect(try await sqs.getQueueAttributes(url)["VisibilityTimeout"] == "45")
        try await sqs.setQueueAttributes(url, ["VisibilityTimeout": "7"])
        #expect(try await sqs.getQueueAttributes(url, names: ["VisibilityTimeout"])["VisibilityTimeout"] == "7")
        _ = try await sqs.sendMessage(url, SQSOutgoingMessage(body: "x"))
        try await sqs.purgeQueue(url)
        #expect(try await sqs.receiveMessages(url).isEmpty)
        try await sqs.deleteQueue(url)
        let error = await #expect(throws: SQSError.self) { _ = try await sqs.getQueueURL(name) }
        #expect(error?.code == .queueDoesNotExist && error?.status == 400, "\(String(describing: error))")
        #expect(error?.requestID?.isEmpty == false)
    }

    @Test("a message keeps its body and typed attributes; its receive count grows each time it comes back; deleted, it is gone")
    func messages() async throws {
        let sqs = try await Self.client()
        let url = try await sqs.createQueue(Self.name("messages"))
        let attributes: [String: SQSMessageAttribute] = [
            "kind": .string("mirror"), "count": .number("42"), "blob": .binary(Data([0, 1, 254, 255])),
        ]
        let id = try await sqs.sendMessage(url, SQSOutgoingMessage(body: #"{"héllo":"wörld"}"#, attributes: attributes))
        let first = try #require(try await sqs.receiveMessages(url, waitSeconds: 1).first)
        #expect(first.messageID == id && first.body == #"{"héllo":"wörld"}"# && first.attributes == attributes)
        #expect(first.receiveCount == 1)
        try await sqs.changeMessageVisibility(url, receiptHandle: first.receiptHandle, seconds: 0)
        let again = try #require(try await sqs.receiveMessages(url, waitSeconds: 1).first)
        #expect(again.messageID == id && again.receiveCount == 2)
        try await sqs.deleteMessage(url, receiptHandle: again.receiptHandle)
        #expect(try await sqs.receiveMessages(url, visibilitySeconds: 0).isEmpty)
    }

    @Test("batches of ten are sent and deleted together; an entry SQS refuses is reported by its id, the others succeed")
    func batches() async throws {
        let sqs = try await Self.client()
        let url = try await sqs.createQueue(Self.name("batches"))
        let sent = try await sqs.sendMessageBatch(url, (0..<10).map { SQSOutgoingMessage(body: "m\($0)") })
        #expect(sent.succeeded.count == 10 && sent.failed.isEmpty)
        var byBody: [String: SQSMessage] = [:]   // by body: SQS may deliver a message twice
        for _ in 0..<10 where byBody.count < 10 {
            for message in try await sqs.receiveMessages(url, maximum: 10, waitSeconds: 1) { byBody[message.body] = message }
        }
        #expect(Set(byBody.keys) == Set((0..<10).map { "m\($0)" }))
        let received = byBody.keys.sorted().compactMap { byBody[$0] }
        let deleted = try await sqs.deleteMessageBatch(url, receiptHandles: received.prefix(9).map(\.receiptHandle) + ["not-a-handle"])
        #expect(deleted.succeeded.count == 9, "\(deleted)")
        #expect(deleted.failed.map(\.id) == ["9"] && deleted.failed.first?.code.isEmpty == false, "\(deleted)")
        let changed = try await sqs.changeMessageVisibilityBatch(url, [(received[9].receiptHandle, 0)])
        #expect(changed.succeeded.keys.sorted() == ["0"])
    }

    @Test("a FIFO queue keeps a group's order and drops a duplicate by content")
    func fifo() async throws {
        let sqs = try await Self.client()
        let url = try await sqs.createQueue(Self.name("ordered") + ".fifo",
                                            attributes: ["FifoQueue": "true", "ContentBasedDeduplication": "true"])
        for body in ["one", "two", "three", "two"] {
            _ = try await sqs.sendMessage(url, SQSOutgoingMessage(body: body, groupID: "g"))
        }
        var bodies: [String] = []
        for _ in 0..<5 {
            for message in try await sqs.receiveMessages(url, maximum: 10, waitSeconds: 1) {
                bodies.append(message.body)
                #expect(message.systemAttributes["MessageGroupId"] == "g")
                try await sqs.deleteMessage(url, receiptHandle: message.receiptHandle)
            }
        }
        #expect(bodies == ["one", "two", "three"])
    }

    @Test("a message received more often than the redrive policy allows moves to the dead-letter queue")
    func redrive() async throws {
        let sqs = try await Self.client()
        let dead = try await sqs.createQueue(Self.name("dead"))
        let deadARN = try #require(try await sqs.getQueueAttributes(dead, names: ["QueueArn"])["QueueArn"])
        let url = try await sqs.createQueue(Self.name("live"), attributes: [
            "RedrivePolicy": SQSClient.redrivePolicy(deadLetterQueueARN: deadARN, maximumReceives: 1),
        ])
        _ = try await sqs.sendMessage(url, SQSOutgoingMessage(body: "poison"))
        let first = try #require(try await sqs.receiveMessages(url, waitSeconds: 1).first)
        try await sqs.changeMessageVisibility(url, receiptHandle: first.receiptHandle, seconds: 0)
        #expect(try await sqs.receiveMessages(url, waitSeconds: 1).isEmpty, "received once, it moved on")
        #expect(try await sqs.receiveMessages(dead, waitSeconds: 1).map(\.body) == ["poison"])
    }
}

/// Configuration and errors, without a server.
@Suite("SQS configuration and errors")
struct SQSConfigurationTests {
    @Test("credentials come from the environment first, else from the profile's files; region and endpoint likewise")
    func sources() throws {
        let directory = try TemporaryDirectory()
        try """
            [default]
            aws_access_key_id = DEFAULTKEY
            aws_secret_access_key = defaultsecret
            # a comment
            [work]
            aws_access_key_id=WORKKEY
            aws_secret_access_key=worksecret
            aws_session_token=worktoken
            """.write(toFile: directory.path("credentials"), atomically: true, encoding: .utf8)
        try "[profile work]\nregion = eu-west-1\n".write(toFile: directory.path("config"), atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": directory.path("credentials"), "AWS_CONFIG_FILE": directory.path("config")]

        let work = try AWSConfiguration.sqs(environment: files.merging(["AWS_PROFILE": "work"]) { $1 })
        #expect(work.credentials == AWSCredentials(accessKeyID: "WORKKEY", secretAccessKey: "worksecret", sessionToken: "worktoken"))
        #expect(work.region == "eu-west-1" && work.endpoint.absoluteString == "https://sqs.eu-west-1.amazonaws.com")

        let environment = try AWSConfiguration.sqs(environment: files.merging([
            "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
            "AWS_DEFAULT_REGION": "ap-south-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        ]) { $1 })
        #expect(environment.credentials.accessKeyID == "ENVKEY" && environment.credentials.sessionToken == "envtoken")
        #expect(environment.region == "ap-south-1" && environment.endpoint.absoluteString == "http://127.0.0.1:4566")

        let fallback = try AWSConfiguration.sqs(environment: files, region: "us-west-2")
        #expect(fallback.credentials.accessKeyID == "DEFAULTKEY" && fallback.region == "us-west-2")
    }

    @Test("missing credentials, a missing region and an endpoint that is not http(s) are refused, naming what to set")
    func refusals() {
        let none = #expect(throws: SQSError.self) { _ = try AWSConfiguration.sqs(environment: ["HOME": "/nonexistent"]) }
        #expect(none?.code == .invalidConfiguration && none?.message.contains("AWS_ACCESS_KEY_ID") == true)
        let keys = ["HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"]
        let region = #expect(throws: SQSError.self) { _ = try AWSConfiguration.sqs(environment: keys) }
        #expect(region?.message.contains("AWS_REGION") == true)
        let endpoint = #expect(throws: SQSError.self) {
            _ = try AWSConfiguration.sqs(environment: keys.merging(["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SQS": "ftp://x"]) { $1 })
        }
        #expect(endpoint?.message.contains("ftp://x") == true)
    }

    @Test("SQS's error answers become typed errors; throttling and 5xx are retryable, a missing queue is not")
    func errors() {
        let missing = SQSClient.error(status: 400, body: Data(#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#.utf8),
                                      requestID: "req-1", action: "GetQueueUrl")
        #expect(missing == SQSError(.queueDoesNotExist, "The specified queue does not exist.", status: 400, requestID: "req-1"))
        #expect(!missing.isRetryable)
        let throttled = SQSClient.error(status: 400, body: Data(#"{"__type":"com.amazon.coral.service#ThrottlingException","Message":"slow down"}"#.utf8),
                                        requestID: nil, action: "SendMessage")
        #expect(throttled.code == .throttling && throttled.message == "slow down" && throttled.isRetryable)
        let garbage = SQSClient.error(status: 502, body: Data("<html>bad gateway</html>".utf8), requestID: nil, action: "ReceiveMessage")
        #expect(garbage.code == SQSError.Code("HTTP502") && garbage.isRetryable && garbage.message.contains("bad gateway"))
    }
}
