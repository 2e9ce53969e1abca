import Foundation
import GRDB
import SpoolCore
import SpoolMirror

/// A relational mirror in an SQLite file: one table per declared entity type, named after it,
/// with the key as its primary key and one typed column per field (string and JSON as TEXT,
/// integer and bool as INTEGER, double as REAL, date as ISO 8601 TEXT, file as the TEXT name of
/// the file under the mirror's file directory: the SHA-256 of its bytes).
///
/// ``apply(_:)`` applies a unit in one transaction and records its id, so a unit delivered
/// again changes nothing. An add writes the whole row (fields it does not give are NULL), a
/// modify changes the columns it gives of an existing row, a delete removes the row; files are
/// written before the transaction, and those the unit's rows named before and no row names
/// after it are removed once it commits.
public final class SQLiteMirror: MirrorTarget {
    /// The declared types.
    public let schema: MirrorSchema
    /// Where file fields are written.
    public let fileDirectory: URL
    private let files: MirrorFiles
    private let database: DatabaseQueue
    private let tables: [String: Table]

    /// What applying operations of one type needs, worked out once: its statements' text, its
    /// fields in column order, its file fields, and each column's quoted name.
    private struct Table: Sendable {
        let type: MirrorEntityType
        let fields: [String]
        let fileFields: [String]
        let quotedColumns: [String: String]
        let insert: String
        let delete: String

        init(_ type: MirrorEntityType) {
            self.type = type
            let fields = type.fields.keys.sorted()
            self.fields = fields
            fileFields = fields.filter { type.fields[$0] == .file }
            quotedColumns = Dictionary(uniqueKeysWithValues: fields.map { ($0, SQLiteMirror.quoted($0)) })
            let table = SQLiteMirror.quoted(type.name), key = SQLiteMirror.quoted(type.key)
            let columns = ([key] + fields.map(SQLiteMirror.quoted)).joined(separator: ", ")
            insert = "INSERT OR REPLACE INTO \(table) (\(columns)) VALUES (\(Array(repeating: "?", count: fields.count + 1).joined(separator: ", ")))"
            delete = "DELETE FROM \(table) WHERE \(key) = ?"
        }

        /// The update of the fields `names` (sorted), the key last.
        func update(_ names: [String]) -> String {
            "UPDATE \(SQLiteMirror.quoted(type.name)) SET \(names.map { quotedColumns[$0]! + " = ?" }.joined(separator: ", ")) WHERE \(SQLiteMirror.quoted(type.key)) = ?"
        }
    }

    /// Opens (creating) the mirror at `path`, creating each type's table and adding the columns
    /// of fields declared since; a column whose type differs from its declaration is refused.
    public init(path: String, schema: MirrorSchema, fileDirectory: URL) throws {
        self.schema = schema
        self.fileDirectory = fileDirectory
        files = try MirrorFiles(directory: fileDirectory)
        tables = schema.types.mapValues(Table.init)
        // Several processors may share the mirror: write-ahead log (GRDB writes in immediate transactions),
        // and waiting for another's write lock instead of failing at once.
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.journalMode = .wal
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS spool_mirror_units (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            if try !db.columns(in: "spool_mirror_units").contains(where: { $0.name == "committed_at" }) {
                try db.execute(sql: "ALTER TABLE spool_mirror_units ADD COLUMN committed_at TEXT")
            }
            for type in schema.types.values.sorted(by: { $0.name < $1.name }) {
                let table = Self.quoted(type.name)
                if try db.tableExists(type.name) {
                    let columns = Dictionary(try db.columns(in: type.name).map { ($0.name, $0.type.uppercased()) }) { first, _ in first }
                    for (name, fieldType) in type.fields.sorted(by: { $0.key < $1.key }) {
                        if let existing = columns[name] {
                            guard existing == Self.sqlType(fieldType) else {
                                throw SpoolError(.invalidState, "mirror table \(type.name): column \(name) is \(existing), but the field is declared \(fieldType.rawValue)")
                            }
                        } else {
                            try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN \(Self.quoted(name)) \(Self.sqlType(fieldType))")
                        }
                    }
                } else {
                    let columns = ["\(Self.quoted(type.key)) TEXT PRIMARY KEY NOT NULL"]
                        + type.fields.sorted(by: { $0.key < $1.key }).map { "\(Self.quoted($0.key)) \(Self.sqlType($0.value))" }
                    try db.execute(sql: "CREATE TABLE \(table) (\(columns.joined(separator: ", ")))")
                }
                for (name, fieldType) in type.fields where fieldType == .file {
                    try db.execute(sql: "CREATE INDEX IF NOT EXISTS \(Self.quoted("\(type.name)_\(name)_file")) ON \(table) (\(Self.quoted(name)))")
                }
            }
        }
    }

    /// Applies `unit` unless it was applied before; returns whether it was applied now. A unit
    /// the tables refuse (a column or table missing, altered by hand) throws ``SpoolError``.
    @discardableResult
    public func apply(_ unit: MirrorUnit) throws -> Bool {
        try apply([unit])[0]
    }

    /// Applies `units` in order in one transaction (one sync to disk for all), each unless it
    /// was applied before; returns for each whether it was applied now. When the tables refuse
    /// one, nothing is applied and ``SpoolError`` names it: apply them one by one to find it.
    public func apply(_ units: [MirrorUnit]) throws -> [Bool] {
        try files.write(units)
        let (applied, replaced) = try database.write { db -> ([Bool], Set<String>) in
            var replaced: Set<String> = []
            let applied = try units.map { unit in
                do {
                    return try write(unit, in: db, replacing: &replaced)
                } catch let error as DatabaseError where [.SQLITE_ERROR, .SQLITE_CONSTRAINT, .SQLITE_MISMATCH].contains(error.resultCode) {
                    // The mirror's tables do not take the unit (altered by hand, say): it can never apply.
                    throw SpoolError(.invalidState, "mirror unit \(unit.id.uuidString.lowercased()) does not apply: \(error.message ?? "\(error)")")
                }
            }
            return (applied, replaced)
        }
        try removeUnnamed(replaced)
        return applied
    }

    private func write(_ unit: MirrorUnit, in db: Database, replacing replaced: inout Set<String>) throws -> Bool {
        // The unit's record first: one that is there already (the unit was applied) inserts
        // nothing, and then nothing else is done; otherwise it commits with the operations.
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO spool_mirror_units (id, applied_at, committed_at) VALUES (?, ?, ?)")
            .execute(arguments: [unit.id.uuidString.lowercased(), ISO8601.formatMicroseconds(Date()), unit.committedAt.map(ISO8601.formatMicroseconds)])
        guard db.changesCount == 1 else { return false }
        for operation in unit.operations {
            replaced.formUnion(try fileNames(of: operation, in: db))
            try apply(operation, in: db)
        }
        return true
    }

    public func status() throws -> MirrorStatus {
        try database.read(Self.status)
    }

    /// What the mirror at `path` applied, read without changing it; a missing file is refused.
    /// The connection is an ordinary one that only reads: a read-only connection to a database in
    /// WAL mode cannot recover or checkpoint the log that a processor killed mid-write leaves.
    public static func status(at path: String) throws -> MirrorStatus {
        guard FileManager.default.fileExists(atPath: path) else { throw SpoolError(.invalidArgument, "no mirror at \(path)") }
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            guard try db.tableExists("spool_mirror_units") else { return MirrorStatus(applied: 0, last: nil) }
            return try status(db)
        }
    }

    private static func status(_ db: Database) throws -> MirrorStatus {
        let applied = try Int.fetchOne(db, sql: "SELECT count(*) FROM spool_mirror_units") ?? 0
        guard let row = try Row.fetchOne(db, sql: "SELECT id, applied_at, committed_at FROM spool_mirror_units ORDER BY rowid DESC LIMIT 1"),
              let id = UUID(uuidString: row[0] as String), let appliedAt = ISO8601.parse(row[1] as String) else {
            return MirrorStatus(applied: applied, last: nil)
        }
        return MirrorStatus(applied: applied, last: .init(id: id, appliedAt: appliedAt, committedAt: (row[2] as String?).flatMap(ISO8601.parse)))
    }

    /// The row of `type` with `key`, as values by column, or `nil`.
    public func row(_ type: String, key: String) throws -> [String: MirrorValue]? {
        let declared = try schema.types[type].orThrow("mirror type '\(type)' is not declared")
        return try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM \(Self.quoted(type)) WHERE \(Self.quoted(declared.key)) = ?", arguments: [key]) else {
                return nil
            }
            var values: [String: MirrorValue] = [:]
            // A column dropped by hand leaves its field out (GRDB traps on a missing column).
            for (name, fieldType) in declared.fields where row.hasColumn(name) {
                values[name] = try Self.value(row[name], as: fieldType, files: files)
            }
            return values
        }
    }

    /// How many rows `type`'s table holds.
    public func count(_ type: String) throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.quoted(type))") ?? 0 }
    }

    /// Applies one operation with statements prepared once per connection and kept.
    private func apply(_ operation: MirrorOperation, in db: Database) throws {
        let table = try tables[operation.type].orThrow("mirror type '\(operation.type)' is not declared")
        switch operation.kind {
        // Values as `(any DatabaseValueConvertible)?`: GRDB turns a sequence of one concrete type
        // into arguments through a key path made anew at every call, which cost more than the
        // statement's binding.
        case .add:
            var values: [(any DatabaseValueConvertible)?] = [operation.key]
            values.reserveCapacity(table.fields.count + 1)
            for name in table.fields { values.append(Self.databaseValue(operation.fields[name] ?? .null)) }
            try db.cachedStatement(sql: table.insert).execute(arguments: StatementArguments(values))
        case .modify:
            let names = operation.fields.keys.sorted()
            guard !names.isEmpty else { return }
            var values: [(any DatabaseValueConvertible)?] = names.map { Self.databaseValue(operation.fields[$0]!) }
            values.append(operation.key)
            try db.cachedStatement(sql: table.update(names)).execute(arguments: StatementArguments(values))
        case .delete:
            try db.cachedStatement(sql: table.delete).execute(arguments: [operation.key])
        }
    }

    /// The files the row `operation` touches names now, in the fields it may change.
    private func fileNames(of operation: MirrorOperation, in db: Database) throws -> Set<String> {
        guard let table = tables[operation.type], !table.fileFields.isEmpty else { return [] }
        let columns = table.fileFields.filter { operation.kind != .modify || operation.fields[$0] != nil }
        guard !columns.isEmpty, let row = try Row.fetchOne(db, sql: "SELECT \(columns.map(Self.quoted).joined(separator: ", ")) FROM \(Self.quoted(table.type.name)) WHERE \(Self.quoted(table.type.key)) = ?", arguments: [operation.key]) else {
            return []
        }
        return Set(columns.compactMap { String.fromDatabaseValue(row[$0]) })
    }

    /// Removes those of `candidates` that no row names any more.
    private func removeUnnamed(_ candidates: Set<String>) throws {
        guard !candidates.isEmpty else { return }
        let fileColumns = schema.types.values.flatMap { type in type.fields.filter { $0.value == .file }.map { (type.name, $0.key) } }
        let unnamed = try database.read { db in
            try candidates.filter { name in
                try fileColumns.allSatisfy { table, column in
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM \(Self.quoted(table)) WHERE \(Self.quoted(column)) = ? LIMIT 1", arguments: [name]) == nil
                }
            }
        }
        for name in unnamed { files.remove(name) }
    }

    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func sqlType(_ type: MirrorFieldType) -> String {
        switch type {
        case .string, .date, .json, .file: "TEXT"
        case .integer, .bool: "INTEGER"
        case .double: "REAL"
        }
    }

    static func databaseValue(_ value: MirrorValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .string(let text): text.databaseValue
        case .integer(let number): number.databaseValue
        case .double(let number): number.databaseValue
        case .bool(let flag): (flag ? 1 : 0).databaseValue
        case .date(let date): ISO8601.formatMicroseconds(date).databaseValue
        case .json(let json): json.compactText.databaseValue
        case .file(let bytes): MirrorFiles.name(bytes).databaseValue
        }
    }

    static func value(_ stored: DatabaseValue, as type: MirrorFieldType, files: MirrorFiles) throws -> MirrorValue {
        if stored.isNull { return .null }
        switch type {
        case .string: return String.fromDatabaseValue(stored).map(MirrorValue.string) ?? .null
        case .integer: return Int64.fromDatabaseValue(stored).map(MirrorValue.integer) ?? .null
        case .double: return Double.fromDatabaseValue(stored).map(MirrorValue.double) ?? .null
        case .bool: return Int64.fromDatabaseValue(stored).map { .bool($0 != 0) } ?? .null
        case .date: return String.fromDatabaseValue(stored).flatMap(ISO8601.parse).map(MirrorValue.date) ?? .null
        case .json: return try String.fromDatabaseValue(stored).map { .json(try JSONValue.parse($0)) } ?? .null
        case .file:
            guard let name = String.fromDatabaseValue(stored) else { return .null }
            return .file(try files.read(name))
        }
    }
}

extension Optional {
    fileprivate func orThrow(_ message: @autoclosure () -> String) throws -> Wrapped {
        guard let value = self else { throw SpoolError(.invalidArgument, message()) }
        return value
    }
}
