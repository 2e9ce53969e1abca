import Foundation
import SpoolTestSupport
import Testing

/// The README's shell blocks, run as a user pastes them: one bash session, block after block,
/// with `spool` on the PATH. Only what a test must not touch is changed: `/tmp/` is the test's
/// directory, the server's port `7070` a free one, and the broker URL the test broker's.
/// A command may fail only where its line's comment says it does ("exits 1", "spool: ...").
@Suite("The README's commands", .serialized)
struct ReadmeTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md").path

    /// A fenced block of the README: the line its text starts on, its info string, its lines.
    struct Block {
        let line: Int
        let language: String
        let lines: [String]
    }

    static func blocks() throws -> [Block] {
        var blocks: [Block] = [], current: (line: Int, language: String, lines: [String])?
        for (index, line) in try String(contentsOfFile: readme, encoding: .utf8).components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                if let open = current {
                    blocks.append(Block(line: open.line, language: open.language, lines: open.lines))
                    current = nil
                } else {
                    current = (index + 2, String(line.dropFirst(3)), [])
                }
            } else {
                current?.lines.append(line)
            }
        }
        return blocks
    }

    /// Whether a line's comment says the command on it fails.
    static func documentsFailure(_ line: String) -> Bool {
        guard let comment = line.range(of: "# ") else { return false }
        let text = line[comment.upperBound...]
        return text.contains("exits 1") || text.hasPrefix("spool: ")
    }

    /// A directory on the PATH with `spool` and a `swift` that runs it as `swift run` would.
    static func toolDirectory(in directory: TemporaryDirectory) throws -> String {
        let bin = directory.path("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin + "/spool", withDestinationPath: SpoolProcess.binary)
        let shim = """
            #!/usr/bin/env bash
            # `swift build ...` has been done by the test run; `swift run [-c release] spool ARGS` runs spool ARGS.
            case "$1" in
              build) exit 0 ;;
              run) shift; [ "$1" = "-c" ] && shift 2; shift; exec spool "$@" ;;
            esac
            echo "swift shim: unexpected $*" >&2; exit 2
            """
        // Written through a close-on-exec descriptor: a child another test forks meanwhile must not
        // hold it open for writing, or running the script fails with "Text file busy".
        let descriptor = open(bin + "/swift", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard descriptor >= 0 else { throw ServerError("cannot create the swift shim in \(bin)") }
        let bytes = Array(shim.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else { throw ServerError("cannot write the swift shim in \(bin)") }
        return bin
    }

    @Test("the opening command serves the demo and prints the dashboard's address")
    func openingCommand() async throws {
        let opening = try #require(try Self.blocks().first { $0.language == "sh" })
        #expect(opening.lines.last?.hasPrefix("scripts/test") == true, "the second opening command is this test suite's")
        let command = try #require(opening.lines.first?.components(separatedBy: "#").first?.trimmingCharacters(in: .whitespaces))
        #expect(command == "swift run -c release spool serve --demo")
        let directory = try TemporaryDirectory()
        let bin = try Self.toolDirectory(in: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = bin + ":" + (environment["PATH"] ?? "")
        environment["SPOOL_STORE"] = nil
        let process = try ChildProcess.spawn("/bin/bash", ["-c", "exec " + command + " --listen 127.0.0.1:0"],
                                             environment: environment, outputPath: directory.path("opening.log"))
        defer {
            process.signal(SIGKILL)
            process.waitForExitBlocking()
        }
        let deadline = Date().addingTimeInterval(60)
        var output = ""
        while Date() < deadline, !output.contains("Dashboard: http://") {
            try await Task.sleep(for: .milliseconds(100))
            output = (try? String(contentsOfFile: directory.path("opening.log"), encoding: .utf8)) ?? ""
        }
        #expect(output.contains("Dashboard: http://127.0.0.1:"), "\(output)")
        #expect(output.contains("Demo jobs arrive"), "\(output)")
    }

    @Test("every other shell block runs as written, in order, in one shell; only documented failures fail")
    func shellBlocks() async throws {
        let directory = try TemporaryDirectory()
        let bin = try Self.toolDirectory(in: directory)
        let work = directory.path("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let port = try LoopbackSocket.freePort(), replicationPort = try LoopbackSocket.freePort()
        var broker: Int?
        if RabbitMQServer.shouldRun { broker = try await RabbitMQServer.start().port }

        let blocks = try Self.blocks().filter { $0.language == "sh" }.dropFirst()
        var script = ["cd \(work)", "trap 'echo \"FAILED $LINENO $?\" >> \(directory.path("failures"))' ERR"]
        var origin: [Int: (readme: Int, text: String)] = [:]
        for block in blocks {
            let text = block.lines.joined(separator: "\n")
            if text.contains("spool bench") { continue }   // minutes of benchmarks; BenchCommandTests run them small
            if text.contains("amqp://"), broker == nil { continue }
            if text.contains("sqs://"), !MotoServer.shouldRun { continue }
            for (offset, line) in block.lines.enumerated() {
                var line = line.replacingOccurrences(of: "/tmp/", with: work + "/")
                    .replacingOccurrences(of: "127.0.0.1:7070", with: "127.0.0.1:\(port)")
                    .replacingOccurrences(of: "127.0.0.1:7071", with: "127.0.0.1:\(replicationPort)")
                if let broker { line = line.replacingOccurrences(of: "127.0.0.1:5672", with: "127.0.0.1:\(broker)") }
                script.append(line)
                origin[script.count] = (block.line + offset, line)
            }
        }
        try script.joined(separator: "\n").write(toFile: directory.path("readme.sh"), atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = bin + ":" + (environment["PATH"] ?? "")
        for key in ["SPOOL_STORE", "SPOOL_UUID_FILE", "SPOOL_TOKEN", "SPOOL_AMQP_URL"] { environment[key] = nil }
        if MotoServer.shouldRun {
            // The SQS the blocks reach is the tests' moto, never AWS.
            let moto = try await MotoServer.start()
            environment.merge(["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL_SQS": moto.endpoint,
                               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]) { $1 }
        }
        // Its own process group, so the servers and workers the blocks start in the background
        // can be stopped together afterwards.
        let shell = try ChildProcess.spawn("/usr/bin/setsid", ["/bin/bash", directory.path("readme.sh")], environment: environment,
                                           outputPath: directory.path("readme.log"))
        let status = await shell.waitForExit()
        kill(-shell.pid, SIGTERM)
        try await Task.sleep(for: .seconds(2))
        kill(-shell.pid, SIGKILL)
        let output = (try? String(contentsOfFile: directory.path("readme.log"), encoding: .utf8)) ?? ""
        #expect(status == 0, "the blocks ran to the end: \(output.suffix(2000))")

        let failures = ((try? String(contentsOfFile: directory.path("failures"), encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { Int($0.split(separator: " ")[1]) }
        for line in failures {
            let (readmeLine, text) = origin[line] ?? (0, "?")
            #expect(Self.documentsFailure(text), "README line \(readmeLine) failed: \(text)\n\(output.suffix(3000))")
        }
        let documented = origin.filter { Self.documentsFailure($0.value.text) }.map(\.key)
        #expect(Set(failures) == Set(documented), "each documented failure fails: \(failures) vs \(documented)")
        for expected in [#""n":1"#, "discarded: Failure: boom", "unknown quota 'nope'", #""hi":1"#, "\"queues\":", "spool_jobs_enqueued_total"] {
            #expect(output.contains(expected), "the output shows \(expected)")
        }
        #expect(!output.contains(#""code":"unauthorized""#), "every request carried the token")
        #expect(output.contains(#""errors" : [],"#), "--json writes an empty list on one line")
        for slot in ["uuid.txt", "uuid-2.txt", "uuid-3.txt"] {
            #expect(FileManager.default.fileExists(atPath: work + "/" + slot), "the tour's worker, the agents' worker and the server each took a slot")
        }
    }
}
