/// Reads SQLite's write-ahead log as committed transactions, without I/O: it is handed the log's
/// bytes as they grow and says which transactions they complete.
///
/// The log is a 32-byte header (magic, format version, page size, checkpoint sequence, two salts,
/// a checksum) and frames of a 24-byte header (page number, the database's size in pages when
/// the frame commits a transaction and 0 otherwise, the salts, a checksum) and one page. Each
/// checksum runs over everything before it since the log's header, so a frame is part of the log
/// only when its salts are the header's and its checksum follows from the frame before it; the
/// first frame that is not ends the log (what follows is left from an earlier generation or an
/// unfinished write). A transaction is the frames up to and including a commit frame; a
/// transaction that writes a page twice keeps its last image.
public struct WALReader: Sendable {
    /// The log's header.
    public struct Header: Sendable, Hashable {
        /// The size of each page, in bytes.
        public var pageSize: Int
        /// How many times the connection that last restarted the log had restarted it (each
        /// connection counts its own restarts: not a count for the log).
        public var checkpointSequence: UInt32
        /// The salts every frame of this generation of the log carries; salt-1 grows by one at
        /// each restart, whichever connection makes it.
        public var salts: (UInt32, UInt32)
        /// Whether checksums read the log's words big-endian.
        public var bigEndianChecksums: Bool
        /// The header's checksum: where the frames' running checksum starts.
        public var checksum: (UInt32, UInt32)

        public static func == (left: Header, right: Header) -> Bool {
            left.pageSize == right.pageSize && left.checkpointSequence == right.checkpointSequence
                && left.salts == right.salts && left.bigEndianChecksums == right.bigEndianChecksums && left.checksum == right.checksum
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(salts.0)
            hasher.combine(salts.1)
            hasher.combine(checkpointSequence)
        }
    }

    /// The size of the log's header.
    public static let headerSize = 32
    /// The size of a frame's header.
    public static let frameHeaderSize = 24

    /// The header of the log generation being read.
    public let header: Header
    /// Where the next frame starts: just after the last frame of the last transaction returned.
    public private(set) var offset: Int
    /// Whether the last ``transactions(in:)`` stopped at a frame that is not this generation's
    /// (its salts or its checksum do not follow): the log ends there for now, and bytes after it
    /// (a longer log's stale frames, say) need not be read.
    public private(set) var reachedEnd = false
    private var checksum: (UInt32, UInt32)

    /// Reads `bytes` (at least the first 32 of the log) as a log header; `nil` when they are not
    /// a valid one (too short, a wrong magic number or version, a page size that is not a power
    /// of two from 512 to 65,536, or a checksum that does not match).
    public static func header(_ bytes: some Collection<UInt8>) -> Header? {
        let bytes = Array(bytes.prefix(headerSize))[...]
        guard bytes.count == headerSize else { return nil }
        let magic = word(bytes, 0, bigEndian: true)
        guard magic == 0x377f_0682 || magic == 0x377f_0683, word(bytes, 4, bigEndian: true) == 3_007_000 else { return nil }
        let bigEndian = magic == 0x377f_0683
        let rawPageSize = Int(word(bytes, 8, bigEndian: true))
        let pageSize = rawPageSize == 1 ? 65_536 : rawPageSize
        guard pageSize >= 512, pageSize <= 65_536, pageSize & (pageSize - 1) == 0 else { return nil }
        let sum = checksum(bytes[0..<24], from: (0, 0), bigEndian: bigEndian)
        guard sum.0 == word(bytes, 24, bigEndian: true), sum.1 == word(bytes, 28, bigEndian: true) else { return nil }
        return Header(pageSize: pageSize, checkpointSequence: word(bytes, 12, bigEndian: true),
                      salts: (word(bytes, 16, bigEndian: true), word(bytes, 20, bigEndian: true)),
                      bigEndianChecksums: bigEndian, checksum: sum)
    }

    /// A reader of the generation `header` starts, from its first frame.
    public init(header: Header) {
        self.header = header
        offset = Self.headerSize
        checksum = header.checksum
    }

    /// The whole transactions that `bytes` (the log's bytes from ``offset`` on) complete, in
    /// order; ``offset`` moves past them. Frames after the last commit are left to be read again
    /// with more bytes.
    public mutating func transactions(in bytes: some Collection<UInt8>) -> [WALTransaction] {
        let bytes = Array(bytes)[...]
        let frameSize = Self.frameHeaderSize + header.pageSize
        var transactions: [WALTransaction] = []
        var running = checksum
        var pending: [UInt32: Int] = [:]
        var order: [UInt32] = []
        var start = 0
        var position = 0
        reachedEnd = false
        while position + frameSize <= bytes.count {
            let frame = bytes[position..<(position + frameSize)]
            let base = frame.startIndex
            guard Self.word(bytes, base + 8, bigEndian: true) == header.salts.0,
                  Self.word(bytes, base + 12, bigEndian: true) == header.salts.1 else {
                reachedEnd = true
                break
            }
            var sum = Self.checksum(bytes[base..<(base + 8)], from: running, bigEndian: header.bigEndianChecksums)
            sum = Self.checksum(bytes[(base + Self.frameHeaderSize)..<(base + frameSize)], from: sum, bigEndian: header.bigEndianChecksums)
            guard sum.0 == Self.word(bytes, base + 16, bigEndian: true), sum.1 == Self.word(bytes, base + 20, bigEndian: true) else {
                reachedEnd = true
                break
            }
            running = sum
            let page = Self.word(bytes, base, bigEndian: true)
            if pending.updateValue(base + Self.frameHeaderSize, forKey: page) == nil { order.append(page) }
            position += frameSize
            let databasePages = Self.word(bytes, base + 4, bigEndian: true)
            if databasePages != 0 {
                transactions.append(WALTransaction(
                    pages: order.map { number in
                        let at = pending[number]!
                        return ReplicationTransaction.Page(number: number, bytes: Array(bytes[at..<(at + header.pageSize)]))
                    },
                    databasePages: databasePages))
                pending = [:]
                order = []
                start = position
                checksum = running
            }
        }
        offset += start
        return transactions
    }

    /// SQLite's log checksum: over pairs of 32-bit words, `s0 += x0 + s1; s1 += x1 + s0`. It runs
    /// over every byte the capture reads, so it loads whole words rather than assembling bytes.
    static func checksum(_ bytes: ArraySlice<UInt8>, from seed: (UInt32, UInt32), bigEndian: Bool) -> (UInt32, UInt32) {
        var (s0, s1) = seed
        bytes.withUnsafeBytes { raw in
            let end = raw.count & ~7
            var offset = 0
            while offset < end {
                let x0 = raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                let x1 = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                s0 = s0 &+ (bigEndian ? UInt32(bigEndian: x0) : UInt32(littleEndian: x0)) &+ s1
                s1 = s1 &+ (bigEndian ? UInt32(bigEndian: x1) : UInt32(littleEndian: x1)) &+ s0
                offset += 8
            }
        }
        return (s0, s1)
    }

    /// The 32-bit word at `at` (an index of `bytes`' base array).
    static func word(_ bytes: ArraySlice<UInt8>, _ at: Int, bigEndian: Bool) -> UInt32 {
        let b0 = UInt32(bytes[at]), b1 = UInt32(bytes[at + 1]), b2 = UInt32(bytes[at + 2]), b3 = UInt32(bytes[at + 3])
        return bigEndian ? b0 << 24 | b1 << 16 | b2 << 8 | b3 : b3 << 24 | b2 << 16 | b1 << 8 | b0
    }
}

/// One committed transaction as the log holds it: the pages it wrote (each once, its last
/// image, in the order first written) and the database's size in pages after it.
public struct WALTransaction: Sendable, Hashable {
    /// The pages.
    public var pages: [ReplicationTransaction.Page]
    /// The database's size in pages after the transaction.
    public var databasePages: UInt32

    /// A transaction of `pages` leaving the database `databasePages` long.
    public init(pages: [ReplicationTransaction.Page], databasePages: UInt32) {
        self.pages = pages
        self.databasePages = databasePages
    }
}
