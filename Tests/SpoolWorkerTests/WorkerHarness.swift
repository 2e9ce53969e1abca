import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import SpoolWorker
import Synchronization

/// A fresh SQLite store, a registry with the built-in jobs, and helpers to run dispatchers.
struct WorkerHarness {
    let directory: TemporaryDirectory
    let store: SQLiteStore
    let registry = JobRegistry()
    var client: SpoolClient { SpoolClient(store: store) }

    init() throws {
        directory = try TemporaryDirectory()
        store = try SQLiteStore(path: directory.path("spool.db"))
        BuiltinJobs.register(into: registry)
    }

    func configuration(_ configure: (inout DispatcherConfiguration) -> Void = { _ in }) -> DispatcherConfiguration {
        var configuration = DispatcherConfiguration(id: UUID())
        configuration.backoff = Backoff(base: .milliseconds(10), maximum: .milliseconds(50), jitter: 0)
        configuration.pingInterval = .milliseconds(100)
        configuration.gracePeriod = .seconds(5)
        configure(&configuration)
        return configuration
    }

    /// Registers `test.long`: opens `started`, then sleeps a minute unless cancelled.
    func registerLongJob(opening started: Gate) {
        registry.register(name: "test.long") { _, _ in
            started.open()
            try await Task.sleep(for: .seconds(60))
            return nil
        }
    }

    /// Runs a dispatcher around `body`, then stops it and waits for its shutdown.
    func withDispatcher<T>(_ configuration: DispatcherConfiguration? = nil,
                           _ body: (Dispatcher) async throws -> T) async throws -> T {
        let dispatcher = Dispatcher(store: store, registry: registry, configuration: configuration ?? self.configuration())
        let running = Task { try await dispatcher.run() }
        do {
            let value = try await body(dispatcher)
            dispatcher.stop()
            try await running.value
            return value
        } catch {
            dispatcher.stop()
            _ = try? await running.value
            throw error
        }
    }
}

/// Counts concurrent runs and remembers the highest count seen.
final class ConcurrencyGauge: Sendable {
    private let state = Mutex<(now: Int, peak: Int, total: Int)>((0, 0, 0))

    func enter() { state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now); $0.total += 1 } }
    func leave() { state.withLock { $0.now -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
    var total: Int { state.withLock { $0.total } }
}

/// A one-shot gate a test opens to let waiting jobs proceed.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
