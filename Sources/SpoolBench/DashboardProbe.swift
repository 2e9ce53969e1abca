import Foundation
import Synchronization

/// What the dashboard asks of the server while W2 drains: every 100 ms one refresh, the
/// queues, dispatchers and stats the page shows, over a keep-alive connection of its own.
/// Records how long each refresh took, so a drain that starves the API shows in the numbers.
final class DashboardProbe: Sendable {
    private static let paths = ["/v1/queues", "/v1/dispatchers", "/v1/stats"]
    private let task: Task<[Double], any Error>

    private init(task: Task<[Double], any Error>) { self.task = task }

    /// Starts refreshing against `server`.
    static func start(_ server: BenchServer) async throws -> DashboardProbe {
        let connection = try await server.connect()
        let task = Task {
            do {
                let seconds = try await refreshes(over: connection)
                await connection.close()
                return seconds
            } catch {
                await connection.close()
                throw error
            }
        }
        return DashboardProbe(task: task)
    }

    /// Refreshes until cancelled; the duration of each refresh.
    private static func refreshes(over connection: BenchHTTPConnection) async throws -> [Double] {
        var seconds: [Double] = []
        while !Task.isCancelled {
            let start = ContinuousClock.now
            for path in paths {
                let response = try await connection.request(.GET, path)
                guard response.status == 200 else { throw BenchFailure("GET \(path) answered \(response.status) during the drain") }
            }
            seconds.append((ContinuousClock.now - start).seconds)
            try? await Task.sleep(for: .milliseconds(100))
        }
        return seconds
    }

    /// Stops refreshing and returns each refresh's duration in seconds; empty if the probe failed.
    func stop() async -> [Double] {
        task.cancel()
        do {
            return try await task.value
        } catch {
            FileHandle.standardError.write(Data("w2 dashboard probe: \(error)\n".utf8))
            return []
        }
    }
}
