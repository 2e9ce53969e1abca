import Dispatch
import GRDB
import Synchronization

/// Group commit: every write submitted while a transaction is being written waits for the next
/// one, so many callers share one `BEGIN IMMEDIATE … COMMIT`. Each caller's operation runs in
/// its own savepoint, so one failing operation rolls back alone; each caller resumes only after
/// the shared commit is durable.
///
/// A write that finds the writer idle runs on its caller's thread instead: a lone caller that
/// awaits each write before the next pays no thread hand-off at all, and writes arriving
/// meanwhile queue for the writer thread as before.
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
    /// Whether an idle writer lets the caller commit on its own thread: only when commits do not
    /// sync to disk, so that no caller's thread waits for a sync.
    private let writesInline: Bool
    private let lockWaiting: LockWaiting

    /// The most operations one transaction carries; the rest wait for the next.
    private let maximumBatch = 2048

    init(writer: DatabasePool, checkpointer: Checkpointer, lockWaiting: LockWaiting, writesInline: Bool) {
        self.writer = writer
        self.checkpointer = checkpointer
        self.lockWaiting = lockWaiting
        self.writesInline = writesInline
    }

    /// Runs `operation` in a write transaction shared with other callers and returns its result
    /// once that transaction has committed.
    func write<T: Sendable>(_ operation: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if writesInline, let outcome = writeAlone(operation) { return try outcome.get() }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
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

    /// Commits `operation` in a transaction of its own on the caller's thread when no write is
    /// queued or being written, and when no other process holds the store's write lock; `nil`
    /// when the write must queue instead.
    private func writeAlone<T>(_ operation: (Database) throws -> T) -> Result<T, Error>? {
        let idle = state.withLock { state in
            guard !state.draining, state.pending.isEmpty else { return false }
            state.draining = true
            return true
        }
        guard idle else { return nil }
        defer {
            let more = state.withLock { state in
                if state.pending.isEmpty { state.draining = false }
                return !state.pending.isEmpty
            }
            if more { queue.async { self.drain() } }
        }
        let outcome: Result<T, Error>?
        do {
            outcome = try writer.writeWithoutTransaction { db -> Result<T, Error>? in
                do {
                    // Another process's lock is waited for on the writer thread, not here.
                    try lockWaiting.withoutWaiting { try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute() }
                } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                    return nil
                }
                let result = Result { try operation(db) }
                do {
                    try db.cachedStatement(sql: result.isSuccess ? "COMMIT" : "ROLLBACK").execute()
                } catch {
                    if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                    throw error
                }
                return result
            }
        } catch {
            return .failure(SQLiteStore.translate(error))
        }
        if case .some(.success) = outcome { checkpointer.committed() }
        return outcome
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

/// Whether the store's busy handler may wait for another process's write lock: not while a
/// caller tries to begin a transaction on its own thread.
final class LockWaiting: Sendable {
    private let refused = Atomic<Bool>(false)

    /// `false` while ``withoutWaiting(_:)`` runs.
    var allowed: Bool { !refused.load(ordering: .relaxed) }

    /// Runs `body` with lock waits refused.
    func withoutWaiting<T>(_ body: () throws -> T) rethrows -> T {
        refused.store(true, ordering: .relaxed)
        defer { refused.store(false, ordering: .relaxed) }
        return try body()
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
