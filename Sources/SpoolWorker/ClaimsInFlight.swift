import Foundation
import Synchronization

/// The claims a dispatcher has sent to the store whose jobs its agents have not yet taken in,
/// by the time each claim runs at. Every job the store shows held by this dispatcher that was
/// claimed before the oldest of them is either running in an agent or left behind (a claim's
/// answer or a finish was lost), which is what lets a ping tell the two apart.
final class ClaimsInFlight: Sendable {
    private struct State {
        var starts: [Int: Date] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    /// Records a claim running at `now`; pass the token to ``end(_:)`` once its jobs are in the agents.
    func begin(_ now: Date) -> Int {
        state.withLock { state in
            state.next += 1
            state.starts[state.next] = now
            return state.next
        }
    }

    func end(_ token: Int) { state.withLock { _ = $0.starts.removeValue(forKey: token) } }

    /// The time of the oldest claim in flight, or `now` when there is none.
    func oldest(orNow now: Date) -> Date {
        state.withLock { min($0.starts.values.min() ?? now, now) }
    }
}
