import SpoolReplication
import Synchronization

/// What a secondary's connection received, in order, for the side that writes the copy.
enum Arrival: Sendable {
    /// A whole transaction whose checksum follows.
    case transaction(ReplicationTransaction)
    /// A snapshot begins.
    case beginSnapshot(position: ReplicationPosition, pageSize: UInt32, pages: UInt32)
    /// The snapshot's next pages, one after another.
    case snapshotPages([UInt8])
    /// The snapshot is whole and verified.
    case finishSnapshot(term: UInt64, position: ReplicationPosition)
    /// The connection ended (a fault, a refusal, a close): what came before it is written, nothing after.
    case end(any Error)

    /// The page bytes it holds.
    var bytes: Int {
        switch self {
        case .transaction(let transaction): transaction.pages.reduce(0) { $0 + $1.bytes.count }
        case .snapshotPages(let bytes): bytes.count
        default: 0
        }
    }
}

/// The queue between a secondary's reading side and the side that writes its copy: the writer
/// takes everything that arrived while it wrote the last batch, so the copy's syncs are shared by
/// as many transactions as arrive meanwhile (group commit); the reader waits while more than
/// ``limit`` bytes wait to be written.
final class ArrivalQueue: Sendable {
    private struct State {
        var items: [Arrival] = []
        var bytes = 0
        var taker: CheckedContinuation<[Arrival], Never>?
        var adders: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    /// The most page bytes waiting before the reader waits.
    let limit: Int
    private let state = Mutex(State())

    /// A queue holding at most about `limit` page bytes.
    init(limit: Int = 64 << 20) {
        self.limit = limit
    }

    /// Adds `arrival`; waits first while the queue is over its limit. Does nothing once closed.
    func add(_ arrival: Arrival) async {
        while state.withLock({ !$0.closed && $0.bytes > limit }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let wait = state.withLock { state -> Bool in
                    guard !state.closed, state.bytes > limit else { return false }
                    state.adders.append(continuation)
                    return true
                }
                if !wait { continuation.resume() }
            }
        }
        let taker = state.withLock { state -> (CheckedContinuation<[Arrival], Never>, [Arrival])? in
            guard !state.closed else { return nil }
            state.items.append(arrival)
            state.bytes += arrival.bytes
            guard let taker = state.taker else { return nil }
            state.taker = nil
            return (taker, takeAll(&state))
        }
        if let (taker, items) = taker { taker.resume(returning: items) }
    }

    /// Everything waiting, once something is; nothing once the queue is closed and empty.
    func take() async -> [Arrival] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[Arrival], Never>) in
            let ready = state.withLock { state -> ([Arrival], [CheckedContinuation<Void, Never>])? in
                guard state.closed || !state.items.isEmpty else {
                    // The next add (or close) resumes it with what it added.
                    state.taker = continuation
                    return nil
                }
                return takeAllReleasingAdders(&state)
            }
            if let (items, adders) = ready {
                for adder in adders { adder.resume() }
                continuation.resume(returning: items)
            }
        }
    }

    /// Everything waiting now (perhaps nothing), without waiting.
    func takeWaiting() -> [Arrival] {
        let (items, adders) = state.withLock { takeAllReleasingAdders(&$0) }
        for adder in adders { adder.resume() }
        return items
    }

    /// Everything waiting, and the adders that waited for room (to be resumed outside the lock).
    private func takeAllReleasingAdders(_ state: inout State) -> ([Arrival], [CheckedContinuation<Void, Never>]) {
        defer { state.adders = [] }
        return (takeAll(&state), state.adders)
    }

    /// Ends the queue: waiting adds and takes return, later ones do nothing.
    func close() {
        let (taker, adders) = state.withLock { state in
            state.closed = true
            defer {
                state.taker = nil
                state.adders = []
            }
            return (state.taker, state.adders)
        }
        taker?.resume(returning: [])
        for adder in adders { adder.resume() }
    }

    private func takeAll(_ state: inout State) -> [Arrival] {
        defer {
            state.items = []
            state.bytes = 0
        }
        return state.items
    }
}
