import Foundation

/// What went wrong in one attempt of a job; a job keeps one record per failed attempt.
public struct AttemptError: Hashable, Sendable, Codable {
    /// The attempt that failed (1 for the first run).
    public var attempt: Int
    /// A short name of the error, such as `TimeoutError` or `ConnectionRefused`.
    public var name: String
    /// The kind of failure: `error`, `timeout`, `cancelled`, `crashed`, `rescued`, `unknown_job`.
    public var type: String
    /// The human-readable message.
    public var message: String
    /// When the attempt failed.
    public var at: Date

    /// Creates a record.
    public init(attempt: Int, name: String, type: String, message: String, at: Date) {
        self.attempt = attempt
        self.name = name
        self.type = type
        self.message = message
        self.at = at
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        attempt = try container.decode(Int.self, forKey: .attempt)
        name = try container.decode(String.self, forKey: .name)
        type = try container.decode(String.self, forKey: .type)
        message = try container.decode(String.self, forKey: .message)
        at = try ISO8601.decode(container, forKey: .at)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(name, forKey: .name)
        try container.encode(type, forKey: .type)
        try container.encode(message, forKey: .message)
        try container.encode(ISO8601.format(at), forKey: .at)
    }

    private enum CodingKeys: String, CodingKey { case attempt, name, type, message, at }
}
