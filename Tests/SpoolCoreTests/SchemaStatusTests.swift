import SpoolCore
import Testing

@Suite("Schema status")
struct SchemaStatusTests {
    @Test("applied migrations come in the order the build knows them, unknown ones last, whatever order the table gave")
    func order() {
        let known = ["1-jobs", "2-queue-index", "9-vacuum-pace", "10-plain-completions"]
        let status = SchemaStatus(known: known, applied: ["1-jobs", "10-plain-completions", "11-from-a-newer-build", "2-queue-index", "9-vacuum-pace"])
        #expect(status.applied == ["1-jobs", "2-queue-index", "9-vacuum-pace", "10-plain-completions", "11-from-a-newer-build"])
        #expect(SchemaStatus(known: known, applied: known.reversed()).applied == known)
    }
}
