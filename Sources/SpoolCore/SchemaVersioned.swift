/// The migrations a store's binary knows and those its database has applied.
public struct SchemaStatus: Sendable, Hashable {
    /// The migrations this build of Spool knows, in order.
    public var known: [String]
    /// The migrations the database has applied.
    public var applied: [String]

    /// Creates a status.
    public init(known: [String], applied: [String]) {
        self.known = known
        self.applied = applied
    }
}

/// A store with versioned migrations that can report them, for the status self-test.
public protocol SchemaVersioned: JobStore {
    /// Reads which migrations the database has applied now.
    func schemaStatus() async throws -> SchemaStatus
}
