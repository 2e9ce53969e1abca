import Foundation
import SpoolCore

/// Human tables and JSON documents on standard output.
enum Output {
    /// Prints `value` as pretty JSON with sorted keys.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
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

/// A dispatcher as `spool dispatchers --json` prints it.
struct DispatcherDocument: Encodable {
    let info: DispatcherInfo

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(info.id.uuidString.lowercased(), forKey: .id)
        try container.encode(info.host, forKey: .host)
        try container.encode(info.pid, forKey: .pid)
        try container.encode(info.state, forKey: .state)
        try container.encode(ISO8601.format(info.startedAt), forKey: .startedAt)
        try container.encode(ISO8601.format(info.lastPingAt), forKey: .lastPingAt)
        try container.encode(info.agents, forKey: .agents)
    }

    private enum CodingKeys: String, CodingKey { case id, host, pid, state, startedAt, lastPingAt, agents }
}

/// A queue as `spool queues list --json` prints it.
struct QueueDocument: Encodable {
    let name: String
    let paused: Bool
    let counts: [String: Int]

    init(_ info: QueueInfo) {
        name = info.name
        paused = info.paused
        counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, info.counts[$0] ?? 0) })
    }
}

/// A quota as `spool quotas list --json` prints it.
struct QuotaDocument: Encodable {
    let name: String
    let size: Int
    let running: [JobID]
    let filled: Bool

    init(_ info: QuotaInfo) {
        name = info.name
        size = info.size
        running = info.running
        filled = info.filled
    }
}
