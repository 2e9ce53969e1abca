#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SpoolCore
import Synchronization

/// Wakes this process when another process commits to the store file: it watches the file's
/// write-ahead log (a replica's file itself, which its secondary writes) with inotify and announces `jobsAvailable` for every queue, so dispatchers
/// claim at once instead of at their next poll. Where inotify is missing, nothing is watched
/// and dispatchers rely on polling.
///
/// The watch runs on a thread of its own, blocked in `poll(2)`; it ends within a quarter
/// second of ``stop()``. It announces at most one change per millisecond: this process's own
/// commits modify the log too, and a busy writer must not flood its own dispatchers.
///
/// Each wake also lets its ``EndFollower`` announce the jobs that ended since the last (one
/// read per burst of commits), once the follower was started.
final class ChangeWatcher: Sendable {
    private let walPath: String
    private let events: StoreEvents
    private let follower: EndFollower
    private let started = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)

    /// Whether its thread is running now.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    init(watching walPath: String, events: StoreEvents, follower: EndFollower) {
        self.walPath = walPath
        self.events = events
        self.follower = follower
    }

    /// Starts watching, once; later calls do nothing.
    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        #if canImport(Glibc)
        let descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { return }
        guard inotify_add_watch(descriptor, walPath, UInt32(IN_MODIFY)) >= 0 else {
            close(descriptor)
            return
        }
        running.store(true, ordering: .releasing)
        Thread.detachNewThread { [self] in
            watch(descriptor)
            running.store(false, ordering: .releasing)
        }
        #endif
    }

    /// Ends the watch.
    func stop() { stopping.store(true, ordering: .releasing) }


    #if canImport(Glibc)
    private func watch(_ descriptor: Int32) {
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while !stopping.load(ordering: .acquiring) {
            guard poll(&entry, 1, 250) > 0 else { continue }
            var changed = false
            while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 { changed = true }
            guard changed, events.hasSubscribers else { continue }
            follower.announce(to: events)
            if events.hasSubscribers(to: .jobsAvailable) { events.publish(.jobsAvailable(queues: [])) }
            usleep(1000)
        }
    }
    #endif
}
