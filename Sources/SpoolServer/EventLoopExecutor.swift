import NIOCore

/// Runs a connection's tasks on the NIO event loop that reads and writes its socket.
///
/// Without it every request crosses threads twice: the event loop hands the parsed request to
/// a thread of Swift's concurrency pool, which wakes, runs the handler and hands the response
/// back, waking the event loop. On a small machine those wake-ups cost more than the request.
/// A connection handled with this executor as its task executor preference reads, routes,
/// answers and writes on one thread; only work that leaves for elsewhere (a store write on
/// its own queue, say) comes back with a single wake-up.
///
/// Handlers must not block: they share the thread with every connection of that loop, as
/// NIO's own handlers do.
final class EventLoopExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }

    /// Runs `body` with this connection's loop as the preferred executor of its tasks.
    static func run(on loop: any EventLoop, _ body: () async -> Void) async {
        await withTaskExecutorPreference(EventLoopExecutor(loop)) {
            await body()
        }
    }
}
