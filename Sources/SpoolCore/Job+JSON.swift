import Foundation

extension Job {
    /// The job's JSON form, the same document as its `Codable` form (keys sorted), written
    /// without `JSONEncoder`; the payload and result are embedded as their stored text.
    public var jsonText: String {
        var writer = JSONWriter(capacity: 512 + payload.byteCount + (result?.byteCount ?? 0))
        write(to: &writer)
        return writer.text
    }

    /// Writes the job's JSON form.
    public func write(to writer: inout JSONWriter) {
        writer.object { w in
            w.member("attempt"); w.int(attempt)
            w.member("cancelRequested"); w.bool(cancelRequested)
            w.member("createdAt"); w.string(ISO8601.format(createdAt))
            w.member("dispatcher"); w.optional(dispatcher) { $0.string($1.uuidString.lowercased()) }
            w.member("errors")
            w.array { w in
                for error in errors { error.write(to: &w) }
            }
            w.member("finishedAt"); w.optional(finishedAt) { $0.string(ISO8601.format($1)) }
            w.member("id"); w.string(id.description)
            w.member("leaseExpiresAt"); w.optional(leaseExpiresAt) { $0.string(ISO8601.format($1)) }
            w.member("maxAttempts"); w.int(maxAttempts)
            w.member("name"); w.string(name)
            w.member("payload"); w.raw(payload.text)
            w.member("priority"); w.int(priority)
            w.member("queue"); w.string(queue)
            w.member("quotas"); w.strings(quotas)
            w.member("result"); w.optional(result) { $0.raw($1.text) }
            w.member("runAt"); w.string(ISO8601.format(runAt))
            w.member("startedAt"); w.optional(startedAt) { $0.string(ISO8601.format($1)) }
            w.member("state"); w.string(state.rawValue)
            w.member("tags"); w.strings(tags)
            w.member("timeout"); w.optional(timeout) { $0.number($1.seconds) }
            if !traceContext.isEmpty {
                w.member("traceContext"); traceContext.write(to: &w)
            }
            w.member("uniqueKey"); w.optional(uniqueKey) { $0.string($1) }
        }
    }
}

extension AttemptError {
    /// Writes the record's JSON form (the same as its `Codable` form, keys sorted).
    public func write(to writer: inout JSONWriter) {
        writer.object { w in
            w.member("at"); w.string(ISO8601.format(at))
            w.member("attempt"); w.int(attempt)
            w.member("message"); w.string(message)
            w.member("name"); w.string(name)
            w.member("type"); w.string(type)
        }
    }
}

extension JSONWriter {
    /// Writes an array of strings.
    public mutating func strings(_ values: [String]) {
        array { writer in
            for value in values { writer.string(value) }
        }
    }
}
