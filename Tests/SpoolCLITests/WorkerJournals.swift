import Foundation
import Synchronization
import SpoolCore
import SpoolTestSupport
import Testing

/// One run of one attempt of one job in one worker process, from its journal.
struct JournalRun {
    let job: String
    let attempt: Int
    let quotas: [String]
    let start: Double
    var end: Double?
    var outcome: String?
}

/// What worker processes' journals (`spool worker --journal`) say happened.
enum WorkerJournals {
    /// Reads a worker's journal into runs; a run without an end was cut off by a kill.
    static func runs(inJournal path: String) throws -> [JournalRun] {
        var open: [String: JournalRun] = [:], closed: [JournalRun] = []
        for event in try lines(path) {
            guard let name = event["event"]?.string,
                  let at = event["at"]?.string.flatMap(ISO8601.parse).map({ $0.timeIntervalSince1970 * 1_000_000 }),
                  let job = event["job"]?.string, let attempt = event["attempt"]?.number,
                  let key = runKey(event) else { continue }
            if name == "started" {
                let quotas: [String]
                if case .array(let values)? = event["quotas"] { quotas = values.compactMap(\.string) } else { quotas = [] }
                open[key] = JournalRun(job: job, attempt: Int(attempt), quotas: quotas, start: at)
            } else if name == "ended", var run = open.removeValue(forKey: key) {
                run.end = at
                run.outcome = event["outcome"]?.string
                closed.append(run)
            }
        }
        return closed + Array(open.values)
    }

    /// The job ids of the journal's events named `name`.
    static func events(_ name: String, inJournal path: String) throws -> [String] {
        try lines(path).compactMap { $0["event"]?.string == name ? $0["job"]?.string : nil }
    }

    /// Checks runs from every worker (cut-off runs already given an end): each job ran, its
    /// runs never overlapped and the last completed, and no quota ever held more than its size.
    static func expectSound(_ all: [JournalRun], jobs total: Int, quotas sizes: [String: Int],
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(all.allSatisfy { $0.end != nil }, "only killed workers left runs unfinished", sourceLocation: sourceLocation)
        let byJob = Dictionary(grouping: all, by: \.job)
        #expect(byJob.count == total, "every job ran", sourceLocation: sourceLocation)
        for (job, jobRuns) in byJob {
            let sorted = jobRuns.sorted { $0.start < $1.start }
            for (earlier, later) in zip(sorted, sorted.dropFirst()) {
                #expect(earlier.end! <= later.start, "job \(job) ran twice at the same time", sourceLocation: sourceLocation)
            }
            #expect(sorted.last?.outcome == "completed", "job \(job) ended completed", sourceLocation: sourceLocation)
        }
        for (quota, size) in sizes {
            var edges: [(Double, Int)] = []
            for run in all where run.quotas.contains(quota) { edges += [(run.start, 1), (run.end ?? run.start, -1)] }
            edges.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            var current = 0, peak = 0
            for edge in edges { current += edge.1; peak = max(peak, current) }
            #expect(peak <= size, "quota \(quota) of size \(size) had \(peak) jobs running at once", sourceLocation: sourceLocation)
            #expect(peak >= 1, sourceLocation: sourceLocation)
        }
    }

    /// Reads the journals after the worker journaling to `killed` was killed at `killedAt`
    /// (microseconds since 1970): checks every run as ``expectSound(_:jobs:quotas:sourceLocation:)``
    /// does, the killed worker's cut-off runs ending at the kill, and returns the jobs it was
    /// running and those the `rescuers` journaled as rescued. `survivors` are every other
    /// worker's journals.
    static func afterKill(killed: String, at killedAt: Double, survivors: [String], rescuers: [String], jobs total: Int,
                          quotas sizes: [String: Int], sourceLocation: SourceLocation = #_sourceLocation)
        throws -> (cutOff: Set<String>, rescued: Set<String>) {
        let killedRuns = try runs(inJournal: killed)
        let cutOff = Set(killedRuns.filter { $0.end == nil }.map(\.job))
        let rescued = Set(try rescuers.flatMap { try events("rescued", inJournal: $0) })
        let ended = killedRuns.map { run in
            var run = run
            if run.end == nil { run.end = killedAt }
            return run
        }
        expectSound(ended + (try survivors.flatMap { try runs(inJournal: $0) }), jobs: total, quotas: sizes,
                    sourceLocation: sourceLocation)
        return (cutOff, rescued)
    }

    /// Expects each of `ids` to have completed in `store` after a rescue recorded among its
    /// errors, whose message contains `reason` when one is given.
    static func expectCompletedAfterRescue(_ ids: Set<String>, in store: any JobStore, reason: String? = nil) async throws {
        for text in ids.sorted() {
            let id = try #require(JobID(text))
            let job = try #require(try await store.job(id))
            #expect(job.state == .completed, "job \(text)")
            #expect(job.errors.contains { $0.type == "rescued" && reason.map($0.message.contains) ?? true },
                    "job \(text) records its rescue\(reason.map { " (\($0))" } ?? "")")
        }
    }

    /// Stops `worker` (SIGSTOP) at a moment its journal at `path` shows a job running, so a
    /// SIGKILL right after is sure to cut that job off: a stopped process finishes nothing, and
    /// its journal, read while it is stopped, is exactly what it was doing. The worker is stopped
    /// only when its journal, read while it runs, shows a job running, and let go on (SIGCONT)
    /// when, stopped, it turns out to have ended it: stopping it over and over instead starved it
    /// on a loaded machine (a stopped worker holding the store's lock stops every other worker).
    ///
    /// Whenever a read finds nothing running, `refill` is called: the caller enqueues more work
    /// if the store has run dry. This test process may be held up for longer than the workers
    /// need for everything it enqueued (its two threads are shared with the whole suite), and
    /// a worker with no work left has no job to cut off.
    ///
    /// Throws, naming what it saw and ending with the tail of the worker's `log`, when the worker
    /// exits first or no running job could be caught before `deadline`.
    static func stopWithRunningJob(_ worker: ChildProcess, journal path: String, log: String, until deadline: Date,
                                   refill: () async throws -> Void) async throws {
        let journal = JournalFollower(path)
        @Sendable func running() throws -> Bool { try journal.anyRunning() }
        var reads = 0, seenRunning = 0
        while Date() < deadline {
            guard worker.isRunning else {
                throw StopFailure("the worker exited (status \(worker.terminationStatus ?? -1)) before a running job could be caught", log: log)
            }
            reads += 1
            if try await offPool(running) {
                seenRunning += 1
                worker.signal(SIGSTOP)
                await waitUntilStopped(worker.processIdentifier)
                if try await offPool(running) { return }
                worker.signal(SIGCONT)
            } else {
                try await refill()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let journaled = (try? runs(inJournal: path).count) ?? 0
        throw StopFailure("no running job caught before the deadline: \(reads) reads of the journal, \(seenRunning) showed one running "
                          + "but not once the worker was stopped; the journal holds \(journaled) runs", log: log)
    }

    /// Why ``stopWithRunningJob(_:journal:log:until:refill:)`` gave up, with the end of the worker's log.
    struct StopFailure: Error, CustomStringConvertible {
        let description: String
        init(_ reason: String, log: String) {
            let tail = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no log)").split(separator: "\n").suffix(30)
            description = reason + "; the worker's log ends:\n" + tail.joined(separator: "\n")
        }
    }

    /// Waits until `pid` is stopped: a signal is delivered asynchronously, and a process still
    /// running for a moment after `kill` could journal the end of the very job the test saw open.
    private static func waitUntilStopped(_ pid: Int32) async {
        for _ in 0..<1000 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return }
            let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
            if state == "T" || state == "t" { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// How many jobs in `store` wait to run (available, scheduled or retryable).
    static func waiting(in store: any JobStore) async throws -> Int {
        try await store.queues().reduce(0) { sum, queue in
            sum + [JobState.available, .scheduled, .retryable].reduce(0) { $0 + (queue.counts[$1] ?? 0) }
        }
    }

    /// The key pairing a run's start with its end.
    fileprivate static func runKey(_ event: JSONValue) -> String? {
        guard let job = event["job"]?.string, let attempt = event["attempt"]?.number else { return nil }
        return "\(job)/\(Int(attempt))"
    }

    /// Every whole line of the journal, read with Spool's own JSON reader: through `Decodable`
    /// each value tried as the wrong type throws, and the test library records a backtrace for
    /// every throw — enough, over a journal of thousands of lines read again and again, to keep
    /// Swift concurrency's threads busy and stall every other test of the run.
    private static func lines(_ path: String) throws -> [JSONValue] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }
}

/// Follows a worker's growing journal, reading at each look only the lines appended since the
/// last: a journal of tens of thousands of runs parsed whole at every look took long enough on a
/// loaded machine that the job seen running had ended before the worker could be stopped.
final class JournalFollower: Sendable {
    private struct State {
        let path: String
        var handle: FileHandle?
        var partial = Data()
        var running: Set<String> = []
    }
    private let state: Mutex<State>

    init(_ path: String) {
        state = Mutex(State(path: path))
    }

    /// Whether the journal, as far as it is written now, shows a run started and not ended
    /// (`false` while the worker has not created it yet).
    func anyRunning() throws -> Bool {
        try state.withLock { state in
            if state.handle == nil, FileManager.default.fileExists(atPath: state.path) {
                state.handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: state.path))
            }
            guard let handle = state.handle else { return false }
            if let appended = try handle.readToEnd() { state.partial.append(appended) }
            // Whole lines only; the part after the last newline waits for the rest of its line.
            guard let end = state.partial.lastIndex(of: UInt8(ascii: "\n")) else { return !state.running.isEmpty }
            let lines = state.partial[..<end].split(separator: UInt8(ascii: "\n"))
            state.partial = Data(state.partial[state.partial.index(after: end)...])
            for line in lines {
                guard let event = try? JSONValue.parse(String(decoding: line, as: UTF8.self)), let key = WorkerJournals.runKey(event) else { continue }
                switch event["event"]?.string {
                case "started": state.running.insert(key)
                case "ended": state.running.remove(key)
                default: break
                }
            }
            return !state.running.isEmpty
        }
    }
}
