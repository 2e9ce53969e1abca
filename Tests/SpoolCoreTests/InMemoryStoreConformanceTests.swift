import SpoolCore
import SpoolTestSupport
import Testing

@Suite("In-memory store conformance")
struct InMemoryStoreConformanceTests {
    @Test(arguments: StoreConformance.cases)
    func conformance(_ check: StoreConformanceCase) async throws {
        try await check.run(InMemoryJobStore())
    }
}
