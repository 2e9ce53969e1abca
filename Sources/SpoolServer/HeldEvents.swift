/// The events a hub holds back while a change that lets jobs run (an insert, a retry) is being
/// stored and announced, so that no client hears of a job's start before its `job.enqueued`.
///
/// Each change gets a token when it begins. An event arriving meanwhile from elsewhere (the
/// embedded dispatcher, the relay of ends) waits until every change begun before it has ended
/// and published its own events; held events go out in the order they arrived. Past
/// ``capacity`` held events (a store stalled mid-change), events go out at once rather than
/// pile up.
struct HeldEvents {
    /// How many events are held at most.
    static let capacity = 4096

    private var last = 0
    /// The tokens of the changes under way, oldest first.
    private var underWay: [Int] = []
    private var held: [(after: Int, event: ServerEvent)] = []

    /// Starts a change; give the token to ``end(_:)`` once its events are published.
    mutating func begin() -> Int {
        last += 1
        underWay.append(last)
        return last
    }

    /// Whether `event` must wait for changes under way; it is then kept.
    mutating func hold(_ event: ServerEvent) -> Bool {
        guard !underWay.isEmpty, held.count < HeldEvents.capacity else { return false }
        held.append((last, event))
        return true
    }

    /// Ends the change of `token`; returns the held events no change under way holds back now.
    mutating func end(_ token: Int) -> [ServerEvent] {
        underWay.removeAll { $0 == token }
        let oldest = underWay.first ?? .max
        let count = held.prefix { $0.after < oldest }.count
        guard count > 0 else { return [] }
        defer { held.removeFirst(count) }
        return held.prefix(count).map(\.event)
    }
}
