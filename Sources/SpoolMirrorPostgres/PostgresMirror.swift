import Foundation
import Logging
import PostgresNIO
import SpoolCore
import SpoolMirror
import SpoolPostgres
import Synchronization

/// A relational mirror in PostgreSQL: one table per declared entity type in the URL's schema,
/// a typed column per field (string `text`, integer `bigint`, double `double precision`, bool
/// `boolean`, date `timestamptz`, JSON `jsonb`, file `text`: the content's SHA-256, the bytes
/// under the file directory), created and given new columns as fields are declared. Each batch
/// of units is applied in one transaction, each unit once (its id is recorded in
/// `spool_mirror_units`). A unit the tables refuse (a column or table missing or of another
/// type, altered by hand) throws ``SpoolError``: it can never apply. A lost connection is made
/// again at the next apply.
public final class PostgresMirror: MirrorTarget {
    public let schema: MirrorSchema
    /// Where the mirror's tables are.
    public let location: PostgresLocation
    private let files: MirrorFiles
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)
    private let connections = Atomic<Int>(0)

    /// Connects to the database `url` names (`postgres://USER:PASSWORD@HOST:PORT/DATABASE[?schema=S]`),
    /// creates the schema's tables and adds columns for fields declared since; a column of another
    /// type than its field's is refused.
    public init(url: String, schema: MirrorSchema, fileDirectory: URL, logger: Logger = Logger(label: "spool.mirror.postgres")) async throws {
        let location = try PostgresLocation(url: url)
        self.location = location
        self.schema = schema
        self.logger = logger
        files = try MirrorFiles(directory: fileDirectory)
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.username,
                                                             password: location.password, database: location.database, tls: try location.tls.connectionTLS())
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = [("application_name", "spool-mirror"), ("search_path", location.schema)]
        self.configuration = configuration
        do {
            try await withConnection { connection in try await self.migrate(connection) }
        } catch {
            await close()
            throw error
        }
    }

    public func apply(_ unit: MirrorUnit) async throws -> Bool {
        try await apply([unit])[0]
    }

    public func apply(_ units: [MirrorUnit]) async throws -> [Bool] {
        try files.write(units)
        let (applied, replaced) = try await withConnection { connection -> ([Bool], Set<String>) in
            try await connection.query("BEGIN", logger: self.logger)
            do {
                var replaced: Set<String> = []
                var applied: [Bool] = []
                for unit in units { applied.append(try await self.write(unit, on: connection, replacing: &replaced)) }
                try await connection.query("COMMIT", logger: self.logger)
                return (applied, replaced)
            } catch {
                try? await connection.query("ROLLBACK", logger: self.logger)
                throw error
            }
        }
        try await removeUnnamed(replaced)
        return applied
    }

    public func status() async throws -> MirrorStatus {
        try await withConnection { connection in try await Self.status(on: connection, logger: self.logger) }
    }

    /// What the mirror at `url` applied, read without changing it.
    public static func status(url: String, logger: Logger = Logger(label: "spool.mirror.postgres")) async throws -> MirrorStatus {
        let location = try PostgresLocation(url: url)
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.username,
                                                             password: location.password, database: location.database, tls: try location.tls.connectionTLS())
        configuration.options.additionalStartupParameters = [("application_name", "spool-mirror"), ("search_path", location.schema)]
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            var exists = false
            for try await found in try await connection.query("SELECT to_regclass('spool_mirror_units') IS NOT NULL", logger: logger).decode(Bool.self) {
                exists = found
            }
            let status = exists ? try await Self.status(on: connection, logger: logger) : MirrorStatus(applied: 0, last: nil)
            try await connection.close()
            return status
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static func status(on connection: PostgresConnection, logger: Logger) async throws -> MirrorStatus {
        var applied = 0
        for try await count in try await connection.query("SELECT count(*) FROM spool_mirror_units", logger: logger).decode(Int.self) {
            applied = count
        }
        let rows = try await connection.query("""
            SELECT id, extract(epoch FROM applied_at)::float8, extract(epoch FROM committed_at)::float8
            FROM spool_mirror_units ORDER BY seq DESC LIMIT 1
            """, logger: logger)
        for try await (id, appliedAt, committedAt) in rows.decode((String, Double, Double?).self) {
            guard let id = UUID(uuidString: id) else { break }
            return MirrorStatus(applied: applied, last: .init(id: id, appliedAt: Date(timeIntervalSince1970: appliedAt),
                                                              committedAt: committedAt.map { Date(timeIntervalSince1970: $0) }))
        }
        return MirrorStatus(applied: applied, last: nil)
    }

    /// The row of `type` with `key`, as values by declared field, or `nil`; a column dropped by
    /// hand leaves its field out.
    public func row(_ type: String, key: String) async throws -> [String: MirrorValue]? {
        let declared = try schema.type(type)
        return try await withConnection { connection in
            let present = try await self.columns(of: declared.name, on: connection)
            let names = declared.fields.keys.sorted().filter { present[$0] != nil }
            let selected = names.map { "\(Self.readable(Self.quoted($0), declared.fields[$0]!))" }
            var binds = PostgresBindings()
            binds.append(key)
            let sql = "SELECT \((["1"] + selected).joined(separator: ", ")) FROM \(Self.quoted(declared.name)) WHERE \(Self.quoted(declared.key)) = $1"
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger) {
                var values: [String: MirrorValue] = [:]
                let cells = row.makeRandomAccess()
                for (index, name) in names.enumerated() {
                    let text = try cells[index + 1].decode(String?.self)
                    values[name] = try Self.value(text, as: declared.fields[name]!, files: self.files)
                }
                return values
            }
            return nil
        }
    }

    /// How many rows `type`'s table holds.
    public func count(_ type: String) async throws -> Int {
        let declared = try schema.type(type)
        return try await withConnection { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(Self.quoted(declared.name))"), logger: self.logger)
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
    }

    /// Closes the connection; call it before dropping the mirror.
    public func close() async {
        if let open = connection.withLock({ value -> PostgresConnection? in defer { value = nil }; return value }) { try? await open.close() }
    }

    // MARK: Writing

    private func write(_ unit: MirrorUnit, on connection: PostgresConnection, replacing replaced: inout Set<String>) async throws -> Bool {
        let id = unit.id.uuidString.lowercased()
        var binds = PostgresBindings()
        binds.append(id)
        binds.append(unit.committedAt.map { $0.timeIntervalSince1970 })
        var inserted = false
        for try await _ in try await connection.query(PostgresQuery(unsafeSQL: """
            INSERT INTO spool_mirror_units (id, applied_at, committed_at) VALUES ($1, now(), to_timestamp($2))
            ON CONFLICT (id) DO NOTHING RETURNING 1
            """, binds: binds), logger: logger) {
            inserted = true
        }
        guard inserted else { return false }
        for operation in unit.operations {
            let type = try schema.type(operation.type)
            replaced.formUnion(try await fileNames(of: operation, type: type, on: connection))
            try await apply(operation, type: type, on: connection)
        }
        return true
    }

    private func apply(_ operation: MirrorOperation, type: MirrorEntityType, on connection: PostgresConnection) async throws {
        let table = Self.quoted(type.name), key = Self.quoted(type.key)
        var binds = PostgresBindings()
        binds.append(operation.key)
        let sql: String
        switch operation.kind {
        case .add:
            let names = type.fields.keys.sorted()
            for name in names { Self.bind(operation.fields[name] ?? .null, to: &binds) }
            let columns = ([type.key] + names).map(Self.quoted).joined(separator: ", ")
            let values = (["$1"] + names.enumerated().map { Self.placeholder($0.offset + 2, type.fields[$0.element]!) }).joined(separator: ", ")
            let updates = names.isEmpty ? "NOTHING" : "UPDATE SET " + names.map { "\(Self.quoted($0)) = excluded.\(Self.quoted($0))" }.joined(separator: ", ")
            sql = "INSERT INTO \(table) (\(columns)) VALUES (\(values)) ON CONFLICT (\(key)) DO \(updates)"
        case .modify:
            let names = operation.fields.keys.sorted()
            guard !names.isEmpty else { return }
            for name in names { Self.bind(operation.fields[name]!, to: &binds) }
            let assignments = names.enumerated().map { "\(Self.quoted($0.element)) = \(Self.placeholder($0.offset + 2, type.fields[$0.element]!))" }
            sql = "UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE \(key) = $1"
        case .delete:
            sql = "DELETE FROM \(table) WHERE \(key) = $1"
        }
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
    }

    /// The files the row `operation` touches names now, in the fields it may change.
    private func fileNames(of operation: MirrorOperation, type: MirrorEntityType, on connection: PostgresConnection) async throws -> Set<String> {
        let columns = type.fields.filter { $0.value == .file && (operation.kind != .modify || operation.fields[$0.key] != nil) }.map(\.key)
        guard !columns.isEmpty else { return [] }
        var binds = PostgresBindings()
        binds.append(operation.key)
        var names: Set<String> = []
        let sql = "SELECT \(columns.map(Self.quoted).joined(separator: ", ")) FROM \(Self.quoted(type.name)) WHERE \(Self.quoted(type.key)) = $1"
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
            let cells = row.makeRandomAccess()
            for index in columns.indices { if let name = try cells[index].decode(String?.self) { names.insert(name) } }
        }
        return names
    }

    /// Removes those of `candidates` that no row names any more.
    private func removeUnnamed(_ candidates: Set<String>) async throws {
        guard !candidates.isEmpty else { return }
        let fileColumns = schema.types.values.flatMap { type in type.fields.filter { $0.value == .file }.map { (type.name, $0.key) } }
        let unnamed = try await withConnection { connection in
            var unnamed: [String] = []
            for name in candidates {
                var named = false
                for (table, column) in fileColumns where !named {
                    var binds = PostgresBindings()
                    binds.append(name)
                    let sql = "SELECT 1 FROM \(Self.quoted(table)) WHERE \(Self.quoted(column)) = $1 LIMIT 1"
                    for try await _ in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger) { named = true }
                }
                if !named { unnamed.append(name) }
            }
            return unnamed
        }
        for name in unnamed { files.remove(name) }
    }

    // MARK: The schema

    private func migrate(_ connection: PostgresConnection) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(Self.quoted(location.schema))"), logger: logger)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS spool_mirror_units (seq bigint GENERATED ALWAYS AS IDENTITY, id text PRIMARY KEY,
                                                           applied_at timestamptz NOT NULL, committed_at timestamptz)
            """, logger: logger)
        for type in schema.types.values.sorted(by: { $0.name < $1.name }) {
            let present = try await columns(of: type.name, on: connection)
            if present.isEmpty {
                let columns = ["\(Self.quoted(type.key)) text PRIMARY KEY"]
                    + type.fields.sorted(by: { $0.key < $1.key }).map { "\(Self.quoted($0.key)) \(Self.sqlType($0.value))" }
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(Self.quoted(type.name)) (\(columns.joined(separator: ", ")))"),
                                           logger: logger)
                continue
            }
            for (name, fieldType) in type.fields.sorted(by: { $0.key < $1.key }) {
                if let existing = present[name] {
                    guard existing == Self.catalogType(fieldType) else {
                        throw SpoolError(.invalidState, "mirror table \(type.name): column \(name) is \(existing), but the field is declared \(fieldType.rawValue)")
                    }
                } else {
                    try await connection.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(Self.quoted(type.name)) ADD COLUMN \(Self.quoted(name)) \(Self.sqlType(fieldType))"),
                                               logger: logger)
                }
            }
        }
    }

    /// The columns of `table` in the mirror's schema, with their types as the catalog names them.
    private func columns(of table: String, on connection: PostgresConnection) async throws -> [String: String] {
        var binds = PostgresBindings()
        binds.append(location.schema)
        binds.append(table)
        var columns: [String: String] = [:]
        let rows = try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
            """, binds: binds), logger: logger)
        for try await (name, type) in rows.decode((String, String).self) { columns[name] = type }
        return columns
    }

    static func sqlType(_ type: MirrorFieldType) -> String {
        switch type {
        case .string, .file: "text"
        case .integer: "bigint"
        case .double: "double precision"
        case .bool: "boolean"
        case .date: "timestamptz"
        case .json: "jsonb"
        }
    }

    /// The type `information_schema.columns.data_type` names for a field type's column.
    static func catalogType(_ type: MirrorFieldType) -> String {
        type == .date ? "timestamp with time zone" : sqlType(type)
    }

    // MARK: Values

    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// The placeholder of parameter `index` for a column of `type`: every value is bound as
    /// text (or a number) and cast by the statement.
    static func placeholder(_ index: Int, _ type: MirrorFieldType) -> String {
        switch type {
        case .string, .file: "$\(index)"
        case .integer: "$\(index)::bigint"
        case .double: "$\(index)::double precision"
        case .bool: "$\(index)::boolean"
        case .date: "to_timestamp($\(index)::double precision)"
        case .json: "$\(index)::jsonb"
        }
    }

    static func bind(_ value: MirrorValue, to binds: inout PostgresBindings) {
        switch value {
        case .null: binds.append(Optional<String>.none)
        case .string(let text): binds.append(text)
        case .integer(let number): binds.append(String(number))
        case .double(let number): binds.append(String(number))
        case .bool(let flag): binds.append(flag ? "true" : "false")
        case .date(let date): binds.append(String(date.timeIntervalSince1970))
        case .json(let json): binds.append(json.compactText)
        case .file(let bytes): binds.append(MirrorFiles.name(bytes))
        }
    }

    /// How a column of `type` is read back: as text that ``value(_:as:files:)`` parses.
    static func readable(_ column: String, _ type: MirrorFieldType) -> String {
        type == .date ? "extract(epoch FROM \(column))::text" : "\(column)::text"
    }

    static func value(_ text: String?, as type: MirrorFieldType, files: MirrorFiles) throws -> MirrorValue {
        guard let text else { return .null }
        switch type {
        case .string: return .string(text)
        case .integer: return Int64(text).map(MirrorValue.integer) ?? .null
        case .double: return Double(text).map(MirrorValue.double) ?? .null
        case .bool: return .bool(text == "true" || text == "t")
        case .date: return Double(text).map { .date(Date(timeIntervalSince1970: $0)) } ?? .null
        case .json: return .json(try JSONValue.parse(text))
        case .file: return .file(try files.read(text))
        }
    }

    // MARK: The connection

    /// Runs `body` on the mirror's connection, connecting first when there is none; a refusal
    /// of the unit's statements becomes ``SpoolError``, and a broken connection is dropped so
    /// the next call connects again.
    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let current: PostgresConnection
        if let open = connection.withLock({ $0 }), !open.isClosed {
            current = open
        } else {
            current = try await PostgresConnection.connect(configuration: configuration, id: connections.add(1, ordering: .relaxed).newValue,
                                                           logger: logger)
            connection.withLock { $0 = current }
        }
        do {
            return try await body(current)
        } catch let error as PSQLError {
            if let state = error.serverInfo?[.sqlState], ["42", "22", "23"].contains(String(state.prefix(2))) {
                // Undefined table or column, wrong data, a broken constraint: the tables refuse it.
                throw SpoolError(.invalidState, "the mirror refuses it: \(error.serverInfo?[.message] ?? "SQLSTATE \(state)")")
            }
            if current.isClosed { connection.withLock { $0 = nil } }
            throw error
        }
    }
}
