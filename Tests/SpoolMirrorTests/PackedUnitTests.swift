import Foundation
import SpoolCore
import SpoolMirror
import Testing

/// The packed form an outbox keeps: every unit comes back exactly and travels as the same message
/// as its JSON form; it is much smaller; damaged bytes are refused naming the place, never crash.
@Suite("Packed mirror units")
struct PackedUnitTests {
    /// A random unit over every field type, with edge values.
    static func randomUnit(_ random: inout SeededRandom) -> MirrorUnit {
        func value() -> MirrorValue {
            switch Int.random(in: 0..<9, using: &random) {
            case 0: return .null
            case 1: return .string(["", "ü\"\n\u{1F600}", String(repeating: "x", count: 300)].randomElement(using: &random)!)
            case 2: return .integer([Int64.min, -1, 0, 63, 64, 1 << 53, Int64.max, Int64.random(in: .min ... .max, using: &random)].randomElement(using: &random)!)
            case 3: return .double([0.1, -0.0, 1e308, Double.leastNonzeroMagnitude].randomElement(using: &random)!)
            case 4: return .bool(Bool.random(using: &random))
            case 5: return .date(Date(timeIntervalSince1970: Double(Int.random(in: 0..<2_000_000_000, using: &random)) + 0.123456))
            case 6: return .json(.object(["a": .array([.number(1.5), .null, .string("ü")]), "b": .bool(true)]))
            case 7: return .file((0..<Int.random(in: 0..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            default: return .string("page \(Int.random(in: 0..<100, using: &random))")
            }
        }
        let names = ["name", "views", "score", "draft", "discoveredDate", "meta", "logo"]
        let operations = (0..<Int.random(in: 0..<12, using: &random)).map { index -> MirrorOperation in
            let key = "key-\(index)-\(Int.random(in: 0..<1_000, using: &random))"
            let type = ["Page", "Tag", "Größe"].randomElement(using: &random)!
            var fields: [String: MirrorValue] = [:]
            for name in names where Bool.random(using: &random) { fields[name] = value() }
            switch Int.random(in: 0..<3, using: &random) {
            case 0: return .add(type, key, fields)
            case 1: return .modify(type, key, fields)
            default: return .delete(type, key)
            }
        }
        let at = Bool.random(using: &random) ? Date(timeIntervalSinceReferenceDate: Double.random(in: 0..<1e9, using: &random)) : nil
        return MirrorUnit(operations: operations, committedAt: at)
    }

    @Test("2,000 random units over every field type come back exactly and travel as the message their JSON form makes")
    func roundTrip() throws {
        var random = SeededRandom(seed: 0x9ACC)
        for _ in 0..<2_000 {
            let unit = Self.randomUnit(&random)
            #expect(try MirrorUnit(packed: unit.packed) == unit)
            #expect(try MirrorUnit.message(packed: unit.packed) == unit.message)
        }
    }

    @Test("ten page upserts pack into under a third of their JSON body and ordering keys")
    func compact() {
        let unit = MirrorUnit(operations: (0..<10).map { .add("Page", "page-\(12_340 + $0)", ["name": .string("Page \($0)"), "views": .integer(1_234)]) },
                              committedAt: Date())
        let json = unit.json.utf8.count + unit.orderKeysText.utf8.count + 36
        #expect(unit.packed.count * 3 < json, "packed \(unit.packed.count) bytes, JSON \(json)")
    }

    @Test("a message written before the packed form (format 0) travels with its id, ordering keys and body unchanged")
    func earlierMessages() throws {
        let unit = MirrorUnit(operations: [.add("Page", "home-page", ["name": .string("Home")])])
        let message = try MirrorUnit.message(packed: MirrorUnit.packedMessage(id: "old-id", orderKeys: unit.orderKeysText, body: unit.json))
        #expect(message.id == "old-id" && message.body == Array(unit.json.utf8) && message.headers[orderKeysHeader] == unit.orderKeysText)
        let bare = try MirrorUnit.message(packed: MirrorUnit.packedMessage(id: "bare", orderKeys: nil, body: "{}"))
        #expect(bare.headers[orderKeysHeader] == nil)
    }

    @Test("every cut of a packed unit, bytes past its end and 20,000 random mutations are refused or read, never a crash")
    func damaged() throws {
        var random = SeededRandom(seed: 0xDA4A)
        var unit = Self.randomUnit(&random)
        while unit.operations.count < 4 { unit = Self.randomUnit(&random) }
        let packed = unit.packed
        for length in 0..<packed.count {
            let error = #expect(throws: SpoolError.self) { _ = try MirrorUnit(packed: Array(packed[..<length])) }
            #expect(error?.message.contains("packed mirror unit") == true)
        }
        let longer = #expect(throws: SpoolError.self) { _ = try MirrorUnit(packed: packed + [0]) }
        #expect(longer?.message.contains("1 bytes past the unit's end") == true, "\(String(describing: longer))")
        #expect(throws: SpoolError.self) { _ = try MirrorUnit.message(packed: [7]) }
        for _ in 0..<20_000 {
            var bytes = packed
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            _ = try? MirrorUnit.message(packed: bytes)
        }
    }
}
