import Foundation

/// ISO 8601 UTC times with milliseconds, the one time format of Spool's JSON.
public enum ISO8601 {
    /// Formats `date` as `2026-11-23T19:08:30.123Z` (milliseconds truncated), for years 0 to 9999.
    public static func format(_ date: Date) -> String { format(date, microseconds: false) }

    /// Formats `date` as `2026-11-23T19:08:30.123456Z`, to the microsecond, for years 0 to 9999.
    public static func formatMicroseconds(_ date: Date) -> String { format(date, microseconds: true) }

    private static func format(_ date: Date, microseconds: Bool) -> String {
        // Years outside 0 to 9999 are written clamped to them.
        let micros = min(max(date.clampedMicrosecondsSince1970, -62_167_219_200_000_000), 253_402_300_799_999_999)
        let unit: Int64 = microseconds ? 1 : 1000, perSecond = 1_000_000 / unit, perDay = 86_400 * perSecond
        // To the microsecond first, so a binary fraction just under a millisecond is not truncated.
        let ticks = micros >= 0 ? micros / unit : -((-micros + unit - 1) / unit)
        let (days, dayTicks) = ticks.quotientAndRemainder(dividingBy: perDay)
        let (day, time) = dayTicks < 0 ? (days - 1, dayTicks + perDay) : (days, dayTicks)
        let (year, month, dayOfMonth) = civil(fromDays: day)
        let fraction = microseconds ? 6 : 3
        var bytes = Array("0000-00-00T00:00:00.".utf8) + Array(repeating: UInt8(ascii: "0"), count: fraction) + [UInt8(ascii: "Z")]
        func put(_ value: Int64, at offset: Int, width: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                value /= 10
            }
        }
        let seconds = time / perSecond
        put(year, at: 0, width: 4)
        put(month, at: 5, width: 2)
        put(dayOfMonth, at: 8, width: 2)
        put(seconds / 3600, at: 11, width: 2)
        put(seconds / 60 % 60, at: 14, width: 2)
        put(seconds % 60, at: 17, width: 2)
        put(time % perSecond, at: 20, width: fraction)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The proleptic Gregorian year, month and day of `days` since 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`).
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    private static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Parses an ISO 8601 time, `YYYY-MM-DDTHH:MM:SS[.fraction]` followed by `Z` or an offset
    /// `±HH:MM`, in the proleptic Gregorian calendar for every year from 0000 to 9999, to the
    /// microsecond; `nil` when malformed or impossible (such as February 30).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 48, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count, !range.isEmpty else { return nil }
            var value: Int64 = 0
            for index in range {
                let digit = bytes[index] &- 0x30
                guard digit < 10 else { return nil }
                value = value * 10 + Int64(digit)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), day >= 1, hour < 24, minute < 60, second < 60 else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[Int(month - 1)] else { return nil }
        var index = 19, micros: Int64 = 0
        if bytes[index] == UInt8(ascii: ".") {
            let start = index + 1
            index = start
            while index < bytes.count, bytes[index] &- 0x30 < 10 { index += 1 }
            guard index > start, let digits = number(start..<min(index, start + 6)) else { return nil }
            var scaled = digits
            for _ in 0..<(6 - min(index - start, 6)) { scaled *= 10 }
            micros = scaled
        }
        guard index < bytes.count else { return nil }
        var offset: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    static func decode<K: CodingKey>(_ container: KeyedDecodingContainer<K>, forKey key: K) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "invalid ISO 8601 time '\(text)'")
        }
        return date
    }

    static func decodeIfPresent<K: CodingKey>(_ container: KeyedDecodingContainer<K>, forKey key: K) throws -> Date? {
        guard container.contains(key), try !container.decodeNil(forKey: key) else { return nil }
        return try decode(container, forKey: key)
    }
}
