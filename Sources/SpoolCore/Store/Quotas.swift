/// A quota with its size and the jobs that use it now.
public struct QuotaInfo: Hashable, Sendable {
    /// The quota's name.
    public var name: String
    /// How many jobs naming it may run at once.
    public var size: Int
    /// The running jobs that name it.
    public var running: [JobID]
    /// Whether no further job naming it may start.
    public var filled: Bool { running.count >= size }

    /// Creates a quota record.
    public init(name: String, size: Int, running: [JobID]) {
        self.name = name
        self.size = size
        self.running = running
    }
}

/// The quota arithmetic of one claim: which quotas exist, how full each is, and whether a job
/// fits. Every store runs its candidates through it so that the quota rules are written once.
public struct QuotaLedger: Sendable {
    private var sizes: [String: Int]
    private var running: [String: Int]

    /// Starts from the existing quotas' sizes and their running counts.
    public init(sizes: [String: Int], running: [String: Int]) {
        self.sizes = sizes
        self.running = running
    }

    /// The quotas with no room left.
    public var filled: Set<String> {
        Set(sizes.compactMap { name, size in (running[name] ?? 0) >= size ? name : nil })
    }

    /// Whether a job naming `quotas` fits: each existing quota has room; names of removed
    /// quotas are ignored. When it fits, its place is taken in each, and the names it holds
    /// are returned; otherwise `nil`.
    public mutating func admit(_ quotas: [String]) -> [String]? {
        var held: [String] = []
        for name in quotas {
            guard let size = sizes[name] else { continue }
            guard (running[name] ?? 0) < size else { return nil }
            if !held.contains(name) { held.append(name) }
        }
        for name in held { running[name, default: 0] += 1 }
        return held
    }
}

/// Rules every store applies to quota names and sizes.
public enum QuotaRules {
    /// Throws when the name is empty or the size is below 1.
    public static func check(name: String, size: Int) throws {
        guard !name.isEmpty else { throw SpoolError(.invalidArgument, "quota name must not be empty") }
        guard !name.utf8.contains(0) else { throw SpoolError(.invalidArgument, "quota name must not contain the NUL character") }
        guard size >= 1 else { throw SpoolError(.invalidArgument, "quota '\(name)' size must be at least 1, got \(size)") }
    }
}

extension SpoolError {
    /// The error for a quota name no quota has.
    public static func unknownQuota(_ name: String) -> SpoolError {
        SpoolError(.unknownQuota, "unknown quota '\(name)'")
    }
}
