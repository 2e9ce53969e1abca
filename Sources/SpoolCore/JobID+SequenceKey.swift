/// The stores' keys for jobs: a job's key (`seq`) is its id's first 64 bits, so finding a job by
/// its id needs no index of the id, and an insert or update writes one index entry fewer.
extension JobID {
    /// The id's first 64 bits as a signed integer: the millisecond, version and counter of a
    /// version 7 id. Ordered like the ids, and unique among the ids one process makes; ids that
    /// other processes made in the same millisecond may share it.
    public var sequenceKey: Int64 {
        withUnsafeBytes(of: uuid.uuid) { Int64(bitPattern: UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self))) }
    }

    /// Makes every id this process makes from now on order after the id whose key is `key`: an
    /// insert that finds a key taken (another process made an id in the same millisecond) skips
    /// past the highest key the store holds, and gives the job a new id.
    public static func skip(past key: Int64) {
        JobIDClock.shared.advance(pastMillis: UInt64(bitPattern: key) >> 16, counter: UInt64(bitPattern: key) & 0xFFF)
    }
}
