import Foundation
import SpoolCore
import Testing

/// The trace context a job carries (``TraceContext``): bounded, kept as text, read back.
@Suite("Trace context")
struct TraceContextTests {
    static let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    @Test("entries are kept in key order and read back from the stored text")
    func storedText() {
        let context = TraceContext(["tracestate": "a=1,b=2", "traceparent": Self.parent])
        #expect(context.entries.map(\.key) == ["traceparent", "tracestate"])
        #expect(context.storedText == #"{"traceparent":"\#(Self.parent)","tracestate":"a=1,b=2"}"#)
        #expect(TraceContext(storedText: context.storedText) == context)
        #expect(context["traceparent"] == Self.parent && context.values.count == 2)
    }

    @Test("an empty context is stored as nothing; text that is not an object of strings reads as empty")
    func empty() {
        #expect(TraceContext().storedText == nil && TraceContext().isEmpty)
        for text in [nil, "", "[1]", "{", #"{"a":1}"#, "null"] as [String?] {
            #expect(TraceContext(storedText: text).isEmpty, "\(text ?? "nil")")
        }
        #expect(TraceContext(storedText: #"{"a":1,"b":"x"}"#) == TraceContext(["b": "x"]), "only string members count")
    }

    @Test("what exceeds the bounds or holds control characters is left out, not refused")
    func bounds() {
        var many: [String: String] = [:]
        for index in 0..<20 { many["k\(String(format: "%02d", index))"] = "v" }
        #expect(TraceContext(many).entries.count == TraceContext.maximumEntries)
        #expect(TraceContext(["k": String(repeating: "x", count: TraceContext.maximumValueBytes + 1)]).isEmpty, "a value too long")
        #expect(TraceContext([String(repeating: "k", count: TraceContext.maximumKeyBytes + 1): "v"]).isEmpty, "a key too long")
        #expect(TraceContext(["k": "a\nb"]).isEmpty && TraceContext(["k\u{0}": "v"]).isEmpty && TraceContext(["": "v"]).isEmpty)
        #expect(TraceContext(["k": "v", "bad": "\u{7F}"]) == TraceContext(["k": "v"]), "the rest is kept")
    }

    @Test("a W3C traceparent is taken with its tracestate; malformed ones are not", arguments: [
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true),
        ("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", true),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", false),
        ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false),
        ("00-00000000000000000000000000000000-b7ad6b7169203331-01", false),
        ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", false),
        ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", false),
        ("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", false),
        ("not a traceparent", false),
    ])
    func w3c(traceparent: String, valid: Bool) {
        let context = TraceContext.w3c(traceparent: traceparent, tracestate: "k=v")
        #expect((context != nil) == valid)
        if valid { #expect(context?["traceparent"] == traceparent && context?["tracestate"] == "k=v") }
    }
}
