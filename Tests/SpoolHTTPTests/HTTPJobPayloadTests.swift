import Foundation
import SpoolCore
@testable import SpoolHTTP
import SpoolTestSupport
import Testing

/// The payload reader every `spool.http` run uses reads what the `Decodable` conformance reads.
@Suite("spool.http payloads")
struct HTTPJobPayloadTests {
    @Test("random payloads read the same through the reader as through JSONDecoder")
    func sameAsDecodable() throws {
        var random = SeededRandom(seed: 0x4A50)
        func maybe<T>(_ make: () -> T) -> T? { Bool.random(using: &random) ? make() : nil }
        func text() -> String { String((0..<Int.random(in: 0...12, using: &random)).map { _ in "aZ9 -é\"\\\n".randomElement(using: &random)! }) }
        func strings() -> [String: String] { Dictionary((0..<Int.random(in: 0...3, using: &random)).map { _ in (text(), text()) }) { $1 } }
        for _ in 0..<2_000 {
            let payload = HTTPJobPayload(
                method: maybe(text), url: maybe(text), headers: maybe(strings), body: maybe(text), bodyBase64: maybe(text),
                form: maybe { HTTPJobPayload.Form(fields: maybe(strings), files: maybe { (0..<Int.random(in: 0...2, using: &random)).map { _ in
                    HTTPJobPayload.File(field: text(), filename: text(), contentType: maybe(text), base64: text()) } }) },
                cookies: maybe(strings), cookieHeader: maybe(text), authorization: maybe(text), task: maybe(text),
                timeout: maybe { Double(Int.random(in: 0...100_000, using: &random)) / 1000 },
                maxResultBytes: maybe { Int.random(in: 0...(1 << 30), using: &random) }, resultHeaders: maybe { [text(), text()] })
            let json = String(decoding: try JSONEncoder().encode(payload), as: UTF8.self)
            let decoded = try JSONPayload(unchecked: json).decode(HTTPJobPayload.self)
            let read = try HTTPJobPayload(json: JSONPayload(unchecked: json).value)
            #expect(read == decoded && read == payload, "\(json)")
        }
    }

    @Test("a member of the wrong shape is named")
    func wrongShapes() {
        let cases: [(String, String)] = [
            (#"[]"#, "not a JSON object"), (#"{"url": 7}"#, "url must be a string"), (#"{"headers": {"a": 1}}"#, "headers.a must be a string"),
            (#"{"timeout": "soon"}"#, "timeout must be a number"), (#"{"maxResultBytes": 1.5}"#, "maxResultBytes must be a whole number"),
            (#"{"form": {"files": [{"field": "f"}]}}"#, "form.files[0] needs field, filename and base64"),
            (#"{"resultHeaders": [1]}"#, "resultHeaders must be an array of strings"),
        ]
        for (json, named) in cases {
            do {
                _ = try HTTPJobPayload(json: JSONPayload(unchecked: json).value)
                Issue.record("\(json) was read")
            } catch {
                #expect(error.description.contains(named), "\(json): \(error.description)")
            }
        }
        #expect((try? HTTPJobPayload(json: JSONPayload(unchecked: #"{"url": null, "extra": 1}"#).value)) == HTTPJobPayload(),
                "null is absent and unknown members are ignored")
    }
}
