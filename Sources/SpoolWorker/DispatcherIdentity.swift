import Foundation
import SpoolCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The persistent identity of a dispatcher: a UUID in a file, created on first start and stable
/// across restarts, so a restarted dispatcher recognises jobs it held before a crash.
///
/// A process holds its identity file exclusively (an advisory `flock`) for as long as this object
/// lives, so no two processes on one host act as one dispatcher. With the default location, a
/// second process takes the next free slot (`uuid.txt`, `uuid-2.txt`, `uuid-3.txt`, ...), so
/// every process keeps finding its own slot on restart; a file named explicitly (`--uuid-file`,
/// `SPOOL_UUID_FILE`) that another process holds is refused.
public final class DispatcherIdentity: Sendable {
    /// The environment variable naming the file.
    public static let environmentVariable = "SPOOL_UUID_FILE"
    /// How many default slots a data directory offers.
    public static let slotCount = 64

    /// The dispatcher's UUID.
    public let id: UUID
    /// The file it came from.
    public let path: String
    private let descriptor: Int32

    private init(id: UUID, path: String, descriptor: Int32) {
        self.id = id
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The explicitly chosen file, if any: `file` (an option) else `SPOOL_UUID_FILE`.
    public static func chosenPath(_ file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let file, !file.isEmpty { return file }
        if let path = environment[environmentVariable], !path.isEmpty { return path }
        return nil
    }

    /// The default slot number `slot` (1-based) in `dataDirectory`: `uuid.txt`, then `uuid-2.txt`, ...
    public static func slotPath(_ slot: Int, in dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent(slot == 1 ? "uuid.txt" : "uuid-\(slot).txt").path
    }

    /// Takes this process's identity: the chosen file (``chosenPath(_:environment:)``) when there
    /// is one, else the first free default slot in `dataDirectory`.
    public static func acquire(file: String?, dataDirectory: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DispatcherIdentity {
        if let path = chosenPath(file, environment: environment) { return try acquire(path: path) }
        return try acquire(inDirectory: dataDirectory)
    }

    /// Takes the identity in `path`, creating the file with a new UUID when missing. Throws a
    /// ``SpoolError`` naming the file when another process holds it or it holds something else.
    public static func acquire(path: String) throws -> DispatcherIdentity {
        guard let identity = try take(path) else {
            throw SpoolError(.dispatcherInUse, """
                dispatcher UUID file \(path) is held by another running process on this host; \
                give this process an identity of its own with --uuid-file PATH or \(environmentVariable)
                """)
        }
        return identity
    }

    /// Takes the first default slot in `dataDirectory` that no other process holds.
    public static func acquire(inDirectory dataDirectory: String) throws -> DispatcherIdentity {
        for slot in 1...slotCount {
            if let identity = try take(slotPath(slot, in: dataDirectory)) { return identity }
        }
        throw SpoolError(.dispatcherInUse, """
            all \(slotCount) dispatcher UUID files in \(dataDirectory) are held by running processes; \
            name one with --uuid-file PATH or \(environmentVariable)
            """)
    }

    /// Opens and locks `path`; `nil` when another process holds it.
    private static func take(_ path: String) throws -> DispatcherIdentity? {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SpoolError(.storeUnavailable, "cannot open dispatcher UUID file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            if reason == EWOULDBLOCK { return nil }
            throw SpoolError(.storeUnavailable, "cannot lock dispatcher UUID file \(path): \(String(cString: strerror(reason)))")
        }
        do {
            return DispatcherIdentity(id: try uuid(in: descriptor, path: path), path: path, descriptor: descriptor)
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Reads the UUID from the first line of the locked file, writing a new one into an empty file.
    private static func uuid(in descriptor: Int32, path: String) throws -> UUID {
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else {
            throw SpoolError(.storeUnavailable, "cannot read dispatcher UUID file \(path): \(String(cString: strerror(errno)))")
        }
        let text = String(decoding: bytes[0..<count], as: UTF8.self)
            .split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        if !text.isEmpty {
            guard let uuid = UUID(uuidString: text) ?? UUID(hexadecimal: text) else {
                throw SpoolError(.invalidArgument, "dispatcher UUID file \(path) does not start with a UUID (found '\(text.prefix(40))')")
            }
            return uuid
        }
        let uuid = UUID()
        let line = Array((uuid.uuidString.lowercased() + "\n").utf8)
        let written = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == line.count, ftruncate(descriptor, off_t(line.count)) == 0, fsync(descriptor) == 0 else {
            throw SpoolError(.storeUnavailable, "cannot write dispatcher UUID file \(path): \(String(cString: strerror(errno)))")
        }
        return uuid
    }
}

extension UUID {
    /// Parses 32 hexadecimal digits without dashes, as zc.async writes them.
    init?(hexadecimal text: String) {
        guard text.count == 32, text.allSatisfy(\.isHexDigit) else { return nil }
        var dashed = text
        for offset in [8, 13, 18, 23] { dashed.insert("-", at: dashed.index(dashed.startIndex, offsetBy: offset)) }
        self.init(uuidString: dashed)
    }
}
