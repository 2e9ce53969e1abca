// libFuzzer target for the SQS answer decoders; `scripts/fuzz SQSResponseFuzz` builds and runs it
// (see ``FuzzDriver`` for how it runs, replays and writes its seeds).
import FuzzDriver
@_spi(Fuzzing) import SQSClient

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    SQSResponseFuzzing.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(seeds: SQSResponseFuzzing.seeds.map { Array($0.utf8) }, input: fuzzOneInput)
