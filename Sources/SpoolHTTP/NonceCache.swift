import Synchronization

/// The nonces a receiver has accepted within the signature window, bounded in memory: beyond
/// `capacity` the oldest are forgotten first (size the capacity above the requests a receiver
/// takes in one window; the count of nonces forgotten early is ``evictedEarly``).
final class NonceCache: Sendable {
    private struct State {
        var expiries: [String: Int64] = [:]
        var order: [(nonce: String, expiry: Int64)] = []
        var head = 0
        var evictedEarly = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Records `nonce` until `expiry` (Unix seconds); `false` when it is already recorded and
    /// not expired at `now`.
    func insert(_ nonce: String, expiry: Int64, now: Int64) -> Bool {
        state.withLock { state in
            while state.head < state.order.count, state.order[state.head].expiry <= now || state.expiries.count >= capacity {
                let (old, oldExpiry) = state.order[state.head]
                if state.expiries[old] == oldExpiry {
                    state.expiries[old] = nil
                    if oldExpiry > now { state.evictedEarly += 1 }
                }
                state.head += 1
            }
            if state.head > 1024, state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
            if let known = state.expiries[nonce], known > now { return false }
            state.expiries[nonce] = expiry
            state.order.append((nonce, expiry))
            return true
        }
    }

    /// How many nonces were forgotten before their expiry because the cache was full.
    var evictedEarly: Int { state.withLock(\.evictedEarly) }

    /// How many nonces are recorded.
    var count: Int { state.withLock { $0.expiries.count } }
}
