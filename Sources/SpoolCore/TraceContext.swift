/// The trace context a job carries from the code that enqueued it to the dispatcher that runs
/// it: the entries a tracer's propagator writes (for W3C trace context, `traceparent` and
/// perhaps `tracestate`), kept in key order. Stores keep it as a JSON object's text; the job's
/// JSON has it as `traceContext` when it is not empty.
public struct TraceContext: Hashable, Sendable, Codable {
    /// The most entries kept.
    public static let maximumEntries = 8
    /// The longest key kept, in bytes.
    public static let maximumKeyBytes = 64
    /// The longest value kept, in bytes (a `tracestate` may hold 32 members).
    public static let maximumValueBytes = 1024

    /// One entry.
    public struct Entry: Hashable, Sendable {
        /// Its key (`traceparent`).
        public var key: String
        /// Its value.
        public var value: String
    }

    /// The entries, in key order.
    public private(set) var entries: [Entry]

    /// An empty context: the job continues no trace.
    public init() { entries = [] }

    /// A context of `values`, of which only what fits the bounds is kept (entries beyond
    /// ``maximumEntries``, keys or values too long, or holding control characters, are left out:
    /// a context comes from the network and is advisory).
    public init(_ values: [String: String]) {
        entries = values.filter { Self.acceptable($0.key, $0.value) }.sorted { $0.key < $1.key }
            .prefix(Self.maximumEntries).map { Entry(key: $0.key, value: $0.value) }
    }

    /// The context of a W3C `traceparent` (and `tracestate`), or `nil` when `traceparent` is not
    /// one: version, 32-digit trace id and 16-digit parent id (neither all zeros) and flags, in
    /// lowercase hex, version `ff` refused.
    public static func w3c(traceparent: String, tracestate: String? = nil) -> TraceContext? {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        let hex = Set("0123456789abcdef")
        guard parts.count >= 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.prefix(4).allSatisfy({ $0.allSatisfy(hex.contains) }), parts[0] != "ff", parts[0] != "00" || parts.count == 4,
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }) else { return nil }
        var values = ["traceparent": traceparent]
        if let tracestate, !tracestate.isEmpty { values["tracestate"] = tracestate }
        return TraceContext(values)
    }

    /// Whether it holds no entry.
    public var isEmpty: Bool { entries.isEmpty }

    /// The value of `key`, if any.
    public subscript(key: String) -> String? { entries.first { $0.key == key }?.value }

    /// The entries as a dictionary (for a tracer's extractor).
    public var values: [String: String] { Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }) }

    /// The context as stores keep it: a JSON object's text, `nil` when empty.
    public var storedText: String? {
        guard !entries.isEmpty else { return nil }
        var writer = JSONWriter(capacity: 128)
        write(to: &writer)
        return writer.text
    }

    /// Writes the context as a JSON object (its stored text, and its member of a job's JSON).
    public func write(to writer: inout JSONWriter) {
        writer.object { w in
            for entry in entries {
                w.member(entry.key); w.string(entry.value)
            }
        }
    }

    /// The context a store kept as ``storedText``; empty for `nil` or text that is not an
    /// object of strings.
    public init(storedText text: String?) {
        guard let text, case .object(let members)? = try? JSONValue.parse(text) else {
            self.init()
            return
        }
        var values: [String: String] = [:]
        for (key, value) in members {
            if case .string(let string) = value { values[key] = string }
        }
        self.init(values)
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([String: String].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    private static func acceptable(_ key: String, _ value: String) -> Bool {
        !key.isEmpty && key.utf8.count <= maximumKeyBytes && value.utf8.count <= maximumValueBytes
            && !(key + value).unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
