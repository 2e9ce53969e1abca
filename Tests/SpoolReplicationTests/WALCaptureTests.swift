import Foundation
import SpoolCore
import SpoolReplication
@testable import SpoolReplicationSQLite
import SpoolTestSupport
import Testing

/// Capturing a store file written by other processes: every committed transaction, in order,
/// across the log's restarts, so that replaying them onto an empty file gives the same database.
@Suite("Replication: capturing the write-ahead log", .timeLimit(.minutes(3)))
struct WALCaptureTests {
    @Test("two writer processes and the capture's log restarts: the replayed file equals the store")
    func twoWritersAndRestarts() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("store.db")
        let capture = try WALCapture(path: path)
        let writers = try [SQLiteScripts.writer(path, name: "a", count: 400), SQLiteScripts.writer(path, name: "b", count: 400)]
        var captured: [ReplicationTransaction] = []
        var polls = 0
        while writers.contains(where: \.isRunning) {
            captured += try capture.poll()
            polls += 1
            if polls % 40 == 0 { captured += try capture.checkpoint() }
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(writers.allSatisfy { $0.terminationStatus == 0 })
        captured += try capture.checkpoint()
        captured += try capture.poll()
        #expect(captured.map(\.number) == Array(1...UInt64(captured.count)), "numbered in order without gaps")
        var checksum = ReplicationPosition.empty.checksum
        for transaction in captured {
            #expect(transaction.checksum == transaction.checksum(after: checksum))
            checksum = transaction.checksum
        }
        #expect(capture.position == ReplicationPosition(transaction: UInt64(captured.count), checksum: checksum))
        #expect(capture.logRestarts > 0, "the capture's checkpoints restarted the log")
        let replica = try ReplicaFile(path: directory.path("replica.db"))
        try replica.apply(captured)
        let expected = try await SQLiteScripts.content(path)
        #expect(expected.hasPrefix("ok\n") && expected.contains("\n"), "\(expected)")
        let replayed = try await SQLiteScripts.content(replica.path)
        #expect(replayed == expected)
    }

    @Test("commits random in their pages and sizes, shrinks included, merged as one read merges them: the copy ends the same, and a shrink or the size limit ends a merge", arguments: 1...20)
    func mergedCommits(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var size: UInt32 = 3
        var commits: [WALTransaction] = []
        for number in 1...UInt64(30) {
            size = Int.random(in: 0..<5, using: &random) == 0 ? UInt32(max(1, Int(size) - Int.random(in: 1..<4, using: &random))) : size + UInt32(Int.random(in: 0..<3, using: &random))
            var pages: [ReplicationTransaction.Page] = [ReplicationTransaction.Page(number: 1, bytes: ReplicaFileTests.page(512, 1, number))]
            for page in Set((0..<Int.random(in: 0..<4, using: &random)).map { _ in 2 + UInt32(Int.random(in: 0..<Int(max(size, 2)) - 1, using: &random)) }) where page <= size {
                pages.append(ReplicationTransaction.Page(number: page, bytes: ReplicaFileTests.page(512, page, number)))
            }
            commits.append(WALTransaction(pages: pages, databasePages: size))
        }
        let directory = try TemporaryDirectory()
        let single = try ReplicaFile(path: directory.path("single.db")), merged = try ReplicaFile(path: directory.path("merged.db"))
        let limited = try ReplicaFile(path: directory.path("limited.db"))
        func transaction(_ commit: WALTransaction, _ number: Int) -> ReplicationTransaction {
            ReplicationTransaction(number: UInt64(number), pages: commit.pages, databasePages: commit.databasePages, checksum: [])
        }
        var rest = commits[...]
        var previous: UInt32? = nil
        while !rest.isEmpty {
            let read = Array(rest.prefix(Int.random(in: 1...8, using: &random)))
            let together = WALCapture.merged(read, after: previous)
            let sizes = [previous] + read.map { Optional($0.databasePages) }
            // A new transaction begins after each commit that shrinks (or follows an unknown size), and nowhere else.
            let shrinks = read.indices.dropLast().filter { index in sizes[index].map { read[index].databasePages < $0 } ?? true }
            #expect(together.count == 1 + shrinks.count, "seed \(seed): \(sizes)")
            // With a limit of two pages, a merge also ends once it holds two or more.
            let small = WALCapture.merged(read, after: previous, maximumBytes: 1024)
            #expect(small.count >= together.count)
            for (offset, commit) in read.enumerated() { try single.apply([transaction(commit, offset)]) }
            for (offset, commit) in together.enumerated() { try merged.apply([transaction(commit, offset)]) }
            for (offset, commit) in small.enumerated() { try limited.apply([transaction(commit, offset)]) }
            let (one, all) = (try ReplicaFileTests.content(single.path), try ReplicaFileTests.content(merged.path))
            let bounded = try ReplicaFileTests.content(limited.path)
            let same = one == all && one == bounded
            #expect(same, "seed \(seed), \(rest.count) commits left")
            previous = read.last?.databasePages
            rest = rest.dropFirst(read.count)
        }
    }

    @Test("a merge ends once it holds its limit of page bytes")
    func mergeLimit() {
        let commits = (1...3).map { commit in
            WALTransaction(pages: [1, 2].map { ReplicationTransaction.Page(number: UInt32(commit * 2) + $0, bytes: ReplicaFileTests.page(512, 1, UInt64(commit))) },
                           databasePages: 10)
        }
        #expect(WALCapture.merged(commits, after: 10).map(\.pages.count) == [6])
        #expect(WALCapture.merged(commits, after: 10, maximumBytes: 2048).map(\.pages.count) == [4, 2])
        #expect(WALCapture.merged(commits, after: 10, maximumBytes: 1024).map(\.pages.count) == [2, 2, 2])
    }

    @Test("transactions far larger than a read of the log (64 KB, growing to 4 MB) are captured whole, between small ones")
    func largeTransactions() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("store.db")
        let writer = try SQLiteHandle(path: path, create: true)
        _ = try writer.text("PRAGMA journal_mode = WAL")
        try writer.execute("PRAGMA wal_autocheckpoint = 0")
        try writer.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)")
        let capture = try WALCapture(path: path)
        var captured = try capture.poll()
        let before = captured.count
        // Small, then 100 KB, 6 MB and 300 KB in one transaction each, then small again.
        for size in [10, 100_000, 6_000_000, 300_000, 10] {
            try writer.execute("INSERT INTO rows (body) VALUES (randomblob(\(size)))")
        }
        captured += try capture.poll()
        let sizes = captured.dropFirst(before).map(\.pages.count)
        #expect(sizes.count == 1, "the commits of one read, none shrinking the database, make one transaction: \(sizes)")
        let pages: Int = sizes.reduce(0, +)
        #expect(pages > 6_400_000 / 4096, "\(sizes)")
        let replica = try ReplicaFile(path: directory.path("replica.db"))
        try replica.apply(captured)
        #expect(try await SQLiteScripts.content(replica.path) == SQLiteScripts.content(path))
    }

    @Test("writers that checkpoint on their own: the capture either replays exactly or says the log restarted unseen, never wrong")
    func writersThatCheckpoint() async throws {
        var replayed = 0
        for round in 0..<4 {
            let directory = try TemporaryDirectory()
            let path = directory.path("store.db")
            let capture = try WALCapture(path: path)
            let writers = try [SQLiteScripts.writer(path, name: "a\(round)", count: 150, checkpointEvery: 5),
                               SQLiteScripts.writer(path, name: "b\(round)", count: 150, checkpointEvery: 5)]
            var captured: [ReplicationTransaction] = []
            var unseen: WALCaptureError?
            var polls = 0
            while writers.contains(where: \.isRunning) || unseen == nil && polls == 0 {
                do {
                    if unseen == nil {
                        captured += try capture.poll()
                        polls += 1
                        if polls % 10 == 0 { captured += try capture.checkpoint() }
                    }
                } catch let error as WALCaptureError {
                    unseen = error
                }
                try await Task.sleep(for: .milliseconds(1))
            }
            if unseen == nil {
                do {
                    captured += try capture.checkpoint()
                } catch let error as WALCaptureError {
                    unseen = error
                }
            }
            guard unseen == nil else { continue }
            let replica = try ReplicaFile(path: directory.path("replica.db"))
            try replica.apply(captured)
            let (copy, original) = (try await SQLiteScripts.content(replica.path), try await SQLiteScripts.content(path))
            #expect(copy == original, "round \(round): captured without a complaint, so it must be exact")
            replayed += 1
        }
        #expect(replayed > 0, "most rounds capture everything; a restart unseen is the exception")
    }
}

extension WALCaptureTests {
    @Test("a snapshot holds the file at its position while writers go on (no checkpoint copies into it); it and the transactions after it give the store")
    func snapshotThenFollow() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("store.db")
        _ = try await SQLiteScripts.writer(path, name: "before", count: 150).waitForExit()   // before any capture: only a snapshot has it
        let capture = try WALCapture(path: path, position: ReplicationPosition.empty.restarted(nonce: [1]))
        var captured = try capture.poll()
        let atSnapshot = try await SQLiteScripts.content(path)
        let (onTheWay, snapshot) = try capture.snapshot()
        captured += onTheWay
        #expect(captured.first { $0.number == snapshot.position.transaction }?.checksum == snapshot.position.checksum,
                "the snapshot stands at a captured transaction")
        let image = try snapshot.read(from: 1, count: snapshot.pages)
        #expect(image.count == Int(snapshot.pages) * Int(snapshot.pageSize))
        let writer = try SQLiteScripts.writer(path, name: "after", count: 150)
        while writer.isRunning {
            captured += try capture.poll()
            captured += try capture.checkpoint()
            try await Task.sleep(for: .milliseconds(5))
        }
        captured += try capture.checkpoint()
        #expect(try snapshot.read(from: 1, count: snapshot.pages) == image, "the snapshot still reads the same pages")
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(image.count)) == image,
                "no checkpoint copied the log into the file while the snapshot was held")
        let copy = directory.path("copy.db")
        try Data(image).write(to: URL(fileURLWithPath: copy))
        let snapshotContent = try await SQLiteScripts.content(copy)
        #expect(snapshotContent == atSnapshot, "the snapshot is the store as it was")
        try ReplicaFile(path: copy).apply(captured.filter { $0.number > snapshot.position.transaction })
        let (copied, store) = (try await SQLiteScripts.content(copy), try await SQLiteScripts.content(path))
        #expect(copied == store && store.hasPrefix("ok\n"), "the snapshot and what followed it make the store")
    }
}

/// The log reader on a real log: whole transactions only, and a damaged frame ends the log.
@Suite("Replication: reading the write-ahead log")
struct WALReaderTests {
    /// The log of a file into which a Python process committed 20 transactions, never copied back.
    static func log() async throws -> [UInt8] {
        let directory = try TemporaryDirectory()
        let path = directory.path("store.db")
        let capture = try WALCapture(path: path)   // holds the log open, so it stays whole
        let writer = try SQLiteScripts.writer(path, name: "w", count: 20)
        _ = await writer.waitForExit()
        _ = capture
        return Array(try Data(contentsOf: URL(fileURLWithPath: path + "-wal")))
    }

    @Test("a whole log gives every transaction; bytes cut inside a transaction give those before it, and the rest later")
    func wholeAndCut() async throws {
        let log = try await Self.log()
        guard let header = WALReader.header(log) else { Issue.record("no header"); return }
        var whole = WALReader(header: header)
        let all = whole.transactions(in: log[WALReader.headerSize...])
        #expect(all.count == 23, "the capture's table, the writer's two tables and its 20 commits: \(all.count)")
        #expect(whole.offset == log.count)
        var cut = WALReader(header: header)
        let frame = WALReader.frameHeaderSize + header.pageSize
        let first = cut.transactions(in: log[WALReader.headerSize..<(log.count - frame / 2)])
        #expect(first == Array(all.dropLast()), "the last transaction is left for later")
        let rest = cut.transactions(in: log[cut.offset...])
        #expect(rest == [all.last!])
    }

    @Test("a flipped byte in a frame ends the log there: nothing from that transaction on")
    func damaged() async throws {
        var log = try await Self.log()
        guard let header = WALReader.header(log) else { Issue.record("no header"); return }
        var whole = WALReader(header: header)
        let all = whole.transactions(in: log[WALReader.headerSize...])
        let frame = WALReader.frameHeaderSize + header.pageSize
        let middle = WALReader.headerSize + (log.count - WALReader.headerSize) / frame / 2 * frame + 100
        log[middle] ^= 0x40
        var reader = WALReader(header: header)
        let read = reader.transactions(in: log[WALReader.headerSize...])
        #expect(read.count < all.count && read == Array(all.prefix(read.count)), "\(read.count) of \(all.count)")
        #expect(WALReader.header(Array(log.prefix(20)) + Array(repeating: 0, count: 12)) == nil, "a damaged header is no header")
    }
}

extension WALCaptureTests {
    @Test("two connections restarting the log in turn write the same checkpoint sequence, and salt-1 one more each time: a restart is told by salt-1")
    func restartsByTwoConnections() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("store.db")
        let first = try SQLiteHandle(path: path, create: true)
        _ = try first.text("PRAGMA journal_mode = WAL")
        try first.execute("CREATE TABLE t (v INTEGER)")
        let second = try SQLiteHandle(path: path)
        func header() throws -> WALReader.Header {
            try #require(WALReader.header(try Data(contentsOf: URL(fileURLWithPath: path + "-wal")).prefix(WALReader.headerSize)))
        }
        // A connection's write restarts the log once every frame was copied back.
        func restart(by connection: SQLiteHandle) throws -> WALReader.Header {
            _ = try connection.integers("PRAGMA wal_checkpoint(PASSIVE)")
            try connection.execute("INSERT INTO t VALUES (1)")
            return try header()
        }
        let start = try header()
        let byFirst = try restart(by: first)
        let bySecond = try restart(by: second)
        #expect(byFirst.checkpointSequence == bySecond.checkpointSequence, "each connection counts its own restarts")
        #expect(WALCapture.restartedOnce(from: start, to: byFirst))
        #expect(WALCapture.restartedOnce(from: byFirst, to: bySecond))
        #expect(!WALCapture.restartedOnce(from: start, to: bySecond), "two restarts are not one")
    }
}
