import Foundation
import Synchronization

/// The identity of a job: a UUID, time-ordered (version 7) when Spool creates it so that
/// stores index new jobs near each other.
public struct JobID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The underlying UUID.
    public let uuid: UUID

    /// Wraps an existing UUID.
    public init(_ uuid: UUID) { self.uuid = uuid }

    /// Parses the canonical textual form (`8-4-4-4-12` hexadecimal digits, either case);
    /// `nil` when malformed.
    public init?(_ string: String) {
        var text = string
        guard let bytes = text.withUTF8({ JobID.parse($0) }) else { return nil }
        self.uuid = UUID(uuid: bytes)
    }

    /// Parses the canonical textual form from its UTF-8 bytes; `nil` when malformed.
    public init?(canonicalUTF8 text: UnsafeBufferPointer<UInt8>) {
        guard let bytes = JobID.parse(text) else { return nil }
        self.uuid = UUID(uuid: bytes)
    }

    private static func parse(_ text: UnsafeBufferPointer<UInt8>) -> uuid_t? {
        guard text.count == 36 else { return nil }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let complete = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
            var index = 0
            for byte in 0..<16 {
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    guard text[index] == UInt8(ascii: "-") else { return false }
                    index += 1
                }
                guard let high = Hex.value(text[index]), let low = Hex.value(text[index + 1]) else { return false }
                out[byte] = high << 4 | low
                index += 2
            }
            return true
        }
        return complete ? bytes : nil
    }

    /// A new version 7 UUID: 48 bits of Unix milliseconds from `date`, a 12-bit counter, then
    /// random bits (RFC 9562, method 1).
    ///
    /// Ids made in one process are strictly increasing (see ``JobIDClock``), so their first 64
    /// bits (millisecond, version and counter) are unique within the process and ordered like
    /// the ids.
    public static func make<R: RandomNumberGenerator>(at date: Date, using random: inout R) -> JobID {
        let millis = UInt64(max(0, date.clampedMicrosecondsSince1970 / 1000))
        let (stamp, counter) = JobIDClock.shared.next(millis: millis, start: (random.next() as UInt64) & 0x1FF)
        let high = (stamp << 16) | 0x7000 | counter
        let low = ((random.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { out in
            out.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            out.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return JobID(UUID(uuid: bytes))
    }


    /// A new time-ordered id for now, from the system random source.
    public static func make() -> JobID {
        var random = SystemRandomNumberGenerator()
        return make(at: Date(), using: &random)
    }

    /// The lowercase canonical form, as stores and the API write it.
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { out in
            write(into: UnsafeMutableRawBufferPointer(out))
            return 36
        }
    }

    /// Calls `body` with the 36 bytes of the lowercase canonical form, without allocating.
    public func withCanonicalUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { buffer in
            write(into: UnsafeMutableRawBufferPointer(buffer))
            return try body(UnsafeBufferPointer(buffer))
        }
    }

    private func write(into out: UnsafeMutableRawBufferPointer) {
        let digits: StaticString = "0123456789abcdef"
        withUnsafeBytes(of: uuid.uuid) { bytes in
            var index = 0
            for offset in 0..<16 {
                if offset == 4 || offset == 6 || offset == 8 || offset == 10 {
                    out[index] = UInt8(ascii: "-")
                    index += 1
                }
                let byte = bytes[offset]
                out[index] = digits.utf8Start[Int(byte >> 4)]
                out[index + 1] = digits.utf8Start[Int(byte & 0x0F)]
                index += 2
            }
        }
    }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.description < rhs.description }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = JobID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid job id '\(text)'")
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The millisecond and counter of the last id this process made, which keeps the ids one
/// process makes strictly increasing: the counter starts at a random value below 512 in each
/// new millisecond and counts up within it; when it runs out, or when the clock is earlier than
/// an id already made, an id takes the millisecond after the last one.
public final class JobIDClock: Sendable {
    /// The clock every id of this process comes from.
    public static let shared = JobIDClock()

    private let last = Mutex<(millis: UInt64, counter: UInt64)>((0, 0))

    private init() {}

    /// The millisecond and counter of the next id, for a clock reading `millis` and a fresh
    /// millisecond's first counter `start`.
    func next(millis: UInt64, start: UInt64) -> (millis: UInt64, counter: UInt64) {
        last.withLock { last in
            if millis > last.millis {
                last = (millis, start)
            } else if last.counter < 0xFFF {
                last.counter += 1
            } else {
                last = (last.millis + 1, 0)
            }
            return last
        }
    }

    /// Makes every id this process makes from now on order after an id of millisecond `millis`
    /// and counter `counter` (another process's id, for instance, that a store found in its way).
    public func advance(pastMillis millis: UInt64, counter: UInt64) {
        last.withLock { last in
            if millis > last.millis || (millis == last.millis && counter > last.counter) { last = (millis, counter) }
        }
    }
}
