import SQSClient
import SpoolCore

extension SQSTransport {
    /// How often held deliveries are looked at.
    private static var keeperTick: Duration { .milliseconds(250) }

    /// While this endpoint holds deliveries, extends the visibility of each one that has used
    /// half of it (or has less than a second left) by its visibility again; ends when
    /// nothing is held or the endpoint closes. A delivery whose extension fails keeps its old
    /// expiry: if that passes, settling it throws.
    ///
    /// Each batch of extensions goes on its own, without waiting for the others: one call that
    /// is slow to answer (SQS retrying, a connection stalled) holds back only its own deliveries,
    /// not every other one's extension, which would let their visibility pass and hand them to
    /// another receiver while they are still being worked on.
    func keepVisibility() async {
        while true {
            try? await Task.sleep(for: Self.keeperTick)
            let now = ContinuousClock.now
            let due = state.withLock { state -> [String: [(receipt: String, held: Held)]]? in
                guard !state.closed, !state.held.isEmpty else {
                    state.keeping = false
                    return nil
                }
                var due: [String: [(receipt: String, held: Held)]] = [:]
                for (receipt, held) in state.held where !held.extending && held.expires > now
                    && held.expires - now <= max(held.visibility / 2, .seconds(1)) {
                    due[held.queueURL, default: []].append((receipt, held))
                    state.held[receipt]?.extending = true
                }
                return due
            }
            guard let due else { return }
            for (queue, entries) in due {
                for start in stride(from: 0, to: entries.count, by: 10) {
                    let batch = Array(entries[start..<min(start + 10, entries.count)])
                    Task { await self.extend(batch, on: queue) }
                }
            }
        }
    }

    private func extend(_ entries: [(receipt: String, held: Held)], on queue: String) async {
        let sent = ContinuousClock.now
        let changes = entries.map { (receiptHandle: $0.held.receiptHandle, seconds: Self.visibilitySeconds($0.held.visibility)) }
        let result = try? await client.changeMessageVisibilityBatch(queue, changes)
        state.withLock { state in
            for (index, entry) in entries.enumerated() {
                state.held[entry.receipt]?.extending = false
                if result?.succeeded["\(index)"] != nil { state.held[entry.receipt]?.expires = sent + entry.held.visibility }
            }
        }
    }
}
