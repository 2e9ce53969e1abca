#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `main` of Spool's libFuzzer targets (`AMQPFrameFuzz`, `SQSResponseFuzz`).
///
/// Built with `-sanitize=fuzzer` (and `--export-dynamic`), it hands control to libFuzzer's
/// driver, which calls `input` with each generated input. Built normally (no libFuzzer linked
/// in), it replays the files named on its command line, such as crash inputs libFuzzer saved.
/// `--write-seeds DIR` writes `seeds` to DIR as a starting corpus.
public enum FuzzDriver {
    /// One input's callback, as libFuzzer calls it.
    public typealias Input = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t))`.
    private typealias Driver = @convention(c) (
        UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>, Input
    ) -> CInt

    /// Writes the seeds, runs libFuzzer, or replays files, as the command line says; then exits.
    public static func main(seeds: [[UInt8]], input: Input) -> Never {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "--write-seeds" {
            for (index, seed) in seeds.enumerated() {
                guard let file = fopen("\(arguments[2])/seed-\(index)", "wb") else { exit(1) }
                _ = seed.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
            exit(0)
        }
        if let symbol = dlsym(nil, "LLVMFuzzerRunDriver") {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(unsafeBitCast(symbol, to: Driver.self)(&argc, &argv, input))
        }
        for path in arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                print("cannot open \(path)")
                exit(1)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { bytes += chunk.prefix(count) }
            fclose(file)
            bytes.withUnsafeBufferPointer { _ = input($0.baseAddress, $0.count) }
            print("\(path): \(bytes.count) bytes decoded without a trap")
        }
        exit(0)
    }
}
