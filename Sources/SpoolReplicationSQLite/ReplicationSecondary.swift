import Foundation
import Logging
import NIOCore
import NIOPosix
import SpoolCore
import SpoolReplication
import Synchronization

/// A secondary: connects to a primary, greets with its position, and applies each transaction
/// that arrives whole with a checksum that follows from its history (``SecondaryStream``) to its
/// copy of the store. After any failure (a refusal, a checksum mismatch, a lost or silent
/// connection) it reconnects with backoff and resumes from the last transaction it applied.
///
/// Applying is crash-safe: before a batch of transactions is written into the copy, the position
/// file (`PATH-replication`: transaction number and checksum) is replaced by one that also names
/// the batch's last transaction and the change counter the copy's page 1 will carry once the
/// batch is in (``PositionFile/Pending``); the copy's own write is atomic (``ReplicaFile``). A
/// secondary that starts after a crash stands at the batch's end if the copy carries that
/// counter, and where it stood before otherwise. So each batch writes its pages once into the
/// copy (besides the copy's journal of what they overwrite) and one small file. A snapshot is written aside and replaces the copy once whole and verified
/// (``SnapshotFile``). Nothing else may write the copy; other processes may read it with SQLite
/// at any time (``ReplicaFile``).
public final class ReplicationSecondary: Sendable {
    /// The copy of the store.
    public let path: String
    /// The primary.
    public let primary: (host: String, port: Int)
    /// How long the primary may say nothing (it sends keep-alives) before the connection is dropped.
    public let silence: Duration
    /// The least time from the start of one batch written into the copy to the start of the
    /// next: a batch costs a few syncs of the disk whatever it holds, so while transactions keep
    /// arriving they are gathered for this long and written together (a transaction arriving after
    /// a quiet spell is written at once).
    public let batchInterval: Duration
    /// The batch interval when none is given (`spool secondary --batch-ms`): 40 ms halved the
    /// batches of 20 ms under a W2 drain, within the lag's target (BENCHMARKS.md, "Replication").
    public static let defaultBatchInterval = Duration.milliseconds(40)
    private let replica: ReplicaFile
    private let positionFile: PositionFile
    private let durable: Mutex<PositionFile.Standing>
    private let logger: Logger
    /// The descriptor of `PATH-replication-follows`, locked while this secondary keeps the copy.
    private let lock: Int32
    /// What the current connection knows, for the status: whether there is one, the primary's
    /// last transaction, and when the primary captured the last transaction applied.
    private let live = Mutex<(connected: Bool, primaryLast: UInt64, appliedCapturedAt: UInt64)>((false, 0, 0))

    /// A secondary keeping `path` a copy of the primary at `host`:`port`; finishes what a
    /// crash left in its journal first.
    public init(path: String, primaryHost host: String, port: Int, silence: Duration = .seconds(15),
                batchInterval: Duration = defaultBatchInterval, logger: Logger = Logger(label: "spool.replication")) throws {
        self.path = path
        primary = (host, port)
        self.silence = silence
        self.batchInterval = batchInterval
        self.logger = logger
        replica = try ReplicaFile(path: path)
        // Spool's stores open a file with this read-only, naming the primary to write to; its
        // lock says a secondary keeps the copy (spool promote waits for it to stop).
        let follows = path + "-replication-follows"
        lock = open(follows, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw SpoolError(.storeUnavailable, "cannot write \(follows): \(String(cString: strerror(errno)))") }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            close(lock)
            throw SpoolError(.invalidState, "another spool secondary keeps \(path); stop it first")
        }
        do {
            _ = ftruncate(lock, 0)
            try ReplicaFile.writeAll(lock, Array("\(host):\(port)\n".utf8), at: 0, path: follows)
        } catch {
            close(lock)
            throw error
        }
        try Self.finishInterruptedWrite(path)
        positionFile = PositionFile(path: path + "-replication")
        let standing = try Self.standing(after: try positionFile.readRecord(), of: replica)
        durable = Mutex(try SnapshotFile.recover(path: path, standing: standing, positionFile: positionFile))
        // The journal of whole batches kept by secondaries before the pending write in the
        // position file: the position it would have moved to is simply streamed again.
        try? FileManager.default.removeItem(atPath: path + "-replication-journal")
    }

    /// Where the copy stands, from its position file as it was found (`nil`: none) and the
    /// copy's change counter, once an interrupted write of the copy was undone: at the pending
    /// batch's end if that write finished, where the file says otherwise.
    private static func standing(after record: (standing: PositionFile.Standing, pending: PositionFile.Pending?)?,
                                 of replica: ReplicaFile) throws -> PositionFile.Standing {
        guard let record else { return .none }
        guard let pending = record.pending, try replica.changeCounter() == pending.counter else { return record.standing }
        return PositionFile.Standing(term: record.standing.term, position: pending.position)
    }

    deinit { close(lock) }

    /// The last transaction applied.
    public var position: ReplicationPosition { durable.withLock { $0.position } }

    /// The term of the primary the copy came from (0 before its first snapshot).
    public var term: UInt64 { durable.withLock { $0.term } }

    /// How the secondary stands now (also written to `PATH-replication-status` every second
    /// while it runs).
    public var status: ReplicationStatus {
        let standing = durable.withLock { $0 }
        let live = live.withLock { $0 }
        let now = Date()
        return ReplicationStatus(role: "secondary", term: standing.term, transaction: standing.position.transaction,
                                 updatedAt: ISO8601.format(now), address: "\(primary.host):\(primary.port)", connected: live.connected,
                                 lag: ReplicationStatus.lag(primaryLast: max(live.primaryLast, standing.position.transaction),
                                                            applied: standing.position.transaction,
                                                            appliedCapturedAt: live.appliedCapturedAt, now: now))
    }

    /// Follows the primary until the task is cancelled.
    public func run() async throws {
        let reporter = Task { [self] in
            while !Task.isCancelled {
                StatusFile.write(status, of: path)
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer { reporter.cancel() }
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await follow()
                backoff = .milliseconds(100)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("replication connection ended; reconnecting", metadata: ["reason": "\(error)", "in": "\(backoff)"])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// One connection: greet, then apply what arrives until it ends. A connection on which no
    /// whole message arrived for ``silence`` is closed: the primary sends keep-alives, so bytes
    /// that never make a message (a damaged length, say) mean the stream is lost.
    private func follow() async throws {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: primary.host, port: primary.port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let lastMessage = Heard()
        let silence = Int64(self.silence.components.seconds) * 1_000_000_000 + self.silence.components.attoseconds / 1_000_000_000
        let channel = connection.channel
        let watchdog = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(max(1, silence / 3_000_000)))
                if Self.now() - lastMessage.at.load(ordering: .relaxed) > silence {
                    channel.close(promise: nil)
                    return
                }
            }
        }
        defer {
            watchdog.cancel()
            live.withLock { $0.connected = false }
        }
        let standing = durable.withLock { $0 }
        let queue = ArrivalQueue()
        let snapshot = SnapshotSlot()
        defer { snapshot.discard() }
        try await withTaskCancellationHandler {
            try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: SecondaryStream(position: standing.position, term: standing.term).hello.frame))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Reading: whole transactions (and snapshot pages) go to the queue in order;
                    // whatever ends the connection goes last.
                    group.addTask { [self] in
                        var stream = SecondaryStream(position: standing.position, term: standing.term)
                        var decoder = ReplicationDecoder()
                        // Snapshot pages go to the queue a megabyte at a time, not one by one.
                        var pages: [UInt8] = []
                        do {
                            for try await bytes in inbound {
                                decoder.feed(bytes.readableBytesView)
                                while let message = try decoder.next() {
                                    lastMessage.at.store(Self.now(), ordering: .relaxed)
                                    let action = try stream.receive(message)
                                    if case .snapshotPage(_, let bytes) = action {
                                        if pages.isEmpty { pages.reserveCapacity(SequentialFile.blockSize + bytes.count) }
                                        pages += bytes
                                        guard pages.count >= SequentialFile.blockSize else { continue }
                                    }
                                    if !pages.isEmpty {
                                        await queue.add(.snapshotPages(pages))
                                        pages = []
                                    }
                                    switch action {
                                    case .none, .snapshotPage: break
                                    case .apply(let transaction): await queue.add(.transaction(transaction))
                                    case let .beginSnapshot(at, pageSize, pages): await queue.add(.beginSnapshot(position: at, pageSize: pageSize, pages: pages))
                                    case let .finishSnapshot(term, at): await queue.add(.finishSnapshot(term: term, position: at))
                                    }
                                }
                                let primaryLast = stream.primaryLast
                                live.withLock { $0.connected = true; $0.primaryLast = primaryLast }
                            }
                            await queue.add(.end(SpoolError(.storeUnavailable, "the connection closed (by the primary, or after \(self.silence) without a whole message)")))
                        } catch {
                            await queue.add(.end(error))
                        }
                    }
                    defer {
                        queue.close()
                        channel.close(promise: nil)
                    }
                    // Writing: everything that arrived while the last batch was written, and
                    // until a batch interval from its start, as one batch, off Swift
                    // concurrency's threads (it syncs the disk).
                    var reported = standing.position.transaction
                    var lastStart = ContinuousClock.now - batchInterval
                    while true {
                        var arrivals = await queue.take()
                        guard !arrivals.isEmpty else { throw CancellationError() }
                        if ContinuousClock.now < lastStart + batchInterval {
                            try? await Task.sleep(until: lastStart + batchInterval)
                            arrivals += queue.takeWaiting()
                        }
                        lastStart = ContinuousClock.now
                        let batch = arrivals
                        let ended = try await NIOThreadPool.singleton.runIfActive { [self] in try write(batch, snapshot: snapshot) }
                        let applied = position.transaction
                        if applied != reported {
                            try await outbound.write(ByteBuffer(bytes: ReplicationMessage.applied(transaction: applied).frame))
                            reported = applied
                        }
                        if let ended { throw ended }
                    }
                }
            }
        } onCancel: {
            queue.close()
            channel.close(promise: nil)
        }
    }

    /// Writes `arrivals` in order: each run of transactions as one batch, snapshots aside until
    /// whole. Returns what ended the connection, if it came among them.
    private func write(_ arrivals: [Arrival], snapshot: SnapshotSlot) throws -> (any Error)? {
        var batch: [ReplicationTransaction] = []
        for arrival in arrivals {
            if case .transaction(let transaction) = arrival {
                batch.append(transaction)
                continue
            }
            try apply(batch)   // what came before it, in order
            batch = []
            switch arrival {
            case .transaction: break
            case let .beginSnapshot(at, pageSize, pages):
                logger.info("receiving a snapshot", metadata: ["transaction": "\(at.transaction)", "bytes": "\(UInt64(pages) * UInt64(pageSize))"])
                try snapshot.begin(for: path)
            case .snapshotPages(let bytes):
                try snapshot.append(bytes)
            case let .finishSnapshot(term, at):
                let standing = PositionFile.Standing(term: term, position: at)
                try snapshot.finish(at: standing, positionFile: positionFile)
                durable.withLock { $0 = standing }
                live.withLock { $0.appliedCapturedAt = 0 }
                logger.info("snapshot in place", metadata: ["transaction": "\(at.transaction)", "term": "\(term)"])
            case .end(let error):
                return error
            }
        }
        try apply(batch)
        return nil
    }

    private static func now() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds) }

    /// When a connection last received a whole message (``now()``).
    private final class Heard: Sendable {
        let at = Atomic<Int64>(ReplicationSecondary.now())
    }

    /// Records the batch as pending, writes it into the copy, and stands at its end.
    private func apply(_ batch: [ReplicationTransaction]) throws {
        guard let last = batch.last else { return }
        let before = durable.withLock { $0 }
        let after = ReplicationPosition(transaction: last.number, checksum: last.checksum)
        try positionFile.write(before, pending: .init(position: after, counter: try replica.changeCounter() &+ 1))
        try replica.apply(batch)
        durable.withLock { $0 = PositionFile.Standing(term: before.term, position: after) }
        live.withLock { $0.appliedCapturedAt = last.capturedAt }
    }

    /// Makes the copy at `path` the store of a primary at the next term: once no secondary keeps
    /// it, what a crash left is finished as a starting secondary would, the store switches to WAL
    /// mode, the new term and the copy's position are recorded for `spool replicate`
    /// (`PATH-replication-primary`), and the copy stops being one (Spool opens it read-write
    /// again). Returns the new term and the position the primary goes on from.
    public static func promote(path: String) throws -> (term: UInt64, position: ReplicationPosition) {
        guard let text = try? String(contentsOfFile: path + "-replication-follows", encoding: .utf8) else {
            throw SpoolError(.invalidState, "\(path) is not a copy kept by spool secondary (it has no \(path)-replication-follows)")
        }
        let address = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let separator = address.lastIndex(of: ":") ?? address.endIndex
        let copy = try ReplicationSecondary(path: path, primaryHost: String(address[..<separator]),
                                            port: Int(address[separator...].dropFirst()) ?? 0)
        let standing = copy.durable.withLock { $0 }
        guard standing.term > 0 else {
            throw SpoolError(.invalidState, "\(path) has not received its primary's snapshot yet: there is nothing to promote")
        }
        let mode = try SQLiteHandle(path: path).text("PRAGMA journal_mode = WAL")
        guard mode?.lowercased() == "wal" else { throw SpoolError(.storeUnavailable, "cannot switch \(path) to WAL mode (it says \(mode ?? "nothing"))") }
        let promoted = PositionFile.Standing(term: standing.term + 1, position: standing.position)
        try PositionFile(path: path + "-replication-primary").write(promoted)
        try FileManager.default.removeItem(atPath: path + "-replication-follows")
        try? FileManager.default.removeItem(atPath: path + "-replication")
        return (promoted.term, promoted.position)
    }

    /// Lets SQLite play back the hot journal a write cut short by a crash left (see
    /// ``ReplicaFile``), so the copy is as it was before that write. A journal whose first byte
    /// is zero (kept from a committed write) is not hot.
    private static func finishInterruptedWrite(_ path: String) throws {
        guard let journal = FileHandle(forReadingAtPath: path + "-journal") else { return }
        let first = try journal.read(upToCount: 1)
        try journal.close()
        guard let first, first.first != 0 else { return }
        let connection = try SQLiteHandle(path: path)
        _ = try connection.integers("SELECT count(*) FROM sqlite_schema")
    }
}
