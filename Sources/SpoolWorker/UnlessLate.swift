import SpoolCore

/// `operation`'s value, or `nil` when `deadline` comes first. The operation runs in a task of
/// its own, which is cancelled when late but not awaited: a store call that ignores
/// cancellation (a server that stopped answering) cannot hold the caller past the deadline.
/// The wait ignores the caller's own cancellation, so a shutdown that follows a cancellation
/// still gets its store calls made.
func unlessLate<T: Sendable>(_ deadline: ContinuousClock.Instant,
                             _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    let ended = Arrivals()
    let work = Task {
        defer { ended.signal() }
        return try await operation()
    }
    await Task { await ended.wait(after: 0, until: deadline) }.value
    guard ended.count > 0 else {
        work.cancel()
        return nil
    }
    return try await work.value
}
