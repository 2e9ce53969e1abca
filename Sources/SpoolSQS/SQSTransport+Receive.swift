import Foundation
import SQSClient
import SpoolCore

extension SQSTransport {
    public func receive(from destination: String, limit: Int, wait: Duration, visibility: Duration) async throws -> [TransportDelivery] {
        guard limit > 0 else { return [] }
        let queue = try await queueURL(destination)
        let deadline = ContinuousClock.now + wait
        let polls = min((limit + 9) / 10, configuration.pollsInFlight)
        var looked = false
        while true {
            let seen = arrivals.count
            let remaining = deadline - ContinuousClock.now
            let short = remaining < .seconds(1)
            let (taken, launch) = try state.withLock { [looked] state in
                guard !state.closed else { throw Self.closedError }
                if let ready = state.ready[destination], !ready.isEmpty {
                    let count = min(limit, ready.count)
                    state.ready[destination] = Array(ready.dropFirst(count))
                    return (Array(ready.prefix(count)), 0)
                }
                if let failure = state.failures.removeValue(forKey: destination) { throw failure }
                if looked && remaining <= .zero { return ([], 0) }
                let inFlight = state.polls[destination, default: 0]
                let launch = short ? (inFlight < polls ? 1 : 0) : max(0, polls - inFlight)
                state.polls[destination] = inFlight + launch
                return ([], launch)
            }
            if !taken.isEmpty { return taken }
            if looked && remaining <= .zero { return [] }
            looked = true
            if short && launch == 1 {
                // Less than a second left: one poll that answers at once, and a pause if it found nothing.
                if await poll(destination, queue: queue, maximum: min(limit, 10), waitSeconds: 0, visibility: visibility) == 0 {
                    try await Task.sleep(for: max(.zero, min(.milliseconds(50), deadline - ContinuousClock.now)))
                }
                continue
            }
            let waitSeconds = Int(min(remaining, .seconds(20)).components.seconds)
            for _ in 0..<launch {
                Task { await self.poll(destination, queue: queue, maximum: min(limit, 10), waitSeconds: waitSeconds, visibility: visibility) }
            }
            await arrivals.wait(after: seen, until: deadline)
        }
    }

    /// One ReceiveMessage call whose messages this endpoint holds and adds to `destination`'s
    /// ready deliveries (or, once it is closed, makes visible again); a failure waits for the
    /// next receive. Returns how many messages it brought in.
    @discardableResult
    private func poll(_ destination: String, queue: String, maximum: Int, waitSeconds: Int, visibility: Duration) async -> Int {
        // SQS hides for whole seconds, counted from its answer: rounded up and a second more,
        // so this endpoint's hold, counted from the answer's arrival, always ends first.
        let seconds = Self.visibilitySeconds(visibility)
        var count = 0
        do {
            let received = try await client.receiveMessages(queue, maximum: maximum, waitSeconds: waitSeconds, visibilitySeconds: seconds)
            let due = try await laterOnesHidden(received, queueURL: queue)
            count = due.count
            if !due.isEmpty { try await hold(due, from: destination, queueURL: queue, visibility: visibility) }
        } catch {
            state.withLock { $0.failures[destination] = error }
        }
        state.withLock { $0.polls[destination, default: 1] -= 1 }
        arrivals.signal()
        return count
    }

    /// The whole seconds SQS hides a message received or kept for `visibility`.
    static func visibilitySeconds(_ visibility: Duration) -> Int {
        min(Int(visibility.seconds.rounded(.up)) + 1, Int(maximumVisibility.seconds))
    }

    /// The messages that are due; those re-sent with a delay beyond SQS's 12 hours and not due
    /// yet are hidden again until they are (or for 12 hours).
    private func laterOnesHidden(_ messages: [SQSMessage], queueURL: String) async throws -> [SQSMessage] {
        let now = Date()
        var due: [SQSMessage] = []
        var early: [(receiptHandle: String, seconds: Int)] = []
        for message in messages {
            guard let text = message.attributes[Self.notBeforeAttribute]?.stringValue, let millis = Double(text),
                  case let wait = millis / 1000 - now.timeIntervalSince1970, wait > 0 else {
                due.append(message)
                continue
            }
            early.append((message.receiptHandle, Int(min(wait.rounded(.up), Self.maximumVisibility.seconds))))
        }
        if !early.isEmpty { try await changes.submit(early.map { ($0, "a message due later") }, to: queueURL) }
        return due
    }

    /// Holds `messages` for `visibility` and makes them ready for receives from `destination`;
    /// once the endpoint is closed, makes them visible to others again instead.
    private func hold(_ messages: [SQSMessage], from destination: String, queueURL: String, visibility: Duration) async throws {
        let expires = ContinuousClock.now + visibility
        let (held, startKeeping) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            for sqs in messages {
                state.nextReceipt += 1
                // A message re-sent after a long delay counts the deliveries before it; the waits
                // it was hidden for are receives SQS counted too.
                let previous = sqs.attributes[Self.deliveriesAttribute]?.stringValue.flatMap { Int($0) }
                let count = previous.map { $0 + 1 } ?? sqs.receiveCount
                let delivery = TransportDelivery(message: Self.incoming(sqs), destination: destination,
                                                 deliveryCount: count, receipt: "\(identity).\(state.nextReceipt)")
                state.held[delivery.receipt] = Held(delivery: delivery, queueURL: queueURL, receiptHandle: sqs.receiptHandle,
                                                    expires: expires, visibility: visibility)
                state.ready[destination, default: []].append(delivery)
            }
            let start = configuration.keepsVisibility && !state.keeping
            if start { state.keeping = true }
            return (true, start)
        }
        if startKeeping { Task { await self.keepVisibility() } }
        if !held {
            try await changes.submit(messages.map { (($0.receiptHandle, 0), "a message received as the endpoint closed") }, to: queueURL)
        }
    }
}
