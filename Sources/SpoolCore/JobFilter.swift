import Foundation

/// Which jobs an agent takes: job-name patterns, tags, and any Swift predicate.
///
/// Name patterns and tags are alternatives: a job matches when its name matches one of `names`
/// or it carries one of `tags` (or when neither is given), and `predicate`, when given, returns
/// true for it.
public struct JobFilter: Sendable, CustomStringConvertible {
    /// Glob patterns over job names (`*` any run of characters, `?` one character).
    public var names: [String]
    /// Tags of which a job must carry at least one.
    public var tags: [String]
    /// Any further test, from the library.
    public var predicate: (@Sendable (Job) -> Bool)?

    /// A filter that takes every job.
    public static let any = JobFilter()

    /// Creates a filter.
    public init(names: [String] = [], tags: [String] = [], predicate: (@Sendable (Job) -> Bool)? = nil) {
        self.names = names
        self.tags = tags
        self.predicate = predicate
    }

    /// Parses the command-line form: comma-separated items, each a name pattern or `tag:T`.
    /// `*` or an empty string takes every job.
    public init(parsing text: String) throws {
        self.init()
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            if item.hasPrefix("tag:") {
                let tag = String(item.dropFirst(4))
                guard !tag.isEmpty else { throw SpoolError(.invalidArgument, "empty tag in agent filter '\(text)'") }
                tags.append(tag)
            } else if item != "*" {
                names.append(item)
            }
        }
    }

    /// Whether the filter takes `job`.
    public func matches(_ job: Job) -> Bool {
        if !names.isEmpty || !tags.isEmpty {
            guard names.contains(where: { Glob.matches($0, job.name) }) || tags.contains(where: job.tags.contains) else { return false }
        }
        return predicate?(job) ?? true
    }

    /// Whether the filter takes every job.
    public var isUnfiltered: Bool { names.isEmpty && tags.isEmpty && predicate == nil }

    /// The command-line form, with `+predicate` when a Swift predicate is set.
    public var description: String {
        var items = names + tags.map { "tag:\($0)" }
        if predicate != nil { items.append("+predicate") }
        return items.isEmpty ? "*" : items.joined(separator: ",")
    }
}

/// Shell-style glob matching over Unicode scalars: `*` and `?`.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
