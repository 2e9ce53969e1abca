/// A store whose calls cost less when they all come from one place, with a way to run code
/// there.
///
/// For PostgreSQL the place is an event loop of the store's connections: a call made there
/// uses a connection of that loop, so its statement goes out and its answer is read on the one
/// thread, and no other thread is woken for either. A task that makes one call after another
/// (a producer enqueueing jobs one at a time, each awaiting its commit) gains most; several
/// calls at once, or one call for many jobs, gain little.
public protocol AffineStore: JobStore {
    /// Runs `body` where this store's calls cost least, and returns what it returns.
    ///
    /// `body` shares that place with the store's own input and output: it must not block (no
    /// waiting on locks or files held for long, no long computation between calls).
    func withAffinity<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
}
