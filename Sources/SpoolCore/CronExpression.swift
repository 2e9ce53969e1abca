import Foundation

/// A cron schedule in UTC: five fields (minute hour day-of-month month day-of-week), or six with
/// seconds first. Each field takes `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n`, `a-b/n`.
/// Day-of-week runs 0–6 from Sunday (7 is Sunday too). When both day fields are restricted, a day
/// matching either runs, as in classic cron.
public struct CronExpression: Hashable, Sendable, CustomStringConvertible {
    let seconds: Set<Int>
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    /// The expression as written.
    public let description: String

    /// Parses an expression; throws a ``SpoolError`` naming the bad field.
    public init(_ text: String) throws {
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw SpoolError(.invalidArgument, "cron expression '\(text)' needs 5 or 6 fields, got \(fields.count)")
        }
        let all = fields.count == 6 ? fields : ["0"] + fields
        seconds = try Self.field(all[0], "second", 0...59, in: text)
        minutes = try Self.field(all[1], "minute", 0...59, in: text)
        hours = try Self.field(all[2], "hour", 0...23, in: text)
        daysOfMonth = try Self.field(all[3], "day of month", 1...31, in: text)
        months = try Self.field(all[4], "month", 1...12, in: text)
        daysOfWeek = Set(try Self.field(all[5], "day of week", 0...7, in: text).map { $0 % 7 })
        dayOfMonthRestricted = all[3] != "*"
        dayOfWeekRestricted = all[5] != "*"
        description = text
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, in expression: String) throws -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw bad(name, text, expression) }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1 else { throw bad(name, text, expression) }
                step = parsed
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                guard let low = Int(pieces[0][..<dash]), let high = Int(pieces[0][pieces[0].index(after: dash)...]),
                      low <= high, range.contains(low), range.contains(high) else { throw bad(name, text, expression) }
                span = low...high
            } else {
                guard let value = Int(pieces[0]), range.contains(value) else { throw bad(name, text, expression) }
                span = pieces.count == 2 ? value...range.upperBound : value...value
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values
    }

    private static func bad(_ name: String, _ field: String, _ expression: String) -> SpoolError {
        SpoolError(.invalidArgument, "cron expression '\(expression)': invalid \(name) field '\(field)'")
    }

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The first time strictly after `date` that the schedule fires, or `nil` when none falls
    /// within the next five years (such as February 30th).
    public func next(after date: Date) -> Date? {
        let calendar = Self.calendar
        var time = Date(timeIntervalSince1970: (date.timeIntervalSince1970 + 1).rounded(.down))
        let limit = date.addingTimeInterval(5 * 366 * 86_400)
        while time <= limit {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: time)
            let (year, month, day, hour, minute, second) = (c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            if !months.contains(month) {
                time = calendar.date(from: DateComponents(year: month == 12 ? year + 1 : year, month: month % 12 + 1, day: 1))!
            } else if !dayMatches(day: day, weekday: c.weekday! - 1) {
                time = calendar.date(from: DateComponents(year: year, month: month, day: day))!.addingTimeInterval(86_400)
            } else if !hours.contains(hour) {
                time = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour))!.addingTimeInterval(3600)
            } else if !minutes.contains(minute) {
                time = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute))!
                    .addingTimeInterval(60)
            } else if !seconds.contains(second) {
                time = time.addingTimeInterval(1)
            } else {
                return time
            }
        }
        return nil
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        case (true, false): daysOfMonth.contains(day)
        case (false, true): daysOfWeek.contains(weekday)
        case (false, false): true
        }
    }
}

/// A periodic job: on every tick of `expression`, exactly one dispatcher enqueues `job`, with
/// the tick as its run-at time.
public struct CronSchedule: Hashable, Sendable {
    /// The schedule's name, unique across the store.
    public var name: String
    /// When it fires.
    public var expression: CronExpression
    /// What it enqueues.
    public var job: NewJob

    /// Creates a schedule.
    public init(name: String, expression: CronExpression, job: NewJob) {
        self.name = name
        self.expression = expression
        self.job = job
    }

    /// Parses the command-line form `NAME=EXPRESSION=JOB[=PAYLOAD]`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, !parts[0].isEmpty, !parts[2].isEmpty else {
            throw SpoolError(.invalidArgument, "cron schedule '\(text)' must look like NAME=EXPRESSION=JOB[=PAYLOAD]")
        }
        let payload = parts.count == 4 ? try JSONPayload(validating: parts[3]) : .emptyObject
        self.init(name: parts[0], expression: try CronExpression(parts[1]), job: NewJob(name: parts[2], payload: payload))
    }
}
