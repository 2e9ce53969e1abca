// libFuzzer target for what reads a replication peer's bytes; `scripts/fuzz ReplicationFrameFuzz`
// builds and runs it (see ``FuzzDriver`` for how it runs, replays and writes its seeds).
import FuzzDriver
@_spi(Fuzzing) import SpoolReplication

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ReplicationFuzzing.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

FuzzDriver.main(seeds: ReplicationFuzzing.seeds, input: fuzzOneInput)
