import Foundation
import SpoolCore

/// The persistent identity of a dispatcher: a UUID in a file, created on first start and
/// stable across restarts, so a restarted dispatcher recognises jobs it held before a crash.
public enum DispatcherIdentity {
    /// The environment variable naming the file.
    public static let environmentVariable = "SPOOL_UUID_FILE"

    /// The file to use: `SPOOL_UUID_FILE` when set, else `uuid.txt` in `dataDirectory`.
    public static func path(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment[environmentVariable], !path.isEmpty { return path }
        return URL(fileURLWithPath: dataDirectory).appendingPathComponent("uuid.txt").path
    }

    /// Reads the UUID from the first line of `path`, creating the file with a new UUID when
    /// missing. Throws a ``SpoolError`` naming the file when it holds something else.
    public static func load(path: String) throws -> UUID {
        if let data = FileManager.default.contents(atPath: path) {
            let firstLine = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let text = firstLine.trimmingCharacters(in: .whitespaces)
            guard let uuid = UUID(uuidString: text) ?? UUID(hexadecimal: text) else {
                throw SpoolError(.invalidArgument, "dispatcher UUID file \(path) does not start with a UUID (found '\(text.prefix(40))')")
            }
            return uuid
        }
        let uuid = UUID()
        let text = uuid.uuidString.lowercased() + "\n"
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw SpoolError(.storeUnavailable, "cannot create dispatcher UUID file \(path): \(error.localizedDescription)")
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
