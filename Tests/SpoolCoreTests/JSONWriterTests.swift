import Foundation
import SpoolCore
import Testing

/// The hand-written JSON paths (writer, parser, ISO 8601 times) against Foundation's, which
/// define the documents Spool has always produced.
@Suite("JSON writer and parser")
struct JSONWriterTests {
    static let awkward = "quote \" backslash \\ slash / tab \t newline \n nul \u{0} unit \u{1F} del \u{7F} é 😀 \u{2028} end"

    static func foundation<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func oldFormat(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
            .replacingOccurrences(of: "+0000", with: "Z")
    }

    @Test("a job with every field set is written exactly as JSONEncoder writes it")
    func fullJob() throws {
        let at = Date(timeIntervalSince1970: 1_795_000_000.123)
        let job = Job(
            id: JobID.make(), queue: "q-\(JSONWriterTests.awkward)", name: "mail.send", payload: JSONPayload(unchecked: #"{"a":[1,2.5,null,true],"b":"x\"y"}"#),
            state: .discarded, priority: -3, attempt: 2, maxAttempts: 5, runAt: at, createdAt: at.addingTimeInterval(-1),
            startedAt: at.addingTimeInterval(0.5), finishedAt: at.addingTimeInterval(0.75), quotas: ["smtp", "é"], tags: [JSONWriterTests.awkward],
            uniqueKey: "u\"k", timeout: .milliseconds(1500), dispatcher: UUID(), leaseExpiresAt: at.addingTimeInterval(30),
            cancelRequested: true, result: JSONPayload(unchecked: #"{"ok":false}"#),
            errors: [AttemptError(attempt: 1, name: "Boom", type: "error", message: JSONWriterTests.awkward, at: at)],
            traceContext: TraceContext(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "k=\"v\" é"]))
        #expect(job.jsonText == (try JSONWriterTests.foundation(job)))
        #expect(try JSONDecoder().decode(Job.self, from: Data(job.jsonText.utf8)) == job, "and reads back")
    }

    @Test("a job with no optional fields is written exactly as JSONEncoder writes it")
    func minimalJob() throws {
        let job = Job(new: NewJob(name: "noop"), id: JobID.make(), now: Date(timeIntervalSince1970: 0))
        #expect(job.jsonText == (try JSONWriterTests.foundation(job)))
    }

    @Test("values are written exactly as JSONEncoder writes them", arguments: [
        JSONValue.object(["z": .number(1), "a": .array([.number(0), .number(-0.0), .number(1.5), .number(1e20), .number(0.1),
                                                       .number(-3.25e-7), .number(123456.789), .number(-42)]),
                          "m": .string(JSONWriterTests.awkward), "n": .null, "t": .bool(true), "f": .bool(false)]),
        JSONValue.array([]), JSONValue.object([:]), JSONValue.string(""), JSONValue.number(999_999_999_999_999),
    ])
    func values(_ value: JSONValue) throws {
        #expect(value.compactText == (try JSONWriterTests.foundation(value)))
    }

    /// Foundation's formatter truncates a binary fraction that lands just under a millisecond
    /// (…403 → …402), so it is asked about the middle of each millisecond, where both must agree.
    @Test("ISO 8601 times match Foundation's formatter to the millisecond, before and after 1970")
    func times() async {
        var random = SystemRandomNumberGenerator()
        var milliseconds: [Int64] = [0, -1, -86_400_500, 951_782_400_000, 4_102_444_799_999]
        for _ in 0..<2000 { milliseconds.append(Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &random)) }
        for (index, ms) in milliseconds.enumerated() {
            if index % 100 == 0 { await Task.yield() }
            let middle = Date(timeIntervalSince1970: (Double(ms) + 0.5) / 1000)
            #expect(ISO8601.format(Date(timeIntervalSince1970: Double(ms) / 1000)) == JSONWriterTests.oldFormat(middle))
            #expect(ISO8601.format(middle) == JSONWriterTests.oldFormat(middle))
        }
    }

    @Test("parsing reads what JSONDecoder reads, escapes and surrogate pairs included")
    func parse() throws {
        let text = #" {"a" : [1, 2.5, -0.5e+2, {"b": null}], "c": "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "d": true, "e": false} "#
        let parsed = try JSONValue.parse(text)
        #expect(parsed == (try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))))
        #expect(parsed["c"]?.string == "\"\\/\u{8}\u{C}\n\r\té😀")
    }

    @Test("a lone surrogate becomes U+FFFD; a number beyond Double is refused")
    func oddInput() throws {
        #expect(try JSONValue.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        let error = #expect(throws: SpoolError.self) { try JSONValue.parse("[1e400]") }
        #expect(error?.message == "invalid JSON: number out of range at byte 1")
    }

    @Test("written values parse back to themselves")
    func roundTrip() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<300 {
            let value = JSONWriterTests.randomValue(depth: 0, &random)
            #expect(try JSONValue.parse(value.compactText) == value)
        }
    }

    static func randomValue(depth: Int, _ random: inout SeededRandom) -> JSONValue {
        let characters = Array("aZ09 \"\\/\n\t\u{1}é😀\u{2028}")
        func text() -> String { String((0..<Int.random(in: 0...8, using: &random)).map { _ in characters.randomElement(using: &random)! }) }
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &random)))
        case 3: return .number(Double.random(in: -1e6...1e6, using: &random))
        case 4: return .string(text())
        case 5: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(depth: depth + 1, &random) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &random) { members[text()] = randomValue(depth: depth + 1, &random) }
            return .object(members)
        }
    }
}
