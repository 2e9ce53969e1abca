import Crypto
import Foundation
import SpoolCore

/// The shared secrets requests of `spool.http` jobs are signed with, each with a key id: the first
/// signs, every one is accepted by a receiver, so a secret can be rotated without downtime (add
/// the new one second, move it first, then remove the old one).
public struct HTTPSigningKeys: Sendable {
    /// One secret and its key id.
    public struct Key: Sendable {
        /// The key id, sent in the signature (`k=`) so the receiver knows which secret to check with.
        public var id: String
        let secret: SymmetricKey

        /// A key from its id and secret.
        public init(id: String, secret: String) {
            self.id = id
            self.secret = SymmetricKey(data: Data(secret.utf8))
        }
    }

    /// The environment variable the secrets come from.
    public static let environmentVariable = "SPOOL_HTTP_SECRET"
    /// The shortest secret accepted, in bytes.
    public static let minimumSecretLength = 16

    /// The keys: the first signs, all are accepted.
    public let keys: [Key]

    /// Keys from a list; the first signs.
    public init(_ keys: [Key]) {
        self.keys = keys
    }

    /// Parses `ID:SECRET[,ID:SECRET…]`, or a single secret without a `:` (key id `default`).
    /// Key ids are letters, digits, `-`, `_` and `.`; secrets are at least 16 bytes and hold no
    /// commas. A malformed value is refused naming the entry (never its secret).
    public init(parsing text: String) throws {
        var keys: [Key] = []
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for (index, entry) in entries.enumerated() {
            let parts = entry.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 || entries.count == 1 else {
                throw SpoolError(.invalidArgument, "\(Self.environmentVariable) entry \(index + 1): with several secrets, write each as ID:SECRET")
            }
            let (id, secret) = parts.count == 2 ? (String(parts[0]), String(parts[1])) : ("default", entry)
            guard Self.isKeyID(Substring(id)) else {
                throw SpoolError(.invalidArgument, "\(Self.environmentVariable) entry \(index + 1): key id '\(id.prefix(40))' may hold only letters, digits, '-', '_' and '.'")
            }
            guard secret.utf8.count >= Self.minimumSecretLength else {
                throw SpoolError(.invalidArgument, "\(Self.environmentVariable) entry \(index + 1) (key '\(id)'): the secret must be at least \(Self.minimumSecretLength) bytes")
            }
            guard !keys.contains(where: { $0.id == id }) else {
                throw SpoolError(.invalidArgument, "\(Self.environmentVariable): key id '\(id)' appears twice")
            }
            keys.append(Key(id: id, secret: secret))
        }
        self.keys = keys
    }

    /// The keys `SPOOL_HTTP_SECRET` names in `environment`, or `nil` when it is unset or empty.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HTTPSigningKeys? {
        guard let text = environment[environmentVariable], !text.isEmpty else { return nil }
        return try HTTPSigningKeys(parsing: text)
    }

    /// The key with `id`, if any.
    func key(id: String) -> Key? { keys.first { $0.id == id } }

    static func isKeyID(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 64 && text.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == ".")
        }
    }
}
