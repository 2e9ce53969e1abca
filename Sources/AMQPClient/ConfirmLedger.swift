import NIOCore

/// Publisher-confirm bookkeeping for one channel: which publishes the broker still has to confirm.
///
/// Entries are kept in publish order. An entry is *sent* once it has a delivery tag of the current
/// channel session; after the connection breaks every unsettled entry becomes unsent again, and
/// recovery re-sends them in order with fresh tags (so the broker may see duplicates, never losses).
struct ConfirmLedger<Payload> {
    private struct Entry {
        var tag: UInt64?
        var payload: Payload
        var settled = false
    }

    private var entries = CircularBuffer<Entry>()
    private var nextTag: UInt64 = 1

    /// Entries not yet confirmed, sent or not.
    var count: Int { entries.lazy.filter { !$0.settled }.count }

    /// Records a publish sent now under the returned delivery tag.
    mutating func recordSent(_ payload: Payload) -> UInt64 {
        defer { nextTag += 1 }
        entries.append(Entry(tag: nextTag, payload: payload))
        return nextTag
    }

    /// Settles the entry with `tag`, or every entry up to and including it when `multiple`;
    /// returns the payloads settled now, in order.
    mutating func settle(tag: UInt64, multiple: Bool) -> [Payload] {
        var settled: [Payload] = []
        if multiple {
            for index in entries.indices {
                guard let entryTag = entries[index].tag, entryTag <= tag else { break }
                if !entries[index].settled {
                    entries[index].settled = true
                    settled.append(entries[index].payload)
                }
            }
        } else if let index = index(of: tag), !entries[index].settled {
            entries[index].settled = true
            settled.append(entries[index].payload)
        }
        while let first = entries.first, first.settled { entries.removeFirst() }
        return settled
    }

    /// Removes and returns the unsettled entries that were sent in the channel session that just
    /// ended, in order; the entries never sent stay.
    mutating func removeSent() -> [Payload] {
        var sent: [Payload] = []
        var kept = CircularBuffer<Entry>()
        for entry in entries where !entry.settled {
            if entry.tag != nil { sent.append(entry.payload) } else { kept.append(entry) }
        }
        entries = kept
        return sent
    }

    /// The unsettled payloads, sent or not, in order.
    var unsettled: [Payload] { entries.filter { !$0.settled }.map(\.payload) }

    /// Forgets every delivery tag: the channel session ended, so all unsettled entries must be re-sent.
    mutating func sessionEnded() {
        for index in entries.indices { entries[index].tag = nil }
        nextTag = 1
    }

    /// Assigns fresh tags to the unsent entries, in order, and returns their payloads to send.
    mutating func sendUnsent() -> [Payload] {
        var toSend: [Payload] = []
        for index in entries.indices where entries[index].tag == nil && !entries[index].settled {
            entries[index].tag = nextTag
            nextTag += 1
            toSend.append(entries[index].payload)
        }
        return toSend
    }

    /// Removes and returns every unsettled payload (the channel is gone for good).
    mutating func removeAll() -> [Payload] {
        defer { entries.removeAll() }
        return entries.filter { !$0.settled }.map(\.payload)
    }

    private func index(of tag: UInt64) -> CircularBuffer<Entry>.Index? {
        var low = entries.startIndex
        var count = entries.count
        while count > 0 {
            let half = count / 2
            let middle = entries.index(low, offsetBy: half)
            guard let middleTag = entries[middle].tag else {
                count = half
                continue
            }
            if middleTag == tag { return middle }
            if middleTag < tag {
                low = entries.index(after: middle)
                count -= half + 1
            } else {
                count = half
            }
        }
        return nil
    }
}
