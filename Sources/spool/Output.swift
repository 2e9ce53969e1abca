import Foundation
import SpoolCore

/// Human tables and JSON documents on standard output.
enum Output {
    /// Prints `value` as pretty JSON with sorted keys.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Empty collections on one line, as `[]` and `{}`, not over three (a raw line break is
        // never inside a JSON string, so this touches nothing else).
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
            .replacingOccurrences(of: #"\[\n\s*\n\s*\]"#, with: "[]", options: .regularExpression)
            .replacingOccurrences(of: #"\{\n\s*\n\s*\}"#, with: "{}", options: .regularExpression)
        print(text)
    }

    /// Prints rows under a header, each column as wide as its widest cell.
    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    /// A short local rendering of a time relative to now, such as `3s ago` or `in 2m`.
    static func relative(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let seconds = date.timeIntervalSince(now)
        let magnitude = abs(seconds)
        let text = magnitude < 1 ? "now" : magnitude < 120 ? "\(Int(magnitude))s" : magnitude < 7200 ? "\(Int(magnitude / 60))m"
            : magnitude < 172_800 ? "\(Int(magnitude / 3600))h" : "\(Int(magnitude / 86_400))d"
        if text == "now" { return text }
        return seconds < 0 ? "\(text) ago" : "in \(text)"
    }
}

/// The duration option `name` (such as `--wait`) gives in seconds, refused unless it is a
/// positive number of seconds Spool accepts (up to ``TimeRange/longestSeconds``).
func duration(_ seconds: Double, _ name: String) throws -> Duration {
    guard TimeRange.accepts(seconds: seconds, positive: true) else {
        throw SpoolError(.invalidArgument, "\(name) must be a positive number of seconds up to \(Int(TimeRange.longestSeconds))")
    }
    return .seconds(clamping: seconds)
}

/// The duration option `name` gives in seconds where zero is allowed (such as `--grace`),
/// refused unless it is a finite number of seconds, zero or more.
func nonNegativeDuration(_ seconds: Double, _ name: String) throws -> Duration {
    guard seconds.isFinite, seconds >= 0 else { throw SpoolError(.invalidArgument, "\(name) must be a non-negative number of seconds") }
    return .seconds(clamping: seconds)
}

/// An optional wait given as option `name`, checked as ``duration(_:_:)`` checks.
func waitLimit(_ seconds: Double?, _ name: String) throws -> Duration? {
    try seconds.map { try duration($0, name) }
}
