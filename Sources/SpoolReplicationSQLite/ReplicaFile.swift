import Foundation
import SpoolCore
import SpoolReplication

/// A copy of a store file built from captured transactions: each page written at its place, the
/// file cut to the database's size after each transaction. Nothing else may have the file open
/// while it is written; a crash in the middle leaves it torn (a secondary guards against that
/// with its own journal).
public struct ReplicaFile: Sendable {
    /// The copy's path.
    public let path: String

    /// A copy at `path` (created empty when missing).
    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw SpoolError(.storeUnavailable, "cannot create replica \(path)")
            }
        }
    }

    /// Writes `transactions` in order and syncs the file.
    public func apply(_ transactions: [ReplicationTransaction]) throws {
        guard let file = FileHandle(forUpdatingAtPath: path) else { throw SpoolError(.storeUnavailable, "cannot write replica \(path)") }
        defer { try? file.close() }
        for transaction in transactions {
            guard let pageSize = transaction.pages.first?.bytes.count, pageSize > 0 else { continue }
            for page in transaction.pages {
                guard page.number > 0, page.bytes.count == pageSize else {
                    throw SpoolError(.invalidArgument, "transaction \(transaction.number): page \(page.number) has \(page.bytes.count) bytes, not \(pageSize)")
                }
                try file.seek(toOffset: UInt64(page.number - 1) * UInt64(pageSize))
                try file.write(contentsOf: page.bytes)
            }
            try file.truncate(atOffset: UInt64(transaction.databasePages) * UInt64(pageSize))
        }
        try file.synchronize()
    }
}
