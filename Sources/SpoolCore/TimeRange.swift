import Foundation

/// The times and durations Spool accepts from clients, and safe conversions of any number a
/// client or a store may hold into them: no value, however large or odd, may trap a process.
public enum TimeRange {
    /// The earliest `runAt` accepted: 1970-01-01 written with the largest offset ahead of UTC
    /// ISO 8601 allows here (just under a day), 1969-12-31T00:00:00Z.
    public static let earliest = Date(timeIntervalSince1970: -86_400)
    /// The latest `runAt` accepted: 9999-12-31 written with the largest offset behind UTC,
    /// 10000-01-01T23:59:59.999Z.
    public static let latest = Date(timeIntervalSince1970: 253_402_387_199.999)
    /// The longest duration accepted (`delay`, `timeout`, a sleep): 100 years, in seconds.
    public static let longestSeconds: Double = 3_155_760_000
    /// The shortest timeout accepted: one millisecond, the precision stores keep it in.
    public static let shortestTimeout: Double = 0.001

    /// Whether `date` is a `runAt` Spool accepts.
    public static func contains(_ date: Date) -> Bool { date >= earliest && date <= latest }

    /// The time `text` names, if it is ISO 8601 and its date as written lies from 1970-01-01 to
    /// 9999-12-31 (in whatever offset it is written).
    public static func runAt(_ text: String) -> Date? {
        guard let date = ISO8601.parse(text), let year = Int(text.prefix(4)), (1970...9999).contains(year) else { return nil }
        return date
    }

    /// Whether `seconds` is a duration Spool accepts: finite, from `minimum` (inclusive unless
    /// `positive`) to ``longestSeconds``.
    public static func accepts(seconds: Double, positive: Bool = false) -> Bool {
        seconds.isFinite && (positive ? seconds > 0 : seconds >= 0) && seconds <= longestSeconds
    }

    /// The rule for messages.
    public static let description = "an ISO 8601 time whose date, as written, is from 1970-01-01 to 9999-12-31"
}

extension Duration {
    /// `seconds` as a duration, clamped to ±``TimeRange/longestSeconds`` (NaN is zero): for
    /// numbers that were not checked, such as a stored timeout or a measured wait.
    public static func seconds(clamping seconds: Double) -> Duration {
        guard !seconds.isNaN else { return .zero }
        let bounded = min(max(seconds, -TimeRange.longestSeconds), TimeRange.longestSeconds)
        let whole = bounded.rounded(.towardZero)
        return .seconds(Int64(whole)) + .nanoseconds(Int64((bounded - whole) * 1e9))
    }

    /// The duration in whole nanoseconds, clamped to what `Int64` holds.
    public var clampedNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowAgain) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowAgain ? (seconds < 0 ? .min : .max) : sum
    }
}

extension Date {
    /// Whole microseconds since 1970, rounded, clamped to what `Int64` holds (about ±292,000
    /// years; NaN is zero): the form stores keep times in.
    public var clampedMicrosecondsSince1970: Int64 {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        guard !micros.isNaN else { return 0 }
        return micros >= 9.2e18 ? .max : micros <= -9.2e18 ? .min : Int64(micros)
    }
}
