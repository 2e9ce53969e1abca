import Foundation
import SpoolCore

/// Where a PostgreSQL store lives: a server, a database on it and a schema in that database,
/// parsed from `postgres://user[:password]@host[:port]/database[?schema=NAME]`, and how to reach
/// it (TLS options as libpq's: `sslmode`, `sslrootcert`, `sslcert`, `sslkey`; see ``PostgresTLS``).
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// The server's TCP port; 5432 unless the URL names one.
    public var port: Int
    /// The role to connect as.
    public var username: String
    /// The role's password, if the server asks for one.
    public var password: String?
    /// The database to connect to.
    public var database: String
    /// The schema that holds Spool's tables; `public` unless the URL names one.
    public var schema: String
    /// How connections use TLS.
    public var tls = PostgresTLS()

    /// Parses a `postgres://` or `postgresql://` URL; throws `invalidArgument` naming what is wrong.
    public init(url: String) throws {
        guard let components = URLComponents(string: url),
              let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw SpoolError(.invalidArgument, "store '\(Redaction.url(url))' is not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else {
            throw SpoolError(.invalidArgument, "store '\(Redaction.url(url))' names no host; use postgres://user@host:port/database")
        }
        guard let user = components.user, !user.isEmpty else {
            throw SpoolError(.invalidArgument, "store '\(Redaction.url(url))' names no user; use postgres://user@host:port/database")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw SpoolError(.invalidArgument, "store '\(Redaction.url(url))' names no database; use postgres://user@host:port/database")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.schema = "public"
        for item in components.queryItems ?? [] {
            switch item.name {
            case "schema":
                guard let value = item.value, PostgresLocation.isPlainIdentifier(value) else {
                    throw SpoolError(.invalidArgument, "schema '\(item.value ?? "")' must be a lowercase identifier: letters, digits and _, not starting with a digit, at most 63 characters")
                }
                schema = value
            default:
                guard try tls.take(item.name, item.value ?? "") else {
                    throw SpoolError(.invalidArgument, "store URL option '\(item.name)' is unknown; the options are schema, sslmode, sslrootcert, sslcert and sslkey")
                }
            }
        }
        try tls.validate(host: host)
    }

    /// The URL without its password, for messages.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)" + (schema == "public" ? "" : "?schema=\(schema)")
    }

    /// Whether `name` is an identifier PostgreSQL keeps as written without quoting.
    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 63,
              first == "_" || ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
