import Crypto
import Foundation
import SpoolCore

/// Where a mirror keeps file fields: a directory of files named by the SHA-256 of their
/// content, so the same content is stored once and a row names its file by that hash.
public struct MirrorFiles: Sendable {
    /// The directory.
    public let directory: URL

    /// Files under `directory`, created when missing.
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// The name a file with `bytes` has: their SHA-256, lowercase hex.
    public static func name(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes)) }

    /// Writes the file fields of `units`, each once, before their transaction names them.
    public func write(_ units: [MirrorUnit]) throws {
        for unit in units {
            for operation in unit.operations {
                for case .file(let bytes) in operation.fields.values {
                    let url = directory.appendingPathComponent(Self.name(bytes))
                    if !FileManager.default.fileExists(atPath: url.path) { try Data(bytes).write(to: url, options: .atomic) }
                }
            }
        }
    }

    /// The bytes of the file `name`.
    public func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: directory.appendingPathComponent(name))) }

    /// Removes the file `name`; a missing one is no error.
    public func remove(_ name: String) { try? FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }
}
