import Synchronization

/// Tells the ``TableQueue`` endpoints of one store instance which destination a message was just
/// published to, so a waiting receive looks at once instead of at its next poll. Only this
/// process's publishes are told; other processes' are found by polling.
final class PublishSignals: Sendable {
    private let waiters = Mutex<(next: Int, streams: [Int: AsyncStream<String>.Continuation])>((0, [:]))

    /// A stream of the destinations published to after this call; cancel the iterating task to end it.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(8))
        let key = waiters.withLock { state in
            state.next += 1
            state.streams[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            self?.waiters.withLock { _ = $0.streams.removeValue(forKey: key) }
        }
        return stream
    }

    /// Tells every subscriber that `destination` has new messages.
    func published(to destination: String) {
        for continuation in waiters.withLock({ Array($0.streams.values) }) { continuation.yield(destination) }
    }
}
