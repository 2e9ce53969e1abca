import Foundation

/// A child process started with `posix_spawn`, a clean signal mask, default signal handlers, and
/// no descriptors but its standard ones.
///
/// Foundation's `Process` passes on the test runner's blocked signals; RabbitMQ's start script then
/// never sees its node exit (SIGCHLD stays blocked) and ignores SIGTERM, so the helper spawns itself.
public struct ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not export.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    /// Starts `executable` with stdin from /dev/null and stdout and stderr appended to `outputPath`.
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                      outputPath: String) throws -> ChildProcess {
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
        posix_spawn_file_actions_adddup2(&files, 1, 2)
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
        return ChildProcess(pid: pid)
    }

    /// Whether the process is still running (reaps it when it has exited).
    public var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// Waits for the process to exit and returns its exit status. The wait blocks a thread of
    /// its own, never one of Swift concurrency's few: tests beside it keep running.
    public func waitForExit() async -> Int32 {
        let pid = pid
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: (status >> 8) & 0xff)
            }
        }
    }

    /// Blocking variant of ``waitForExit()`` for process-exit handlers.
    public func waitForExitBlocking() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }
}
