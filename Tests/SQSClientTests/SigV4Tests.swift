import Foundation
@testable import SQSClient
import Testing

/// Signature Version 4 against AWS's published test suite (see `SigV4Vectors/README.md`): for
/// every request the canonical request, the string to sign and the signature must match.
@Suite("SigV4 signing")
struct SigV4Tests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("SigV4Vectors")

    static let cases: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: vectors.path)) ?? [])
        .filter { !$0.hasSuffix(".md") }.sorted()

    struct Context: Decodable {
        struct Credentials: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }

        var credentials: Credentials
        var normalize: Bool
        var region: String
        var service: String
        var sign_body: Bool
        var timestamp: String
        var omit_session_token: Bool?
    }

    /// Reads `request.txt`: the request line, headers (an indented line continues the one before)
    /// and the body after a blank line.
    static func request(_ text: String) throws -> SigV4Signer.Request {
        let (head, body) = text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) } ?? (text, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return SigV4Signer.Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    @Test("every case of the suite", arguments: cases)
    func vector(_ name: String) throws {
        let folder = Self.vectors.appendingPathComponent(name)
        func read(_ file: String) throws -> String { try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8) }
        let context = try JSONDecoder().decode(Context.self, from: Data(try read("context.json").utf8))
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: context.credentials.access_key_id,
                                                            secretAccessKey: context.credentials.secret_access_key,
                                                            sessionToken: context.credentials.token),
                                 region: context.region, service: context.service)
        let date = try #require(ISO8601DateFormatter().date(from: context.timestamp))
        let signed = signer.sign(try Self.request(try read("request.txt")), at: date, normalizePath: context.normalize,
                                 signBody: context.sign_body, signSessionToken: !(context.omit_session_token ?? false))
        #expect(signed.canonicalRequest == (try read("header-canonical-request.txt")))
        #expect(signed.stringToSign == (try read("header-string-to-sign.txt")))
        #expect(signed.signature == (try read("header-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("the suite is all there")
    func suiteIsPresent() {
        #expect(Self.cases.count >= 38 && Self.cases.contains("get-vanilla") && Self.cases.contains("post-x-www-form-urlencoded"))
    }

    @Test("the Authorization header names the key, the scope, the signed headers and the signature; a session token is sent")
    func authorizationHeader() throws {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "tok"),
                                 region: "eu-west-1", service: "sqs")
        let signed = signer.sign(SigV4Signer.Request(method: "POST", path: "/", headers: [("Host", "sqs.eu-west-1.amazonaws.com")],
                                                     body: Array(#"{"QueueName":"jobs"}"#.utf8)),
                                 at: Date(timeIntervalSince1970: 1_440_938_160))
        let headers = Dictionary(signed.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        #expect(headers["X-Amz-Date"] == "20150830T123600Z")
        #expect(headers["X-Amz-Security-Token"] == "tok")
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/sqs/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=\(signed.signature)")
        #expect(signed.signature.count == 64)
    }
}
