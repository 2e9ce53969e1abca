/// The migrations a store's binary knows and those its database has applied.
public struct SchemaStatus: Sendable, Hashable {
    /// The migrations this build of Spool knows, in order.
    public var known: [String]
    /// The migrations the database has applied, in the order of ``known``, then those this
    /// build does not know.
    public var applied: [String]

    /// Creates a status; `applied` may come in any order (a table sorted by id puts
    /// "10-…" before "2-…").
    public init(known: [String], applied: [String]) {
        self.known = known
        let position = Dictionary(known.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        func rank(_ entry: (offset: Int, element: String)) -> Int { position[entry.element] ?? known.count + entry.offset }
        self.applied = applied.enumerated().sorted { rank($0) < rank($1) }.map(\.element)
    }
}

/// A store with versioned migrations that can report them, for the status self-test.
public protocol SchemaVersioned: JobStore {
    /// Reads which migrations the database has applied now.
    func schemaStatus() async throws -> SchemaStatus
}
