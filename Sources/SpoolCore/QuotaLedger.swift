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
