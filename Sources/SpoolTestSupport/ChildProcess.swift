import Foundation
import Synchronization

/// A child process started with `posix_spawn`, a clean signal mask, default signal handlers, and
/// no descriptors but its standard ones.
///
/// Foundation's `Process` passes on the test runner's blocked signals; RabbitMQ's start script then
/// never sees its node exit (SIGCHLD stays blocked) and ignores SIGTERM. Worse, it learns that a
/// child exited when a socket it gave the child closes, and children started at the same moment
/// by other threads inherit that socket: a long-lived one (a database server, a worker) then
/// keeps `waitUntilExit()` of a process that has long exited waiting for ever. Every child of
/// the tests is started here instead, and waited for with `waitpid`.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    /// The child's executable and arguments, for messages.
    private let command: String
    /// The child's wait status once it has been reaped.
    private let reaped = Mutex<Int32?>(nil)

    /// How long ``waitForExit()`` and ``waitForExitBlocking()`` wait before they end the child
    /// (SIGABRT, which makes a Swift process print its threads' stacks, then SIGKILL): a child
    /// that hangs fails its test instead of keeping the whole run waiting.
    public static let exitLimit: Duration = .seconds(600)

    private init(pid: pid_t, command: String) {
        self.pid = pid
        self.command = command
    }

    /// The child's process id, as Foundation's `Process` names it.
    public var processIdentifier: pid_t { pid }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not export.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    /// glibc's `posix_spawn_file_actions_addchdir_np`.
    private static let changeDirectory: ChangeDirectory? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: ChangeDirectory.self)
    }()

    /// Starts `executable` with stdin from /dev/null and stdout and stderr appended to `outputPath`
    /// (or stderr to `errorPath` when given), in `directory` when given.
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                             outputPath: String, errorPath: String? = nil, directory: String? = nil) throws -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var files = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&files)
        defer { posix_spawn_file_actions_destroy(&files) }
        posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&files, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&files, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&files, 1, 2)
        }
        if let directory {
            guard let changeDirectory = Self.changeDirectory else { throw ServerError("posix_spawn_file_actions_addchdir_np is missing (glibc 2.29 or later is needed)") }
            _ = changeDirectory(&files, directory)
        }
        // Close every other descriptor in the child: a long-lived server must not keep open the
        // pipes of processes other threads start at the same moment (their readers never see EOF).
        guard let closeFrom = Self.closeFrom else { throw ServerError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later is needed)") }
        _ = closeFrom(&files, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &files, &attributes, argv, envp)
        guard result == 0 else { throw ServerError("posix_spawn \(executable) failed: \(result)") }
        return ChildProcess(pid: pid, command: ([executable] + arguments).joined(separator: " "))
    }

    /// What ``run(_:_:environment:directory:)`` returns.
    public struct Outcome: Sendable {
        /// The exit code, or the signal that ended the process.
        public var status: Int32
        /// What the process wrote to its standard output.
        public var output: String
        /// What it wrote to its standard error.
        public var errors: String
    }

    /// Runs `executable` to completion, blocking the calling thread, and returns its status and
    /// output (kept in temporary files, never pipes a concurrent child could inherit).
    public static func run(_ executable: String, _ arguments: [String],
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           directory: String? = nil) throws -> Outcome {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("spool-child-\(UUID().uuidString)").path
        let (outputPath, errorPath) = (base + ".out", base + ".err")
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        let child = try spawn(executable, arguments, environment: environment, outputPath: outputPath, errorPath: errorPath,
                              directory: directory)
        let status = child.waitForExitBlocking()
        return Outcome(status: status, output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
                       errors: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
    }

    /// Whether the process is still running (reaps it when it has exited).
    public var isRunning: Bool {
        reaped.withLock { reaped in
            guard reaped == nil else { return false }
            var status: Int32 = 0
            switch waitpid(pid, &status, WNOHANG) {
            case 0: return true
            case pid: reaped = status
            default: break   // reaped outside this class (nothing in the tests does)
            }
            return false
        }
    }

    /// How the process ended once it has (see ``isRunning``, ``waitForExit()``): its exit code,
    /// or the number of the signal that ended it, as Foundation's `Process` reports it; `nil`
    /// while it runs.
    public var terminationStatus: Int32? {
        guard !isRunning, let status = reaped.withLock({ $0 }) else { return nil }
        return Self.code(status)
    }

    /// Sends SIGTERM, unless the process has been reaped (its id may belong to another by then).
    public func terminate() {
        signal(SIGTERM)
    }

    /// Sends `signal`, unless the process has been reaped.
    public func signal(_ signal: Int32) {
        reaped.withLock { reaped in
            if reaped == nil { kill(pid, signal) }
        }
    }

    /// Waits for the process to exit (at most ``exitLimit``, then ends it) and returns
    /// ``terminationStatus``.
    @discardableResult
    public func waitForExit() async -> Int32 {
        if let status = await waitForExit(within: Self.exitLimit) { return status }
        return endHung()
    }

    /// Blocking variant of ``waitForExit()``, for threads of their own and process-exit handlers.
    @discardableResult
    public func waitForExitBlocking() -> Int32 {
        if let status = waitForExitBlocking(within: Self.exitLimit) { return status }
        return endHung()
    }

    /// Waits at most `limit` for the process to exit: its ``terminationStatus``, or `nil` if it
    /// still runs.
    ///
    /// It asks ``isRunning``, which reaps under the same lock as ``signal(_:)``: until then the
    /// exited child keeps its id, so a signal can never reach a process that took the id over
    /// (on Linux that may even be a thread of this process, which the signal would then hit).
    public func waitForExitBlocking(within limit: Duration) -> Int32? {
        let deadline = ContinuousClock.now + limit
        var pause: useconds_t = 500
        while isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        return terminationStatus
    }

    /// Asynchronous variant of ``waitForExitBlocking(within:)``. The wait blocks a thread of its
    /// own, never one of Swift concurrency's few: tests beside it keep running.
    public func waitForExit(within limit: Duration) async -> Int32? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.waitForExitBlocking(within: limit)) }
        }
    }

    /// Ends a child that outlived ``exitLimit``, saying so on standard error; its status.
    private func endHung() -> Int32 {
        FileHandle.standardError.write(Data(("ChildProcess: `\(command)` (pid \(pid)) did not exit within \(Self.exitLimit); "
                                             + "ending it (SIGABRT, then SIGKILL)\n").utf8))
        signal(SIGABRT)
        if let status = waitForExitBlocking(within: .seconds(20)) { return status }
        signal(SIGKILL)
        return waitForExitBlocking(within: .seconds(20)) ?? -1
    }

    /// The exit code of a wait status, or the signal that ended the process.
    private static func code(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }
}
