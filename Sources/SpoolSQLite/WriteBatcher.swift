import Dispatch
import GRDB
import Synchronization

/// Group commit: every write submitted while a transaction is being written waits for the next
/// one, so many callers share one `BEGIN IMMEDIATE … COMMIT`. Each caller's operation runs in
/// its own savepoint, so one failing operation rolls back alone; each caller resumes only after
/// the shared commit is durable.
final class WriteBatcher: Sendable {
    fileprivate struct Entry: Sendable {
        /// Runs the operation; `false` when it threw and its writes must be rolled back.
        let execute: @Sendable (Database) -> Bool
        let resume: @Sendable (Error?) -> Void
    }

    private struct State {
        var pending: [Entry] = []
        var draining = false
    }

    private let writer: DatabasePool
    private let checkpointer: Checkpointer
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "spool.sqlite.writer", qos: .userInitiated)

    /// The most operations one transaction carries; the rest wait for the next.
    private let maximumBatch = 2048

    init(writer: DatabasePool, checkpointer: Checkpointer) {
        self.writer = writer
        self.checkpointer = checkpointer
    }

    /// Runs `operation` in a write transaction shared with other callers and returns its result
    /// once that transaction has committed.
    func write<T: Sendable>(_ operation: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let box = ResultBox<T>()
            let entry = Entry(
                execute: { db in
                    let result = Result { try operation(db) }
                    box.result = result
                    if case .failure = result { return false }
                    return true
                },
                resume: { commitError in
                    if let commitError {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: box.result ?? .failure(CancellationError()))
                    }
                })
            let startDrain = state.withLock { state in
                state.pending.append(entry)
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain { queue.async { self.drain() } }
        }
    }

    private func drain() {
        while true {
            awaitNextWrite()
            let batch: [Entry] = state.withLock { state in
                if state.pending.isEmpty {
                    state.draining = false
                    return []
                }
                let count = min(state.pending.count, maximumBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            run(batch)
        }
    }

    /// Waits up to 50 µs for the next write before the writer thread parks: a caller that
    /// awaits each write before issuing the next comes back within that time, and catching it
    /// saves a thread wake-up per call.
    private func awaitNextWrite() {
        let deadline = DispatchTime.now().uptimeNanoseconds + 50_000
        while state.withLock({ $0.pending.isEmpty }), DispatchTime.now().uptimeNanoseconds < deadline {}
    }

    private func run(_ batch: [Entry]) {
        do {
            try writer.writeWithoutTransaction { db in
                // BEGIN and COMMIT from the statement cache: preparing them anew for every
                // transaction shows in the profile of one-job transactions.
                try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
                do {
                    if try apply(batch, db) {
                        try db.cachedStatement(sql: "COMMIT").execute()
                    } else {
                        try db.cachedStatement(sql: "ROLLBACK").execute()
                    }
                } catch {
                    if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                    throw error
                }
            }
        } catch {
            for entry in batch { entry.resume(SQLiteStore.translate(error)) }
            return
        }
        checkpointer.committed()
        for entry in batch { entry.resume(nil) }
    }
}

extension WriteBatcher {
    /// Runs the batch's operations, each in its own savepoint when there are several; `false`
    /// when a lone operation failed and its transaction must be rolled back.
    fileprivate func apply(_ batch: [Entry], _ db: Database) throws -> Bool {
        if batch.count == 1 { return batch[0].execute(db) }
        let savepoint = try db.cachedStatement(sql: "SAVEPOINT spool_op")
        let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT spool_op")
        for entry in batch {
            try savepoint.execute()
            if !entry.execute(db) {
                try db.execute(sql: "ROLLBACK TO SAVEPOINT spool_op")
            }
            try release.execute()
        }
        return true
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
