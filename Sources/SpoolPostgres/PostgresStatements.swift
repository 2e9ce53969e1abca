import PostgresNIO

/// The text of one of the store's hot statements, written for ``PostgresSchema/searchPath``.
protocol PostgresStatementText {
    /// The statement's name on each connection that prepares it.
    static var name: String { get }
    static var sql: String { get }
}

/// A hot statement run as a prepared statement: each pooled connection plans it once and then
/// only executes it. Planning Spool's insert statement costs the server more time than running
/// it; the completion and the common claim are one call of a server-side function, whose own
/// statements' plans are cached with it.
///
/// The text names tables without their schema (``PostgresSchema/searchPath``); pooled
/// connections set `search_path` to the store's schema, so one text serves every store. Only
/// for statements run outside an explicit transaction on a pooled connection.
struct PostgresStatement<Text: PostgresStatementText>: PostgresPreparedStatement {
    typealias Row = PostgresRandomAccessRow
    static var name: String { Text.name }
    static var sql: String { Text.sql }

    /// The statement's parameters, in order.
    var bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }

    func decodeRow(_ row: PostgresRow) throws -> Row { row.makeRandomAccess() }
}

extension PostgresConnection {
    /// The rows of the prepared statement `Text` with `bindings`.
    func rows<Text: PostgresStatementText>(_ text: Text.Type, _ bindings: PostgresBindings,
                                           logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await execute(PostgresStatement<Text>(bindings: bindings), logger: logger) { rows.append(row) }
        return rows
    }
}

/// The insert of a batch of jobs, with the NOTIFY of the queues that gained jobs
/// (``PostgresStore/insertSQL(_:notifying:)``).
enum InsertStatement: PostgresStatementText {
    static let name = "spool_insert"
    static let sql = PostgresStore.insertSQL(.searchPath, notifying: true)
}

/// The insert of a batch of jobs that the store announces after its commit (``PostgresAnnouncer``).
enum QuietInsertStatement: PostgresStatementText {
    static let name = "spool_insert_quiet"
    static let sql = PostgresStore.insertSQL(.searchPath, notifying: false)
}

/// The insert of jobs that name no quota and no unique key, with the NOTIFY of the queues that
/// gained jobs (``PostgresStore/plainInsertSQL(_:notifying:)``).
enum PlainInsertStatement: PostgresStatementText {
    static let name = "spool_insert_plain"
    static let sql = PostgresStore.plainInsertSQL(.searchPath, notifying: true)
}

/// The plain insert that the store announces after its commit (``PostgresAnnouncer``).
enum QuietPlainInsertStatement: PostgresStatementText {
    static let name = "spool_insert_plain_quiet"
    static let sql = PostgresStore.plainInsertSQL(.searchPath, notifying: false)
}

/// ``PlainInsertStatement`` for one job: single values instead of arrays.
enum PlainInsertOneStatement: PostgresStatementText {
    static let name = "spool_insert_plain_one"
    static let sql = PostgresStore.plainInsertSQL(.searchPath, notifying: true, one: true)
}

/// ``QuietPlainInsertStatement`` for one job: single values instead of arrays.
enum QuietPlainInsertOneStatement: PostgresStatementText {
    static let name = "spool_insert_plain_one_quiet"
    static let sql = PostgresStore.plainInsertSQL(.searchPath, notifying: false, one: true)
}

/// The announcement of queues that gained jobs (``PostgresAnnouncer``): the channel, then the
/// queues one per line.
enum NotifyStatement: PostgresStatementText {
    static let name = "spool_notify"
    static let sql = "SELECT pg_notify($1::text, $2::text)"
}

/// A dispatcher's common step: completions and a claim in one call of the store's function
/// (``PostgresSchema/dispatcherStep``).
enum DispatcherStepStatement: PostgresStatementText {
    static let name = "spool_dispatcher_step"
    static let sql = """
        SELECT * FROM spool_dispatcher_step($1::bigint, $2::text[], $3::uuid[], $4::text[], $5::boolean[], $6::bigint, $7::bigint,
                                            $8::uuid, $9::bigint, $10::text[], $11::boolean, $12::bigint[], $13::bigint[])
        """
}
