import Foundation
import SpoolCore

/// Debian's `chromium`, headless, driven over the DevTools protocol: navigate, evaluate
/// JavaScript in the page, take screenshots. Each instance has its own profile directory and
/// is killed by its process id when closed.
public final class HeadlessChromium: @unchecked Sendable {
    /// Whether browser tests run: unless `SPOOL_SKIP_CHROMIUM=1`; a missing browser then fails them.
    public static var shouldRun: Bool {
        ProcessInfo.processInfo.environment["SPOOL_SKIP_CHROMIUM"] != "1"
    }

    private let process: ChildProcess
    private let profile: TemporaryDirectory
    private let page: WebSocketTestClient
    private let lock = NSLock()
    private var nextID = 0

    private init(process: ChildProcess, profile: TemporaryDirectory, page: WebSocketTestClient) {
        self.process = process
        self.profile = profile
        self.page = page
    }

    /// Starts the browser with an empty page, `width` × `height` pixels; `arguments` are added
    /// to its command line (a host resolver rule, a key to trust).
    public static func start(width: Int = 1400, height: Int = 1100, arguments: [String] = []) async throws -> HeadlessChromium {
        let executable = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else {
            throw ServerError("chromium is not installed (apt-get install chromium, or SPOOL_SKIP_CHROMIUM=1 to skip browser tests)")
        }
        let profile = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = profile.path("home")
        let process = try ChildProcess.spawn(executable, [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--mute-audio",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir=\(profile.path("profile"))",
            "--window-size=\(width),\(height)",
        ] + arguments + ["about:blank"], environment: environment, outputPath: profile.path("chromium.log"))
        do {
            let port = try await debuggingPort(profile.path("profile/DevToolsActivePort"), process: process, log: profile.path("chromium.log"))
            let path = try await pagePath(port: port)
            let page = try await WebSocketTestClient.connect(port: port, path: path)
            return HeadlessChromium(process: process, profile: profile, page: page)
        } catch {
            process.signal(SIGKILL)
            process.waitForExitBlocking()
            throw error
        }
    }

    /// The port Chromium writes to `DevToolsActivePort` once it listens.
    private static func debuggingPort(_ file: String, process: ChildProcess, log: String) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let line = text.split(separator: "\n").first, let port = Int(line) {
                return port
            }
            guard process.isRunning else {
                throw ServerError("chromium exited: \((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerError("chromium did not open its DevTools port within 60 s")
    }

    /// The DevTools WebSocket path of the first page.
    private static func pagePath(port: Int) async throws -> String {
        struct Target: Decodable { var type: String; var webSocketDebuggerUrl: String? }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let response = try await HTTPTestClient.request(port: port, "GET", "/json/list")
            if let url = (try? response.decode([Target].self))?.first(where: { $0.type == "page" })?.webSocketDebuggerUrl,
               let range = url.range(of: "/devtools/") {
                return String(url[range.lowerBound...])
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerError("chromium listed no page to drive")
    }

    /// Sends a DevTools command and returns its `result`; throws the protocol's error.
    @discardableResult
    public func command(_ method: String, _ parameters: [String: JSONValue] = [:]) async throws -> JSONValue {
        let id = lock.withLock { nextID += 1; return nextID }
        page.sendText(JSONValue.object(["id": .number(Double(id)), "method": .string(method), "params": .object(parameters)]).compactText)
        while true {
            guard let text = try await page.nextText() else { throw ServerError("chromium closed the DevTools connection") }
            let message = try JSONValue.parse(text)
            guard message["id"]?.number == Double(id) else { continue }
            if let error = message["error"] { throw ServerError("\(method) failed: \(error.compactText)") }
            return message["result"] ?? .null
        }
    }

    /// Opens `url` in the page.
    public func navigate(_ url: String) async throws {
        try await command("Page.navigate", ["url": .string(url)])
    }

    /// The value of a JavaScript expression evaluated in the page (promises awaited); throws
    /// with the exception's text when it throws.
    @discardableResult
    public func evaluate(_ expression: String) async throws -> JSONValue {
        let result = try await command("Runtime.evaluate", ["expression": .string(expression), "returnByValue": .bool(true), "awaitPromise": .bool(true)])
        if let exception = result["exceptionDetails"] { throw ServerError("the page threw: \(exception.compactText)") }
        return result["result"]?["value"] ?? .null
    }

    /// Evaluates `expression` until it is `true`, up to `timeout`; throws with `what` when it never is.
    public func waitUntil(_ expression: String, timeout: Duration = .seconds(30), _ what: String) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await evaluate(expression)) == .bool(true) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerError("the page never showed: \(what)")
    }

    /// Saves a PNG of the page to `path`, creating its directory.
    public func screenshot(to path: String) async throws {
        let result = try await command("Page.captureScreenshot", ["format": .string("png")])
        guard let base64 = result["data"]?.string, let data = Data(base64Encoded: base64) else { throw ServerError("no screenshot data") }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Kills the browser and removes its profile.
    public func close() {
        page.close()
        process.signal(SIGKILL)
        process.waitForExitBlocking()
    }
}
