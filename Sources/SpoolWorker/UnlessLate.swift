import Synchronization

/// `operation`'s value, or `nil` when `deadline` comes first. The operation runs in a task of
/// its own, which is cancelled when late but not awaited: a store call that ignores
/// cancellation (a server that stopped answering) cannot hold the caller past the deadline.
/// The wait ignores the caller's own cancellation, so a shutdown that follows a cancellation
/// still gets its store calls made.
func unlessLate<T: Sendable>(_ deadline: ContinuousClock.Instant,
                             _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    let answer = FirstAnswer<T?>()
    return try await withCheckedContinuation { continuation in
        answer.await(continuation)
        let work = Task {
            do { answer.give(.success(try await operation())) } catch { answer.give(.failure(error)) }
        }
        Task {
            while ContinuousClock.now < deadline, !answer.given {
                try? await Task.sleep(until: min(deadline, .now + .milliseconds(100)))
            }
            answer.give(.success(nil))
            work.cancel()
        }
    }.get()
}

/// The first of several answers to one waiter; the later ones are dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    private let waiter = Mutex<(continuation: CheckedContinuation<Result<T, any Error>, Never>?, given: Bool)>((nil, false))

    func await(_ continuation: CheckedContinuation<Result<T, any Error>, Never>) {
        waiter.withLock { $0.continuation = continuation }
    }

    var given: Bool { waiter.withLock(\.given) }

    func give(_ result: Result<T, any Error>) {
        let continuation = waiter.withLock { waiter -> CheckedContinuation<Result<T, any Error>, Never>? in
            guard !waiter.given else { return nil }
            waiter.given = true
            return waiter.continuation
        }
        continuation?.resume(returning: result)
    }
}
