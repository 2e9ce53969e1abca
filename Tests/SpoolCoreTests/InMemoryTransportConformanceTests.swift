import SpoolCore
import SpoolTestSupport
import Testing

@Suite("In-memory transport conformance")
struct InMemoryTransportConformanceTests {
    @Test(arguments: TransportConformance.cases)
    func conformance(_ check: TransportConformanceCase) async throws {
        let broker = InMemoryBroker()
        try await check.run(TransportFixture(destination: "conformance") { broker.endpoint() })
    }
}
