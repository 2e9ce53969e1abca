import Foundation

/// The entry point of the `SQSResponseFuzz` libFuzzer target (SPI, not part of the public API).
///
/// It hands arbitrary bytes to everything that reads an SQS answer: the JSON parser, the reader of
/// each answer type and the error parser, for a success and for an error status. They must return or throw,
/// never trap: a trap here is a bug the fuzzer reports.
@_spi(Fuzzing)
public enum SQSResponseFuzzing {
    /// Runs one fuzz input.
    public static func run(_ bytes: UnsafeRawBufferPointer) {
        let data = Data(bytes)
        if let answer = try? AnswerJSON.parse(Array(bytes)) {
            _ = try? QueueURL(answer: answer)
            _ = try? Attributes(answer: answer)
            _ = try? Sent(answer: answer)
            _ = try? BatchAnswer(answer: answer).result
            if let received = try? Received(answer: answer) {
                for message in received.Messages ?? [] { _ = message.receiveCount }
            }
            _ = try? Empty(answer: answer)
        }
        for status in [400, 403, 500, 503] {
            _ = SQSClient.error(status: status, body: data, requestID: "fuzz", action: "Fuzz").isRetryable
        }
    }

    /// Answers SQS sends, to start fuzzing from.
    public static let seeds: [String] = [
        #"{"QueueUrl":"http://127.0.0.1:4566/000000000000/jobs"}"#,
        #"{"Attributes":{"ApproximateNumberOfMessages":"3","QueueArn":"arn:aws:sqs:us-east-1:000000000000:jobs"}}"#,
        #"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"fafb00f5732ab283681e124bf8747ed1"}"#,
        #"{"Successful":[{"Id":"0","MessageId":"a"}],"Failed":[{"Id":"1","Code":"InternalError","Message":"x","SenderFault":false}]}"#,
        #"{"Messages":[{"MessageId":"m","ReceiptHandle":"r","MD5OfBody":"x","Body":"h\u00e9llo","Attributes":{"ApproximateReceiveCount":"2"},"MessageAttributes":{"a":{"DataType":"Binary","BinaryValue":"AAEC"},"b":{"DataType":"Number","StringValue":"4"}}}]}"#,
        #"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
        #"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#,
        "{}",
    ]
}
