import GRDB
import SpoolCore

/// One claim's walk over waiting jobs: segment by segment, page by page, keeping the jobs the
/// agent's filter takes and the quotas admit, until the limit is reached.
struct ClaimScan {
    /// An order of available jobs and the index that serves it.
    enum Order {
        /// Run-at time, then enqueue order: `jobs_available_fifo`.
        case fifo
        /// Priority, run-at time, enqueue order: `jobs_available_priority`, which holds only
        /// jobs whose priority is not the default.
        case priority

        var columns: String { self == .fifo ? "run_at, seq" : "priority, run_at, seq" }
        var cursorPlaceholders: String { self == .fifo ? "?, ?" : "?, ?, ?" }
    }

    let limit: Int
    let filter: JobFilter
    let pageSize: Int
    var ledger: QuotaLedger?
    /// The chosen jobs, their row numbers and the quotas each holds.
    private(set) var chosen: [(job: Job, seq: Int64, held: [String])] = []

    init(limit: Int, filter: JobFilter, ledger: QuotaLedger?) {
        self.limit = limit
        self.filter = filter
        self.ledger = ledger
        pageSize = filter.isUnfiltered && ledger == nil ? limit : max(limit * 4, 64)
    }

    var isFull: Bool { chosen.count >= limit }

    /// Walks the available jobs matching `conditions` (with `arguments` for their
    /// placeholders) in `order`, adding what fits.
    mutating func walk(_ db: Database, conditions: [String], arguments: [String], order: Order) throws {
        let condition = conditions.joined(separator: " AND ")
        let firstSQL = "SELECT \(SQLiteRows.jobColumns) FROM jobs WHERE \(condition) ORDER BY \(order.columns) LIMIT ?"
        let nextSQL = "SELECT \(SQLiteRows.jobColumns) FROM jobs WHERE \(condition) AND (\(order.columns)) > (\(order.cursorPlaceholders)) ORDER BY \(order.columns) LIMIT ?"
        var cursor: [Int64]? = nil
        while !isFull {
            let statement = BoundStatement(try db.cachedStatement(sql: cursor == nil ? firstSQL : nextSQL), in: db)
            var index: Int32 = 0
            for value in arguments { index += 1; statement.bind(index, value) }
            for value in cursor ?? [] { index += 1; statement.bind(index, value) }
            statement.bind(index + 1, pageSize)
            var rows = 0
            while try statement.step() {
                rows += 1
                let job = try SQLiteRows.job(statement)
                let seq = statement.int64(21)
                cursor = order == .fifo ? [statement.int64(8), seq] : [Int64(job.priority), statement.int64(8), seq]
                guard self.filter.matches(job) else { continue }
                var held: [String] = []
                if !job.quotas.isEmpty, ledger != nil {
                    guard let admitted = ledger!.admit(job.quotas) else { continue }
                    held = admitted
                }
                chosen.append((job, seq, held))
                guard !isFull else {
                    statement.reset()
                    return
                }
            }
            if rows < pageSize { return }
        }
    }
}
