import Foundation

/// The state changes every store applies the same way; stores persist the result.
extension Job {
    /// Marks the job running for `dispatcher`: one more attempt, started now, leased until `lease`.
    public mutating func claim(by dispatcher: UUID, now: Date, leaseUntil lease: Date) {
        state = .running
        attempt += 1
        startedAt = now
        self.dispatcher = dispatcher
        leaseExpiresAt = lease
        cancelRequested = false
    }

    /// Makes a job that is not running available now; a job out of attempts gains one.
    /// Throws ``SpoolError/Code/invalidState`` for a running job.
    public mutating func retry(now: Date) throws {
        guard state != .running else {
            throw SpoolError(.invalidState, "job \(id) is running; cancel it first or wait for it to finish")
        }
        state = .available
        runAt = now
        finishedAt = nil
        cancelRequested = false
        if attempt >= maxAttempts { maxAttempts = attempt + 1 }
    }

    /// Records how the running attempt ended: the state, result, error record and times that
    /// `outcome` gives. Follow-up jobs are the store's to insert.
    public mutating func finish(_ outcome: JobOutcome, now: Date) {
        leaseExpiresAt = nil
        cancelRequested = false
        switch outcome {
        case .completed(let result, _):
            state = .completed
            self.result = result
            finishedAt = now
        case .failed(let error, let retryAt):
            errors.append(error)
            if let retryAt {
                state = .retryable
                runAt = retryAt
            } else {
                state = .discarded
                finishedAt = now
            }
        case .cancelled(let error):
            errors.append(error)
            state = .cancelled
            finishedAt = now
        case .snoozed(let until):
            state = until > now ? .scheduled : .available
            runAt = until
            attempt = max(0, attempt - 1)
        }
    }

    /// Returns a job whose holder is gone to its queue, or discards it when out of attempts;
    /// returns the error record appended for the rescue.
    ///
    /// `ran` says the attempt was running when its process died or lost it (not a claim whose
    /// job never started). Two such attempts in a row discard the job: a job that takes its
    /// worker down with it would otherwise take down every worker that claims it, once per
    /// attempt.
    @discardableResult
    public mutating func rescue(reason: String, now: Date, ran: Bool = true) -> AttemptError {
        let diedBefore = errors.last.map { $0.name == Self.diedRunning && $0.attempt == attempt - 1 } ?? false
        let crashLoop = ran && diedBefore
        let message = crashLoop
            ? "job was rescued: \(reason); its previous attempt also ended with its worker gone, so it is discarded rather than tried again (it may be what stops its workers)"
            : "job was rescued: \(reason)"
        let record = AttemptError(attempt: attempt, name: ran ? Self.diedRunning : "Unstarted", type: "rescued", message: message, at: now)
        errors.append(record)
        leaseExpiresAt = nil
        cancelRequested = false
        if attempt >= maxAttempts || crashLoop {
            state = .discarded
            finishedAt = now
        } else {
            state = .available
            runAt = now
        }
        return record
    }

    /// The name of the error recorded for an attempt that was running when its worker died.
    public static let diedRunning = "Rescued"
}
