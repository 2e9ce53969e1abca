import SpoolCore
@_spi(Fuzzing) import SQSClient
import Testing

/// The fuzz entry point of `scripts/fuzz SQSResponseFuzz`, replayed on its seeds and on 10,000
/// reproducible mutations of them: an answer decoder that traps ends the test run.
@Suite("SQS fuzz replay")
struct SQSFuzzReplayTests {
    @Test("SQS answers and mutations of them never trap a decoder")
    func replay() async {
        var random = SeededRandom(seed: 0x5E5_0F22)
        let seeds = SQSResponseFuzzing.seeds.map { Array($0.utf8) }
        #expect(seeds.count >= 6)
        for seed in seeds { seed.withUnsafeBytes { SQSResponseFuzzing.run($0) } }
        let alphabet = Array(#"{}[]",:0123456789.-eE truefalsnul\u00#"#.utf8)
        for round in 0..<10_000 {
            // Hand the thread back now and then: the suite runs beside tests waiting on real servers.
            if round % 100 == 0 { await Task.yield() }
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(random.next() % 6)) where !bytes.isEmpty {
                let index = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 4 {
                case 0: bytes[index] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
                case 2: bytes.remove(at: index)
                default: bytes = Array(bytes[..<index])
                }
            }
            bytes.withUnsafeBytes { SQSResponseFuzzing.run($0) }
        }
    }
}
