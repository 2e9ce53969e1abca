import Foundation

/// The identity of a job: a UUID, time-ordered (version 7) when Spool creates it so that
/// stores index new jobs near each other.
public struct JobID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The underlying UUID.
    public let uuid: UUID

    /// Wraps an existing UUID.
    public init(_ uuid: UUID) { self.uuid = uuid }

    /// Parses the canonical textual form (`8-4-4-4-12` hexadecimal digits); `nil` when malformed.
    public init?(_ string: String) {
        guard let uuid = UUID(uuidString: string) else { return nil }
        self.uuid = uuid
    }

    /// A new version 7 UUID: 48 bits of Unix milliseconds from `date`, then random bits.
    public static func make<R: RandomNumberGenerator>(at date: Date, using random: inout R) -> JobID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let high = random.next() as UInt64
        let low = random.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - i))) }
        for i in 6..<8 { bytes[i] = UInt8(truncatingIfNeeded: high >> (8 * i)) }
        for i in 8..<16 { bytes[i] = UInt8(truncatingIfNeeded: low >> (8 * (i - 8))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return JobID(uuid)
    }

    /// A new time-ordered id for now, from the system random source.
    public static func make() -> JobID {
        var random = SystemRandomNumberGenerator()
        return make(at: Date(), using: &random)
    }

    /// The lowercase canonical form, as stores and the API write it.
    public var description: String { uuid.uuidString.lowercased() }

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
