@_spi(Fuzzing) import AMQPClient
import SpoolCore
import Testing

/// The fuzz entry point of `scripts/fuzz AMQPFrameFuzz`, replayed in the test suite on its seeds and on
/// 10,000 reproducible mutations of them: a decoder that traps, or a frame that does not round
/// trip, ends the test run.
@Suite("AMQP fuzz replay")
struct FuzzReplayTests {
    @Test("seeds and mutations of them never trap a decoder, and what decodes encodes again the same")
    func replay() async {
        var random = SeededRandom(seed: 0x5EED_A3D9)
        func next() -> UInt64 { random.next() }
        let seeds = FrameFuzzing.seeds
        #expect(seeds.count >= 6)
        for seed in seeds {
            seed.withUnsafeBytes { FrameFuzzing.run($0) }
        }
        for round in 0..<10_000 {
            // Hand the thread back now and then: the suite runs beside tests waiting on real servers.
            if round % 100 == 0 { await Task.yield() }
            var bytes = seeds[Int(next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(next() % 8)) {
                guard !bytes.isEmpty else { break }
                let index = Int(next() % UInt64(bytes.count))
                switch next() % 4 {
                case 0: bytes[index] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: next()), at: index)
                case 2: bytes.remove(at: index)
                default: bytes = Array(bytes[index...])
                }
            }
            bytes.withUnsafeBytes { FrameFuzzing.run($0) }
        }
    }
}
