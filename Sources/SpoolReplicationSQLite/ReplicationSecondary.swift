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
/// Applying is crash-safe: the transactions of one batch go first to a journal
/// (`PATH-replication-journal`, the protocol's own frames) synced to disk, then into the copy,
/// then the position (`PATH-replication`, transaction number and checksum) is replaced; a
/// secondary that starts with a journal left behind applies what of it is whole and follows its
/// position. A snapshot is written aside and replaces the copy once whole and verified
/// (``SnapshotFile``). Nothing else may write the copy; reading it while transactions are
/// applied is not yet safe.
public final class ReplicationSecondary: Sendable {
    /// The copy of the store.
    public let path: String
    /// The primary.
    public let primary: (host: String, port: Int)
    /// How long the primary may say nothing (it sends keep-alives) before the connection is dropped.
    public let silence: Duration
    private let replica: ReplicaFile
    private let positionFile: PositionFile
    private let durable: Mutex<ReplicationPosition>
    private let logger: Logger

    /// A secondary keeping `path` a copy of the primary at `host`:`port`; finishes what a
    /// crash left in its journal first.
    public init(path: String, primaryHost host: String, port: Int, silence: Duration = .seconds(15),
                logger: Logger = Logger(label: "spool.replication")) throws {
        self.path = path
        primary = (host, port)
        self.silence = silence
        self.logger = logger
        replica = try ReplicaFile(path: path)
        positionFile = PositionFile(path: path + "-replication")
        durable = Mutex(try SnapshotFile.recover(path: path, position: try positionFile.read(), positionFile: positionFile))
        try recover()
    }

    /// The last transaction applied.
    public var position: ReplicationPosition { durable.withLock { $0 } }

    /// Follows the primary until the task is cancelled.
    public func run() async throws {
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
        let lastMessage = Atomic<Int64>(Self.now())
        let silence = Int64(self.silence.components.seconds) * 1_000_000_000 + self.silence.components.attoseconds / 1_000_000_000
        let channel = connection.channel
        let watchdog = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(max(1, silence / 3_000_000)))
                if Self.now() - lastMessage.load(ordering: .relaxed) > silence {
                    channel.close(promise: nil)
                    return
                }
            }
        }
        defer { watchdog.cancel() }
        try await connection.executeThenClose { inbound, outbound in
            var stream = SecondaryStream(position: position)
            var decoder = ReplicationDecoder()
            var snapshot: SnapshotFile?
            defer { snapshot?.discard() }
            try await outbound.write(ByteBuffer(bytes: stream.hello.frame))
            for try await bytes in inbound {
                decoder.feed(bytes.readableBytesView)
                var batch: [ReplicationTransaction] = []
                var frames: [UInt8] = []
                do {
                    while let message = try decoder.next() {
                        lastMessage.store(Self.now(), ordering: .relaxed)
                        switch try stream.receive(message) {
                        case .none: break
                        case .apply(let transaction):
                            batch.append(transaction)
                            frames += transaction.messages.flatMap(\.frame)
                        case let .beginSnapshot(at, pageSize, pages):
                            try apply(batch, frames: frames)   // what came before it, in order
                            (batch, frames) = ([], [])
                            logger.info("receiving a snapshot", metadata: ["transaction": "\(at.transaction)",
                                                                           "bytes": "\(UInt64(pages) * UInt64(pageSize))"])
                            snapshot = try SnapshotFile(for: path)
                        case .snapshotPage(_, let bytes):
                            try snapshot?.append(bytes)
                        case .finishSnapshot(let at):
                            try snapshot?.finish(at: at, positionFile: positionFile)
                            snapshot = nil
                            durable.withLock { $0 = at }
                            logger.info("snapshot in place", metadata: ["transaction": "\(at.transaction)"])
                        }
                    }
                } catch {
                    // What arrived whole before the fault is applied; the rest is not.
                    try apply(batch, frames: frames)
                    throw error
                }
                try apply(batch, frames: frames)
            }
            throw SpoolError(.storeUnavailable, "the connection closed (by the primary, or after \(self.silence) without a whole message)")
        }
    }

    private static func now() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds) }

    /// Journals, applies and records `batch`.
    private func apply(_ batch: [ReplicationTransaction], frames: [UInt8]) throws {
        guard let last = batch.last else { return }
        let journal = path + "-replication-journal"
        try PositionFile.writeSynced(Data(frames), to: journal)
        try replica.apply(batch)
        let position = ReplicationPosition(transaction: last.number, checksum: last.checksum)
        try positionFile.write(position)
        try FileManager.default.removeItem(atPath: journal)
        durable.withLock { $0 = position }
    }

    /// Applies what of a journal left by a crash is whole and follows the position.
    private func recover() throws {
        let journal = path + "-replication-journal"
        guard let data = FileManager.default.contents(atPath: journal) else { return }
        var stream = SecondaryStream(position: position)
        var decoder = ReplicationDecoder()
        decoder.feed(data)
        var whole: [ReplicationTransaction] = []
        while let message = try? decoder.next(), let action = try? stream.receive(message) {
            if case .apply(let transaction) = action { whole.append(transaction) }
        }
        if let last = whole.last {
            try replica.apply(whole)
            let position = ReplicationPosition(transaction: last.number, checksum: last.checksum)
            try positionFile.write(position)
            durable.withLock { $0 = position }
            logger.info("replication journal applied after a crash", metadata: ["transactions": "\(whole.count)"])
        }
        try FileManager.default.removeItem(atPath: journal)
    }
}
