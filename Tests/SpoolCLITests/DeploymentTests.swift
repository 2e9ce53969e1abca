import Foundation
import SpoolTestSupport
import Testing

@Suite("The systemd units of deploy/systemd")
struct DeploymentTests {
    static let units = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/systemd")

    /// The unit's `KEY=` values, in order.
    static func values(_ key: String, in unit: String) throws -> [String] {
        try String(contentsOf: units.appendingPathComponent(unit), encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    /// The unit's command line as systemd would run it for `stateDirectory`: the installed
    /// binary's path replaced by the one built here, and a fixed port by a free one.
    static func command(of unit: String, stateDirectory: String) throws -> [String] {
        let line = try #require(try values("ExecStart", in: unit).first)
        return line.replacingOccurrences(of: "${STATE_DIRECTORY}", with: stateDirectory)
            .replacingOccurrences(of: "127.0.0.1:7070", with: "127.0.0.1:0")
            .split(separator: " ").map(String.init)
    }

    @Test("a worker instance runs as its unit says, keeps its identity in its state directory and stops on SIGTERM within the unit's stop timeout")
    func worker() async throws {
        let directory = try TemporaryDirectory()
        let state = directory.path("worker-1")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let command = try Self.command(of: "spool-worker@.service", stateDirectory: state)
        #expect(command.first == "/usr/local/bin/spool" && command.dropFirst().first == "worker")
        #expect(try Self.values("KillSignal", in: "spool-worker@.service") == ["SIGTERM"])
        let timeout = try #require(Double(try Self.values("TimeoutStopSec", in: "spool-worker@.service").first ?? ""))
        #expect(timeout > 25, "longer than the worker's grace period")

        let environment = ["SPOOL_STORE": "sqlite:" + directory.path("spool.db")]
        for round in 1...2 {
            let log = directory.path("worker-\(round).log")
            let worker = try SpoolProcess.start(Array(command.dropFirst()), environment: environment, log: log, in: directory.url.path)
            let deadline = Date().addingTimeInterval(60)
            while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("dispatcher activated"), Date() < deadline, worker.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
            let identity = try String(contentsOfFile: state + "/uuid.txt", encoding: .utf8)
            #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(identity.trimmingCharacters(in: .whitespacesAndNewlines)),
                    "round \(round) runs as the identity kept in the state directory")
            let stopped = Date()
            worker.signal(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            #expect(Date().timeIntervalSince(stopped) < timeout)
        }
    }

    @Test("the server runs as its unit says: the API only, on loopback, and stops on SIGTERM")
    func serve() async throws {
        let directory = try TemporaryDirectory()
        let command = try Self.command(of: "spool-serve.service", stateDirectory: directory.url.path)
        #expect(command.dropFirst().prefix(2) == ["serve", "--no-worker"])
        let log = directory.path("serve.log")
        let server = try SpoolProcess.start(Array(command.dropFirst()), environment: ["SPOOL_STORE": "sqlite:" + directory.path("spool.db")],
                                            log: log, in: directory.url.path)
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Dashboard: http://127.0.0.1:"), Date() < deadline, server.isRunning {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Dashboard: http://127.0.0.1:"))
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
    }
}
