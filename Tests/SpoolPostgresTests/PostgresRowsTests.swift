import Foundation
import NIOCore
import PostgresNIO
@testable import SpoolCore
@testable import SpoolPostgres
import Testing

/// Reading cells without decoding them whole: a job's id from its bytes, and an array's length
/// from its header.
@Suite("PostgreSQL rows")
struct PostgresRowsTests {
    private func cell(_ bytes: ByteBuffer?, format: PostgresFormat = .binary, type: PostgresDataType = .textArray) -> PostgresCell {
        PostgresCell(bytes: bytes, dataType: type, format: format, columnName: "c", columnIndex: 0)
    }

    private func encoded(_ array: [String]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try array.encode(into: &buffer, context: .default)
        return buffer
    }

    @Test("an array's length comes from its binary header")
    func arrayCount() throws {
        #expect(PostgresRows.arrayCount(cell(try encoded(["a", "b", "c"]))) == 3)
        #expect(PostgresRows.arrayCount(cell(try encoded(["only"]))) == 1)
        // An empty array as the server sends it: no dimensions.
        var empty = ByteBuffer()
        empty.writeMultipleIntegers(Int32(0), Int32(0), UInt32(25))
        #expect(PostgresRows.arrayCount(cell(empty)) == 0)
    }

    @Test("an array in text form, a NULL or a cut header has no length")
    func arrayCountUnknown() throws {
        #expect(PostgresRows.arrayCount(cell(ByteBuffer(string: "{a,b}"), format: .text)) == nil)
        #expect(PostgresRows.arrayCount(cell(nil)) == nil)
        var cut = try encoded(["a", "b"])
        cut.moveWriterIndex(to: 10)
        #expect(PostgresRows.arrayCount(cell(cut)) == nil)
        var twoDimensions = ByteBuffer()
        twoDimensions.writeMultipleIntegers(Int32(2), Int32(0), UInt32(25), Int32(1), Int32(1), Int32(1), Int32(1))
        #expect(PostgresRows.arrayCount(cell(twoDimensions)) == nil)
    }

    @Test("a job's id is read from its bytes, in either case, and a malformed one is named")
    func jobID() throws {
        let id = JobID.make()
        #expect(try PostgresRows.jobID(cell(ByteBuffer(string: id.description), type: .text)) == id)
        #expect(try PostgresRows.jobID(cell(ByteBuffer(string: id.description.uppercased()), type: .text)) == id)
        #expect(throws: SpoolError.self) { try PostgresRows.jobID(cell(ByteBuffer(string: "not-an-id"), type: .text)) }
        #expect(throws: (any Error).self) { try PostgresRows.jobID(cell(nil, type: .text)) }
    }

    @Test("job ids bound as text[] read back as their canonical texts", arguments: [0, 1, 3])
    func jobIDTexts(count: Int) throws {
        let ids = (0..<count).map { _ in JobID.make() }
        var buffer = ByteBuffer()
        JobIDTexts(ids).encode(into: &buffer, context: .default)
        let texts = try [String](from: &buffer, type: .textArray, format: .binary, context: .default)
        #expect(texts == ids.map(\.description))
        #expect(PostgresRows.arrayCount(cell(try encoded(texts))) == count)
    }
}
