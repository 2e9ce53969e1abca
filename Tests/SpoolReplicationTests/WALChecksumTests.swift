@testable import SpoolReplication
import Testing

@Suite("Replication: the write-ahead log's checksum")
struct WALChecksumTests {
    /// SQLite's definition, word by word from bytes (https://www.sqlite.org/fileformat2.html, 4.3).
    private func reference(_ bytes: [UInt8], from seed: (UInt32, UInt32), bigEndian: Bool) -> (UInt32, UInt32) {
        var (s0, s1) = seed
        var index = 0
        func word(_ at: Int) -> UInt32 {
            let b = (0..<4).map { UInt32(bytes[at + $0]) }
            return bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
        }
        while index + 8 <= bytes.count {
            s0 = s0 &+ word(index) &+ s1
            s1 = s1 &+ word(index + 4) &+ s0
            index += 8
        }
        return (s0, s1)
    }

    @Test("equals SQLite's definition for both byte orders, any seed, and slices that start anywhere in their array")
    func matchesDefinition() {
        var random = SystemRandomNumberGenerator()
        for length in [0, 8, 24, 4096, 4120] {
            let bytes = (0..<(length + 13)).map { _ in UInt8.random(in: 0...255, using: &random) }
            for start in [0, 5] {
                let slice = bytes[start..<(start + length)]
                let seed = (UInt32.random(in: 0...UInt32.max), UInt32.random(in: 0...UInt32.max))
                for bigEndian in [false, true] {
                    let got = WALReader.checksum(slice, from: seed, bigEndian: bigEndian)
                    let want = reference(Array(slice), from: seed, bigEndian: bigEndian)
                    #expect(got == want, "length \(length), start \(start), big-endian \(bigEndian)")
                }
            }
        }
    }
}
