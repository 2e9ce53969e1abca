import Foundation
import SpoolCore
import SpoolMirror
import Testing

/// A unit's message body: written and read back unchanged for every field type, and a body
/// that does not fit the schema is refused naming what is wrong, whatever it holds.
@Suite("Mirror unit messages")
struct MirrorUnitTests {
    static let schema = try! MirrorSchema([
        try! MirrorEntityType("Page", fields: ["name": .string, "views": .integer, "score": .double, "draft": .bool,
                                               "discoveredDate": .date, "meta": .json, "logo": .file]),
    ])

    @Test("every field type survives the round trip, integers beyond 2^53 too, down to Int64.min")
    func roundTrip() throws {
        let unit = MirrorUnit(operations: [
            .add("Page", "home-page", ["name": .string("Home \"ü\"\n"), "views": .integer(Int64.max), "score": .double(0.25), "draft": .bool(false),
                                       "discoveredDate": .date(Date(timeIntervalSince1970: 1_764_921_600.5)),
                                       "meta": .json(.object(["a": .array([.number(1), .null])])), "logo": .file([0, 1, 255])]),
            .modify("Page", "about", ["views": .integer(-7), "name": .null]),
            .modify("Page", "least", ["views": .integer(Int64.min)]),
            .delete("Page", "old"),
        ])
        let read = try MirrorUnit(json: unit.json, schema: Self.schema)
        #expect(read == unit)
        #expect(unit.json.contains(#""views":"9223372036854775807""#) && unit.json.contains(#""views":-7"#))
        #expect(unit.json.contains(#""views":"-9223372036854775808""#))
    }

    @Test("a body that does not fit the schema is refused, naming what is wrong")
    func refused() {
        let unit = UUID().uuidString
        let cases: [(String, String)] = [
            ("not json", "invalid JSON"), ("[]", "not a JSON object"), (#"{"unit":"x","operations":[]}"#, "'unit' is not a UUID"),
            (#"{"unit":"\#(unit)"}"#, "'operations' is not an array"),
            (#"{"unit":"\#(unit)","operations":[{"op":"upsert","type":"Page","key":"a"}]}"#, "'op' is not add, modify or delete"),
            (#"{"unit":"\#(unit)","operations":[{"op":"add","type":"Post","key":"a","fields":{}}]}"#, "'Post' is not declared"),
            (#"{"unit":"\#(unit)","operations":[{"op":"add","type":"Page","key":"a","fields":{"title":"t"}}]}"#, "'title' is not a declared field"),
            (#"{"unit":"\#(unit)","operations":[{"op":"add","type":"Page","key":"a","fields":{"views":1.5}}]}"#, "field 'views' of Page takes a integer"),
            (#"{"unit":"\#(unit)","operations":[{"op":"add","type":"Page","key":"a","fields":{"discoveredDate":"yesterday"}}]}"#, "takes a date"),
            (#"{"unit":"\#(unit)","operations":[{"op":"add","type":"Page","key":"a","fields":{"logo":"%%%"}}]}"#, "takes a file"),
            (#"{"unit":"\#(unit)","operations":[{"op":"add","type":"Page","key":7}]}"#, "'type' and 'key' must be strings"),
        ]
        for (body, named) in cases {
            let error = #expect(throws: SpoolError.self) { _ = try MirrorUnit(json: body, schema: Self.schema) }
            #expect(error?.message.contains(named) == true, "\(body): \(String(describing: error))")
        }
        var random = SeededRandom(seed: 0x0717)
        let seed = Array(MirrorUnit(operations: [.add("Page", "a", ["views": .integer(1)])]).json.utf8)
        for _ in 0..<5_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...127, using: &random)
            }
            _ = try? MirrorUnit(json: String(decoding: bytes, as: UTF8.self), schema: Self.schema)
        }
    }
}
