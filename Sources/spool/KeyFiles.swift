import Foundation

/// Warns about private keys that others on the host may read: `spool serve --tls-key`, a
/// PostgreSQL URL's `sslkey` and an AMQP URL's `keyfile`. As libpq asks, a key should be
/// readable by its owner alone (0600), or also by its group when root owns it (0640); Spool
/// uses a looser key all the same, after a warning that names the file and the fix.
enum KeyFiles {
    /// The URL query items that name a private key.
    static let keyItems: Set<String> = ["sslkey", "keyfile"]

    /// The warning for the private key at `path` (given as `option`), or `nil` when its
    /// permissions are tight (or it cannot be read: using it will say why).
    static func warning(path: String, option: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        let mode = status.st_mode & 0o777
        let tight = status.st_uid == 0 ? mode & 0o037 == 0 : mode & 0o077 == 0
        guard !tight else { return nil }
        let allowed = status.st_uid == 0 ? "0640 or less (owned by root)" : "0600 or less"
        return "the private key \(path) (\(option)) may be read by \(mode & 0o007 != 0 ? "every user" : "its group") of this host "
            + "(mode \(String(mode, radix: 8, uppercase: false).leftPadded(to: 4))); make it \(allowed): chmod \(status.st_uid == 0 ? "640" : "600") \(path)"
    }

    /// Warns about the private key at `path`, if it needs it, on standard error whatever the
    /// log level.
    static func check(path: String?, option: String) {
        guard let path, let warning = warning(path: path, option: option) else { return }
        FileHandle.standardError.write(Data("spool: warning: \(warning)\n".utf8))
    }

    /// Warns about each private key `url` names in its query (`sslkey=`, `keyfile=`).
    static func check(url: String) {
        guard let items = URLComponents(string: url)?.queryItems else { return }
        for item in items where keyItems.contains(item.name) {
            check(path: item.value, option: "\(item.name)= of a URL")
        }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
