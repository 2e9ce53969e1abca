import Foundation

/// When a failed job runs again: exponential growth with jitter, capped.
///
/// The delay before attempt `n + 1` is `base × 2^(n − 1)`, capped at `maximum`, then spread by
/// ±`jitter` of itself so that jobs failing together do not retry together.
public struct Backoff: Hashable, Sendable {
    /// The delay after the first failure.
    public var base: Duration
    /// The longest delay.
    public var maximum: Duration
    /// The fraction of the delay used as random spread, from 0 to 1.
    public var jitter: Double

    /// 1 s, doubling, at most 1 hour, ±20 %.
    public static let `default` = Backoff(base: .seconds(1), maximum: .seconds(3600), jitter: 0.2)

    /// Creates a backoff policy.
    public init(base: Duration, maximum: Duration, jitter: Double) {
        self.base = base
        self.maximum = maximum
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay after failed attempt `attempt` (1-based), with jitter drawn from `random`.
    public func delay<R: RandomNumberGenerator>(afterAttempt attempt: Int, using random: inout R) -> Duration {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        let raw = min(base.seconds * pow(2, exponent), maximum.seconds)
        let spread = jitter == 0 ? 0 : Double.random(in: -jitter...jitter, using: &random)
        let seconds = max(0, raw * (1 + spread))
        return .seconds(clamping: seconds)
    }
}
