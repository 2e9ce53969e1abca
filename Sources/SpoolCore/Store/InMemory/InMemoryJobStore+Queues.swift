import Foundation

extension InMemoryJobStore {
    public func queues() async throws -> [QueueInfo] {
        state.withLock { state in
            var infos: [String: QueueInfo] = [:]
            for name in state.paused { infos[name] = QueueInfo(name: name, paused: true, counts: [:]) }
            for job in state.jobs.values {
                infos[job.queue, default: QueueInfo(name: job.queue, paused: false, counts: [:])].counts[job.state, default: 0] += 1
            }
            return infos.values.sorted { $0.name < $1.name }
        }
    }

    public func setPaused(_ queue: String, paused: Bool) async throws {
        guard !queue.isEmpty else { throw SpoolError(.invalidArgument, "queue name must not be empty") }
        state.withLock { state in
            if paused { state.paused.insert(queue) } else { state.paused.remove(queue) }
        }
        if !paused { events.publish(.jobsAvailable(queues: [queue])) }
    }
}
