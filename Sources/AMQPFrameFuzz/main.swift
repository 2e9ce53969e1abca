// libFuzzer target for the AMQP 0-9-1 frame decoders; `scripts/fuzz-amqp` builds and runs it.
//
// Built with `-sanitize=fuzzer`, the program hands control to libFuzzer's driver, which calls
// `LLVMFuzzerTestOneInput` with each generated input. Built normally (no libFuzzer linked in), it
// replays the files named on its command line, such as crash inputs libFuzzer saved.
// `AMQPFrameFuzz --write-seeds DIR` writes a starting corpus of valid frames to DIR.
@_spi(Fuzzing) import AMQPClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FrameFuzzing.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t))`.
typealias FuzzerDriver = @convention(c) (
    UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--write-seeds" {
    for (index, seed) in FrameFuzzing.seeds.enumerated() {
        guard let file = fopen("\(CommandLine.arguments[2])/seed-\(index)", "wb") else { exit(1) }
        _ = seed.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    exit(0)
}

if let symbol = dlsym(nil, "LLVMFuzzerRunDriver") {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(unsafeBitCast(symbol, to: FuzzerDriver.self)(&argc, &argv, fuzzOneInput))
}

for path in CommandLine.arguments.dropFirst() {
    guard let file = fopen(path, "rb") else {
        print("cannot open \(path)")
        exit(1)
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { bytes += chunk.prefix(count) }
    fclose(file)
    bytes.withUnsafeBufferPointer { _ = fuzzOneInput($0.baseAddress, $0.count) }
    print("\(path): \(bytes.count) bytes decoded without a trap")
}
