import ArgumentParser
import Foundation
import Logging
import SpoolAMQP
import SpoolCore
import SpoolPostgres
import SpoolSQLite

/// The options every command shares: which store, which output, how much logging.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store: sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME] (default sqlite:spool.db, or SPOOL_STORE).")
    var store: String?

    @Option(name: .long, help: "Commit durability of the SQLite store: normal (survives a killed process) or full (survives power loss).")
    var durability: String = "normal"

    @Flag(name: .long, help: "Print JSON instead of tables.")
    var json = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (or SPOOL_LOG_LEVEL).")
    var logLevel: String?

    /// The store URL from the option, the environment, or the default.
    var storeURL: String {
        store ?? ProcessInfo.processInfo.environment["SPOOL_STORE"].flatMap { $0.isEmpty ? nil : $0 } ?? "sqlite:spool.db"
    }

    /// Whether the store URL names a PostgreSQL store.
    var isPostgres: Bool {
        storeURL.hasPrefix("postgres://") || storeURL.hasPrefix("postgresql://")
    }

    /// Opens the store the options name: PostgreSQL for `postgres://` and `postgresql://` URLs,
    /// SQLite otherwise.
    func open() async throws -> any JobStore {
        if isPostgres {
            KeyFiles.check(url: storeURL)
            return try await PostgresStore(url: storeURL)
        }
        return try openSQLite()
    }

    /// Opens the SQLite store the options name; other schemes are refused with a clear message.
    func openSQLite() throws -> SQLiteStore {
        guard let mode = Durability(rawValue: durability) else {
            throw SpoolError(.invalidArgument, "unknown durability '\(durability)'; use normal or full")
        }
        return try SQLiteStore(path: try sqlitePath(), durability: mode)
    }

    /// The file path of a `sqlite:` store URL.
    func sqlitePath() throws -> String {
        let url = storeURL
        if url.hasPrefix("sqlite://") { return String(url.dropFirst("sqlite://".count)) }
        if url.hasPrefix("sqlite:") { return String(url.dropFirst("sqlite:".count)) }
        if let scheme = url.split(separator: ":", maxSplits: 1).first, url.contains("://") {
            throw SpoolError(.invalidArgument, "store '\(Redaction.url(url))': the \(scheme) store is not part of this build; use sqlite:PATH or postgres://…")
        }
        return url
    }

    /// The default home of `uuid.txt`: the directory that holds the store file, or the current
    /// directory for a PostgreSQL store.
    func dataDirectory() throws -> String {
        if isPostgres { return FileManager.default.currentDirectoryPath }
        return URL(fileURLWithPath: try sqlitePath()).deletingLastPathComponent().path
    }

    /// Sends logs to standard error at the chosen level.
    func bootstrapLogging(default level: Logger.Level = .warning) {
        bootstrapStandardErrorLogging(option: logLevel, default: level)
    }
}

/// Sends logs to standard error at the level an option (else SPOOL_LOG_LEVEL, else `level`) names.
func bootstrapStandardErrorLogging(option: String?, default level: Logger.Level) {
    let chosen = (option ?? ProcessInfo.processInfo.environment["SPOOL_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? level
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = chosen
        return DeferredMetadataLogHandler(wrapping: handler)
    }
}

/// Runs a command body, turning any error into one line on standard error and exit status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as SpoolError {
        fail(error.message)
    } catch let error as AMQPRPCError {
        fail(error.message)
    } catch {
        fail("\(error)")
    }
}

/// Prints `message` as `spool: message` on standard error and exits with status 1.
func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("spool: \(message)\n".utf8))
    Foundation.exit(status)
}

extension StoreOptions {
    /// Logs only warnings and errors, for commands whose output is the point.
    static func bootstrapQuietLogging() {
        let level = ProcessInfo.processInfo.environment["SPOOL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return DeferredMetadataLogHandler(wrapping: handler)
        }
    }
}
