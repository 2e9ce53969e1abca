import Foundation
import Synchronization

/// A store that keeps everything in memory, for unit tests and examples. It implements the
/// whole ``JobStore`` contract and passes the same conformance suite as the real stores.
public final class InMemoryJobStore: JobStore {
    struct State {
        var jobs: [JobID: Job] = [:]
        var sequence: [JobID: Int] = [:]
        var nextSequence = 0
        var paused: Set<String> = []
        var quotaSizes: [String: Int] = [:]
        var holders: [String: [JobID]] = [:]
        var dispatchers: [UUID: DispatcherInfo] = [:]
        var cronTicks: [String: Date] = [:]
        var random = SeededRandom()
    }

    let state = Mutex(State())

    public let events = StoreEvents()
    public let limits: JobLimits

    /// Creates an empty store.
    public init(limits: JobLimits = .default) {
        self.limits = limits
    }
}

extension InMemoryJobStore.State {
    mutating func releaseHolds(_ id: JobID) {
        for name in holders.keys { holders[name]?.removeAll { $0 == id } }
    }
}
