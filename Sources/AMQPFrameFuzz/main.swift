// libFuzzer target for the AMQP 0-9-1 frame decoders; `scripts/fuzz AMQPFrameFuzz` builds and runs it
// (see ``FuzzDriver`` for how it runs, replays and writes its seeds).
@_spi(Fuzzing) import AMQPClient
import FuzzDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FrameFuzzing.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(seeds: FrameFuzzing.seeds, input: fuzzOneInput)
