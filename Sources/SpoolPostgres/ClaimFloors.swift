import Foundation
import SpoolCore
import Synchronization

/// Where this process's next claim of each kind begins: the key (`[run_at, seq]`) of the first
/// job its last claim took (``PostgresSchema/finishAndClaimFunction(announcingEnds:tracing:plainCompletions:claimFloor:keyed:byKeyOnly:narrow:)``).
///
/// A claim and a completion each leave their job's old row version in the index of available
/// jobs until vacuum removes it, and a claim that begins at the front of the index steps over
/// every one of them: in a long drain that front grows by every job claimed since vacuum's last
/// pass over the table (a million of them cost each claim 3 ms). Jobs ahead of the first one a
/// claim took were claimed or locked by another claim, so the next claim may begin there.
///
/// What can come ahead of it later is a job made available with an earlier key: one enqueued
/// with a run time in the past, one whose claim rolled back, a paused queue's jobs when it
/// resumes, a due retry. So a claim looks from the front whenever its page from the floor comes
/// short of its limit or its call made due jobs available, whenever this store itself made such
/// a job available (``forget()``), and at least once every ``rescanInterval``: during a backlog a
/// job that another process made available with an earlier key is claimed within that time,
/// not necessarily before the jobs already waiting.
///
/// Only claims in FIFO order get a floor. By priority, every job enqueued with a more urgent
/// priority than the floor's would come ahead of it, and such a job must not wait behind a
/// backlog of less urgent ones for a second.
final class ClaimFloors: Sendable {
    /// The longest a claim of one kind goes without looking from the front of the index.
    static let rescanInterval = Duration.seconds(1)

    /// A kind of claim (in FIFO order): the queues it takes from.
    private struct Kind: Hashable {
        var queues: [String]?

        init(_ params: ClaimParams) { queues = params.queues }
    }

    private struct Floor {
        var key: [Int64]
        /// When a claim of this kind must next look from the front.
        var rescanAt: ContinuousClock.Instant
    }

    private let floors = Mutex<[Kind: Floor]>([:])

    /// The floor for a claim of `params`' kind, or `nil` when it must look from the front.
    func floor(for params: ClaimParams, now: ContinuousClock.Instant = .now) -> [Int64]? {
        guard params.policy == .fifo else { return nil }
        let kind = Kind(params)
        return floors.withLock { floors in
            guard let floor = floors[kind], floor.rescanAt > now else { return nil }
            return floor.key
        }
    }

    /// Records a claim of `params`' kind that began at `floor` (`nil`: the front) and took a
    /// first job of policy-order key `first` (`nil`: it took none).
    func record(first: [Int64]?, for params: ClaimParams, from floor: [Int64]?, now: ContinuousClock.Instant = .now) {
        guard params.policy == .fifo else { return }
        let kind = Kind(params)
        floors.withLock { floors in
            guard let first else {
                floors[kind] = nil
                return
            }
            let rescanAt = floor == nil ? now + Self.rescanInterval : floors[kind]?.rescanAt ?? now + Self.rescanInterval
            floors[kind] = Floor(key: first, rescanAt: rescanAt)
        }
    }

    /// Makes every next claim look from the front: this store made a job available that may
    /// come ahead of a floor.
    func forget() {
        floors.withLock { $0.removeAll() }
    }
}
