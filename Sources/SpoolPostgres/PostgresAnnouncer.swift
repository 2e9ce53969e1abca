import Logging
import PostgresNIO
import Synchronization

/// Decides how a store's own enqueues tell other processes' dispatchers which queues gained
/// jobs (a NOTIFY on the schema's channel), and sends the announcements that follow a commit.
///
/// A NOTIFY sent in the enqueue's own transaction holds PostgreSQL's notification lock, which is
/// one for the whole server, until that transaction's commit is on disk: every notifying commit
/// waits for the one before, so concurrent enqueues cannot share a disk sync. Measured on one
/// server, 16 connections each inserting a row: 11,376 commits/s without a NOTIFY, 3,816 with it
/// in the transaction, 8,041 with it in a statement after the commit (a transaction that only
/// notifies writes nothing to disk and holds the lock for a moment). A NOTIFY after the commit
/// costs a round trip of wake-up latency, though.
///
/// So an enqueue notifies in its own statement only when this store announced nothing for
/// `spacing` (``mayNotifyInStatement(folding:)``): sparse enqueues wake a dispatcher as soon as they
/// commit. Enqueues in between commit without the lock and are announced after their commit
/// (``announce(_:)``), merged: the queues wait while an announcement is being sent and until
/// twice `spacing` after the last began, then go together; an enqueue allowed to notify in its
/// statement meanwhile takes them into its own NOTIFY (``mayNotifyInStatement(folding:)``), so
/// that a steady producer's enqueues need no announcement statements of their own. An
/// announcement that fails (the connection lost) is dropped: the dispatchers it was for find the
/// jobs at their next poll.
final class PostgresAnnouncer: Sendable {
    private struct State {
        var waiting: Set<String> = []
        /// An announcement is waiting for its turn or being sent.
        var scheduled = false
        /// An announcement statement is being sent.
        var sending = false
        var closed = false
        /// When the last announcement began.
        var last: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let pool: PostgresPool
    private let channel: String
    private let logger: Logger
    private let spacing: Duration

    init(pool: PostgresPool, channel: String, spacing: Duration = .milliseconds(2), logger: Logger) {
        self.pool = pool
        self.channel = channel
        self.spacing = spacing
        self.logger = logger
    }

    /// Whether the enqueue about to run should send its NOTIFY in its own statement: `nil` when
    /// something was announced less than `spacing` ago or an announcement statement is being
    /// sent (then announce its queues after its commit); otherwise the queues its NOTIFY must
    /// name besides its own: with `folding`, those waiting to be announced, which it takes over
    /// (give them back with ``announce(_:)`` if the enqueue fails); without, none. The enqueue
    /// counts as an announcement from now on.
    func mayNotifyInStatement(folding: Bool) -> Set<String>? {
        state.withLock { state in
            let now = ContinuousClock.now
            guard !state.sending, state.last.map({ now >= $0 + spacing }) ?? true else { return nil }
            state.last = now
            guard folding else { return [] }
            defer { state.waiting = [] }
            return state.waiting
        }
    }

    /// Announces, after their commit, that `queues` gained available jobs: soon, merged with
    /// others, without waiting for it.
    func announce(_ queues: Set<String>) {
        guard !queues.isEmpty else { return }
        let start = state.withLock { state in
            guard !state.closed else { return false }
            state.waiting.formUnion(queues)
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if start { Task { await send() } }
    }

    /// Sends nothing more.
    func close() {
        state.withLock { $0.closed = true }
    }

    private func send() async {
        while true {
            // Twice the spacing after what began last: an enqueue allowed to notify in its
            // statement in between takes the waiting queues, so a steady producer's enqueues carry
            // the announcements and this sends none. The turn is not put off by enqueues that
            // notify without taking them (a steady stream of those would starve the queues).
            if let last = state.withLock({ $0.last }), ContinuousClock.now < last + spacing * 2 {
                try? await Task.sleep(until: last + spacing * 2)
            }
            let queues: [String]? = state.withLock { state in
                guard !state.waiting.isEmpty, !state.closed else {
                    state.scheduled = false
                    return nil
                }
                defer {
                    state.waiting = []
                    state.last = .now
                    state.sending = true
                }
                return state.waiting.sorted()
            }
            guard let queues else { return }
            defer { state.withLock { $0.sending = false } }
            let (channel, payloads, logger) = (channel, PostgresSchema.queuePayloads(queues), logger)
            do {
                try await pool.withConnection(onItsEventLoop: true) { connection in
                    for payload in payloads {
                        var binds = PostgresBindings()
                        binds.append(channel)
                        binds.append(payload)
                        _ = try await connection.rows(NotifyStatement.self, binds, logger: logger)
                    }
                }
            } catch {
                logger.debug("could not announce new jobs; other processes find them at their next poll",
                             metadata: ["queues": "\(queues.joined(separator: ","))", "error": "\(error)"])
            }
        }
    }
}
