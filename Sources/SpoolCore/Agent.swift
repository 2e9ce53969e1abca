/// The order in which an agent takes waiting jobs.
public enum AgentPolicy: String, Sendable, Codable, CaseIterable {
    /// Oldest run-at first, then enqueue order; priority is ignored.
    case fifo
    /// Lowest priority number first, then oldest run-at, then enqueue order.
    case priority
}

/// What an agent is: its name, what it takes, how many jobs at once, and in which order.
public struct AgentSpec: Sendable, CustomStringConvertible {
    /// The agent every dispatcher gets unless configured otherwise.
    public static let mainName = "main"
    /// How many jobs an agent runs at once unless told otherwise.
    public static let defaultSize = 3

    /// The agent's name, unique within its dispatcher.
    public var name: String
    /// Which jobs it takes.
    public var filter: JobFilter
    /// How many jobs it runs at once.
    public var size: Int
    /// The order in which it takes jobs.
    public var policy: AgentPolicy

    /// Creates an agent description; `size` defaults to 3 and `policy` to FIFO.
    public init(name: String, filter: JobFilter = .any, size: Int = AgentSpec.defaultSize, policy: AgentPolicy = .fifo) {
        self.name = name
        self.filter = filter
        self.size = size
        self.policy = policy
    }

    /// The default agent: named `main`, unfiltered, size 3, FIFO.
    public static let main = AgentSpec(name: mainName)

    /// Parses `NAME=FILTER[:SIZE]` (the `--agent` option); the size is the last `:N`.
    public init(parsing text: String, policy: AgentPolicy = .fifo) throws {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw SpoolError(.invalidArgument, "agent '\(text)' must look like NAME=FILTER[:SIZE]")
        }
        let name = String(text[..<equals])
        var rest = String(text[text.index(after: equals)...])
        var size = AgentSpec.defaultSize
        if let colon = rest.lastIndex(of: ":"), let parsed = Int(rest[rest.index(after: colon)...]) {
            guard parsed >= 1 else { throw SpoolError(.invalidArgument, "agent '\(name)' size must be at least 1, got \(parsed)") }
            size = parsed
            rest = String(rest[..<colon])
        }
        self.init(name: name, filter: try JobFilter(parsing: rest), size: size, policy: policy)
    }

    public var description: String { "\(name)=\(filter):\(size)" }
}

/// An agent as the store shows it to other processes: its spec and what it is doing.
public struct AgentInfo: Hashable, Sendable, Codable {
    /// The agent's name.
    public var name: String
    /// Its filter, in command-line form.
    public var filter: String
    /// How many jobs it runs at once.
    public var size: Int
    /// Its policy.
    public var policy: AgentPolicy
    /// The jobs it runs now.
    public var running: [JobID]
    /// Its most recently completed jobs, newest first.
    public var completed: [JobID]

    /// Creates an agent snapshot.
    public init(name: String, filter: String, size: Int, policy: AgentPolicy, running: [JobID] = [], completed: [JobID] = []) {
        self.name = name
        self.filter = filter
        self.size = size
        self.policy = policy
        self.running = running
        self.completed = completed
    }
}
