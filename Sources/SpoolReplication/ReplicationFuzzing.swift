/// The entry point of the `ReplicationFrameFuzz` libFuzzer target (SPI, not part of the public API).
///
/// It hands arbitrary bytes, in arbitrary pieces, to what reads a peer's bytes: the frame decoder,
/// and the secondary's stream and the primary's answer to a greeting for every message decoded.
/// They must return or throw, never trap: a trap here is a bug the fuzzer reports.
@_spi(Fuzzing)
public enum ReplicationFuzzing {
    /// Runs one fuzz input.
    public static func run(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        var decoder = ReplicationDecoder()
        var stream = SecondaryStream(position: .empty, term: 0)
        let log = ReplicationLog()
        // The first byte chooses the size of the pieces the rest arrives in.
        let piece = max(1, Int(input.first ?? 1))
        var index = input.isEmpty ? 0 : 1
        while index < input.count {
            decoder.feed(input[index..<min(index + piece, input.count)])
            index += piece
            while true {
                guard let message = try? decoder.next() else { break }
                _ = PrimaryGreeting.answer(message, log: log, term: 1)
                _ = try? stream.receive(message)
                _ = message.frame
            }
        }
    }

    /// Frames a primary and a secondary send, to start fuzzing from.
    public static let seeds: [[UInt8]] = {
        var page = ReplicationTransaction(number: 1, pages: [.init(number: 1, bytes: Array(repeating: 7, count: 64))], databasePages: 1, checksum: [])
        page.checksum = page.checksum(after: ReplicationPosition.empty.checksum)
        let at = ReplicationPosition(transaction: 4, checksum: Array(repeating: 2, count: 32))
        var digest = SnapshotDigest(term: 3, position: at, pageSize: 512, pages: 1)
        digest.update(Array(repeating: 9, count: 512))
        return [
            [64] + ReplicationMessage.snapshot(term: 3, position: at, pageSize: 512, pages: 1).frame
                + ReplicationMessage.page(number: 1, bytes: Array(repeating: 9, count: 512)).frame
                + ReplicationMessage.snapshotEnd(digest: digest.finalize()).frame,
            [16] + ReplicationMessage.hello(version: 1, term: 0, position: .empty).frame,
            [3] + page.messages.flatMap(\.frame),
            [255] + ReplicationMessage.keepAlive(transaction: 3).frame + ReplicationMessage.refusal("no").frame
                + ReplicationMessage.applied(transaction: 2).frame,
            [1] + ReplicationMessage.commit(transaction: 9, pages: 2, checksum: Array(repeating: 1, count: 32), capturedAt: 1).frame,
        ]
    }()
}
