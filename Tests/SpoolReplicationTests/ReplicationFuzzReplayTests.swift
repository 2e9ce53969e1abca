import SpoolCore
@_spi(Fuzzing) import SpoolReplication
import SpoolTestSupport
import Testing

/// The fuzz entry point of `scripts/fuzz ReplicationFrameFuzz`, replayed on its seeds and on
/// 10,000 reproducible mutations of them: a decoder or stream that traps ends the test run.
@Suite("Replication fuzz replay")
struct ReplicationFuzzReplayTests {
    @Test("replication frames and mutations of them never trap the decoder, the stream or the greeting's answer")
    func replay() async {
        var random = SeededRandom(seed: 0x2E9_11CA)
        let seeds = ReplicationFuzzing.seeds
        for seed in seeds { seed.withUnsafeBytes { ReplicationFuzzing.run($0) } }
        for round in 0..<10_000 {
            if round % 100 == 0 { await Task.yield() }
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(random.next() % 6)) where !bytes.isEmpty {
                let index = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 4 {
                case 0: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
                case 2: bytes.remove(at: index)
                default: bytes = Array(bytes[..<index])
                }
            }
            bytes.withUnsafeBytes { ReplicationFuzzing.run($0) }
        }
    }
}
