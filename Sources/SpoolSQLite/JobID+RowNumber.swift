import SpoolCore

/// The SQLite store's row numbers: a job's row number is its id's first 64 bits, so finding a
/// job by id needs no index of its own (migration 4).
extension JobID {
    /// The id's first 64 bits as a signed integer: the millisecond, version and counter of a
    /// version 7 id. Ordered like the ids, and unique among the ids one process makes.
    var sequenceKey: Int64 {
        withUnsafeBytes(of: uuid.uuid) { Int64(bitPattern: UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self))) }
    }

    /// Makes every id this process makes from now on order after the id whose row number is
    /// `key`: an insert that finds a row number taken (another process made an id in the same
    /// millisecond) skips past the highest one the store holds.
    static func skip(past key: Int64) {
        JobIDClock.shared.advance(pastMillis: UInt64(bitPattern: key) >> 16, counter: UInt64(bitPattern: key) & 0xFFF)
    }
}
