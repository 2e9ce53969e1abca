import ArgumentParser
import Foundation
import ServiceLifecycle
import SpoolCore
import SpoolReplication
import SpoolReplicationSQLite
import SpoolServer
import SpoolSQLite

/// `spool replicate`: the primary of an SQLite store.
struct ReplicateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Capture every commit of an SQLite store and stream it to secondaries.",
        discussion: """
            Captures each committed transaction of the store file, whichever process wrote it, from its \
            write-ahead log, keeps the latest in a retained log, and streams them to each `spool secondary` \
            from the position it greets with. A secondary behind what the log retains (an empty one, or one \
            from before this primary started) first gets a snapshot of the store as it stands, then the stream. \
            Runs until stopped.
            """)

    @Option(help: "Where secondaries connect: HOST:PORT (port 0 picks one; the address is printed).")
    var listen: String = "127.0.0.1:7071"

    @Option(help: "The most page bytes the retained log keeps.")
    var retainBytes: Int = 256 << 20

    @Option(help: "How many seconds the retained log keeps a transaction.")
    var retainSeconds: Double = 3600

    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging(default: .info)
        try await reportingErrors {
            let (host, port) = try ServerConfiguration.hostAndPort(listen, option: "--listen")
            guard retainBytes > 0, retainSeconds.isFinite, retainSeconds > 0 else {
                throw SpoolError(.invalidArgument, "--retain-bytes and --retain-seconds must be positive")
            }
            var configuration = ReplicationPrimary.Configuration()
            configuration.limits = .init(bytes: retainBytes, age: .milliseconds(Int64(retainSeconds * 1000)))
            let primary = try await ReplicationPrimary(path: try options.sqlitePath(), host: host, port: port, configuration: configuration)
            print("spool replicate: primary of \(primary.path), secondaries connect to \(primary.address.host):\(primary.address.port)")
            fflush(nil)
            try await primary.run()
        }
    }
}

/// `spool secondary`: a copy of a primary's SQLite store, kept up to date.
struct SecondaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secondary",
        abstract: "Keep a copy of a primary's SQLite store, applying each transaction it streams.",
        discussion: """
            Connects to `spool replicate`, greets with the last transaction applied, and applies each later \
            transaction whole, once its checksum follows from the copy's history; reconnects with backoff \
            after any failure and resumes. A snapshot is written aside and replaces the copy once whole and \
            verified. The copy's position is kept next to it (PATH-replication).
            """)

    @Option(help: "The primary: HOST:PORT.")
    var primary: String

    @Option(name: .customLong("batch-ms"),
            help: "While transactions keep arriving, gather them this many milliseconds from the start of one write of the copy to the next (fewer syncs of the disk; 0 writes as soon as the last write ends).")
    var batchMilliseconds = Int((ReplicationSecondary.defaultBatchInterval / .milliseconds(1)).rounded())

    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging(default: .info)
        try await reportingErrors {
            let (host, port) = try ServerConfiguration.hostAndPort(primary, option: "--primary")
            guard (0...10_000).contains(batchMilliseconds) else {
                throw SpoolError(.invalidArgument, "--batch-ms must be from 0 to 10000 milliseconds, got \(batchMilliseconds)")
            }
            let secondary = try ReplicationSecondary(path: try options.sqlitePath(), primaryHost: host, port: port,
                                                     batchInterval: .milliseconds(batchMilliseconds))
            print("spool secondary: copy \(secondary.path) at transaction \(secondary.position.transaction), following \(host):\(port)")
            fflush(nil)
            try await secondary.run()
        }
    }
}

/// `spool promote`: makes a secondary's copy the store of a new primary.
struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Make a secondary's copy a primary's store, at the next term.",
        discussion: """
            Run it once `spool secondary` on the copy has stopped (its primary is gone). The copy becomes a \
            store that accepts writes, at the next term: start `spool replicate` on it for secondaries and point \
            workers and servers at it. Secondaries of the old primary that greet the new one get a snapshot of \
            it; the old primary, should it come back, refuses writes from then on as soon as a secondary of the \
            new term greets it.
            """)

    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging()
        try await reportingErrors {
            let path = try options.sqlitePath()
            let (term, position) = try ReplicationSecondary.promote(path: path)
            print("spool promote: \(path) is now a primary's store at term \(term), from transaction \(position.transaction); start spool replicate on it for secondaries, and point workers at it")
        }
    }
}

/// What `spool status`, `GET /status` and `/metrics` say of a replicated SQLite store: the
/// `replication` part and the lag metrics from its status file (``StatusFile``), and no probe
/// job on a secondary's read-only copy.
enum ReplicationReporting {
    /// Adds the replication part (and leaves out the probe on a copy) for `store`.
    static func configure(_ status: inout StatusCheck.Configuration, store: any JobStore) {
        guard let sqlite = store as? SQLiteStore else { return }
        if let follows = sqlite.follows { status.probeRefused = "this store is a read-only copy following \(follows)" }
        let path = sqlite.path
        status.additionalParts.append {
            StatusFile.check(store: path).map { StatusCheck.Part(name: "replication", ok: $0.ok, detail: $0.detail, milliseconds: 0) }
        }
    }

    /// Adds the lag metrics of `store` to `/metrics`.
    static func configure(_ server: inout ServerConfiguration, store: any JobStore) {
        configure(&server.status, store: store)
        guard let path = (store as? SQLiteStore)?.path else { return }
        server.additionalMetrics = { StatusFile.metrics(store: path) }
        server.replicationStatus = { StatusFile.read(of: path) }
    }
}

/// `spool serve --replicate`: the store's replication primary in the server's process, until
/// shutdown.
struct ReplicationService: Service {
    let primary: ReplicationPrimary

    /// Starts capturing `store` (an SQLite store of its own, not a copy) and listens on `listen`.
    init(replicating store: any JobStore, listen: String) async throws {
        guard let sqlite = store as? SQLiteStore else {
            throw SpoolError(.invalidArgument, "--replicate replicates an SQLite store; PostgreSQL has replication of its own")
        }
        if let follows = sqlite.follows {
            throw SpoolError(.invalidArgument, "--replicate: \(sqlite.path) is a copy following \(follows); promote it first (spool promote)")
        }
        let (host, port) = try ServerConfiguration.hostAndPort(listen, option: "--replicate")
        primary = try await ReplicationPrimary(path: sqlite.path, host: host, port: port)
        print("Replication: secondaries connect to \(primary.address.host):\(primary.address.port)")
        fflush(nil)
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await primary.run() }
        } catch is CancellationError {
            // The graceful shutdown ends it by cancelling: not a failure (one would cancel the
            // whole group, the dispatcher's graceful stop included).
        }
    }
}
