import Foundation

/// How long finished jobs are kept before dispatchers delete them, per terminal state.
///
/// The defaults keep completed jobs for a day and cancelled and discarded ones for a week. An
/// age of `nil` keeps that state's jobs forever. An age is at least ``minimumAge``, so that a
/// caller waiting for a job's result (``SpoolClient/wait(for:timeout:)``, `GET /v1/jobs/{id}?wait=`)
/// always reads it before it can go: a waiter looks again at least every few seconds.
public struct Retention: Hashable, Sendable {
    /// How long completed jobs are kept; `nil` keeps them forever.
    public var completed: Duration?
    /// How long cancelled jobs are kept; `nil` keeps them forever.
    public var cancelled: Duration?
    /// How long discarded jobs are kept; `nil` keeps them forever.
    public var discarded: Duration?

    /// The shortest age a finished job is kept.
    public static let minimumAge: Duration = .seconds(60)

    /// Completed jobs for 24 hours, cancelled and discarded ones for 7 days.
    public static let standard = Retention(completed: .seconds(86_400), cancelled: .seconds(7 * 86_400), discarded: .seconds(7 * 86_400))

    /// Creates a policy; ``validate()`` checks its ages.
    public init(completed: Duration?, cancelled: Duration?, discarded: Duration?) {
        self.completed = completed
        self.cancelled = cancelled
        self.discarded = discarded
    }

    /// The age kept for `state`'s jobs, `nil` for forever (and for states that are not finished).
    public func age(of state: JobState) -> Duration? {
        switch state {
        case .completed: completed
        case .cancelled: cancelled
        case .discarded: discarded
        case .scheduled, .available, .running, .retryable: nil
        }
    }

    /// The pause after a prune batch that took `took`, so that batches take at most `share` of
    /// the time (clamped to 1–100 %), and at least 5 ms.
    public static func pause(after took: Duration, share: Double) -> Duration {
        let share = min(max(share, 0.01), 1)
        return max(.milliseconds(5), took * ((1 - share) / share))
    }

    /// Whether every state is kept forever: nothing to prune.
    public var keepsEverything: Bool { completed == nil && cancelled == nil && discarded == nil }

    /// Throws ``SpoolError/Code/invalidArgument`` when an age is below ``minimumAge``.
    public func validate() throws {
        for state in [JobState.completed, .cancelled, .discarded] {
            if let age = age(of: state) { try Retention.checkAge(age, of: "\(state) jobs") }
        }
    }

    /// Throws unless `age` is at least ``minimumAge``; `what` names what is kept.
    public static func checkAge(_ age: Duration, of what: String) throws {
        guard age >= minimumAge else {
            throw SpoolError(.invalidArgument, "\(what) must be kept at least \(Int(minimumAge.seconds)) s (0 keeps them forever), "
                             + "so a caller waiting for a result reads it first; got \(age.seconds) s")
        }
    }

    /// Parses an age as written on a command line: a number of seconds, or a number followed by
    /// `s`, `m`, `h` or `d` (`90`, `30m`, `24h`, `7d`). `0` gives `nil`, forever.
    public static func parseAge(_ text: String) throws -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let unit = trimmed.last.flatMap { units[$0] }
        let number = unit == nil ? trimmed : String(trimmed.dropLast())
        guard let value = Double(number), value.isFinite, value >= 0 else {
            throw SpoolError(.invalidArgument, "'\(text)' is not an age: write a number of seconds or a number with s, m, h or d (24h, 7d)")
        }
        let seconds = value * (unit ?? 1)
        return seconds == 0 ? nil : .seconds(seconds)
    }
}
