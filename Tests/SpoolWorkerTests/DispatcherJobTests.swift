import Foundation
import SpoolCore
import SpoolWorker
import Testing

struct Greeting: Codable, Sendable { var name: String }
struct Reply: Codable, Sendable, Equatable { var text: String; var attempt: Int }

extension JobName where Arguments == Greeting {
    static let greet = JobName("test.greet")
}

@Suite("Dispatcher runs jobs")
struct DispatcherJobTests {
    @Test("a typed job runs and its caller receives the decoded result")
    func typedCall() async throws {
        let harness = try WorkerHarness()
        harness.registry.register(.greet) { (arguments: Greeting, context: JobContext) in
            Reply(text: "hello \(arguments.name)", attempt: context.job.attempt)
        }
        let reply = try await harness.withDispatcher { _ in
            try await harness.client.call(.greet, Greeting(name: "ada"), returning: Reply.self, timeout: .seconds(60))
        }
        #expect(reply == Reply(text: "hello ada", attempt: 1))
    }

    @Test("an untyped JSON job enqueued by name gets its payload back from spool.echo")
    func untypedEcho() async throws {
        let harness = try WorkerHarness()
        let job = try await harness.withDispatcher { _ in
            let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.echo, payload: #"{"x":[1,"two"]}"#))
            return try await harness.client.wait(for: job.id, timeout: .seconds(60))
        }
        #expect(job.state == .completed)
        #expect(job.result?.value == JSONValue.object(["x": .array([.number(1), .string("two")])]))
    }

    @Test("a failing job is retried with backoff, each error recorded, until it succeeds")
    func retries() async throws {
        let harness = try WorkerHarness()
        let job = try await harness.withDispatcher { _ in
            let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.fail, payload: #"{"times":2,"message":"flaky"}"#))
            return try await harness.client.wait(for: job.id, timeout: .seconds(60))
        }
        #expect(job.state == .completed)
        #expect(job.attempt == 3)
        #expect(job.errors.map(\.attempt) == [1, 2])
        #expect(job.errors.allSatisfy { $0.message == "flaky" && $0.type == "error" && $0.name == "Failure" })
        #expect(job.errors[1].at > job.errors[0].at)
    }

    @Test("a retry that starts while its failed attempt's task is still winding down keeps running and is not rescued")
    func quickRetryStaysListed() async throws {
        let harness = try WorkerHarness()
        harness.registry.register(name: "test.flaky-slow") { job, _ in
            if job.attempt == 1 { throw FlakyFailure() }
            try await Task.sleep(for: .milliseconds(400))   // several pings while the retry runs
            return nil
        }
        // Holds the first attempt's task after its failure is recorded, before it lets go of the
        // job, until the retry has started (or 5 s have passed on a machine with one core).
        let retryStarted = DispatchSemaphore(value: 0)
        let observer: DispatcherObserver = { event in
            switch event {
            case .jobStarted(let job) where job.attempt == 2: retryStarted.signal()
            case .jobRecorded(let job) where job.attempt == 1: _ = retryStarted.wait(timeout: .now() + 5)
            default: break
            }
        }
        let dispatcher = Dispatcher(store: harness.store, registry: harness.registry, configuration: harness.configuration(),
                                    observer: observer)
        let running = Task { try await dispatcher.run() }
        let enqueued = try await harness.client.enqueue(NewJob(name: "test.flaky-slow"))
        let job = try await harness.client.wait(for: enqueued.id, timeout: .seconds(60))
        dispatcher.stop()
        try await running.value
        #expect(job.state == .completed)
        #expect(job.attempt == 2)
        #expect(job.errors.map(\.message) == ["flaky"], "no rescue recorded")
    }

    private struct FlakyFailure: Error, CustomStringConvertible {
        var description: String { "flaky" }
    }

    @Test("a job out of attempts is discarded; a non-retryable error discards at once")
    func discards() async throws {
        let harness = try WorkerHarness()
        harness.registry.register(name: "test.fatal") { _, _ in throw JobControl.discard("bad input, retrying will not help") }
        let (spent, fatal) = try await harness.withDispatcher { _ in
            let spent = try await harness.client.enqueue(NewJob(name: BuiltinJobs.fail, maxAttempts: 2))
            let fatal = try await harness.client.enqueue(NewJob(name: "test.fatal"))
            return (try await harness.client.wait(for: spent.id, timeout: .seconds(60)),
                    try await harness.client.wait(for: fatal.id, timeout: .seconds(60)))
        }
        #expect(spent.state == .discarded && spent.attempt == 2 && spent.errors.count == 2)
        #expect(fatal.state == .discarded && fatal.attempt == 1)
        #expect(fatal.errors.map(\.type) == ["discarded"])
        #expect(fatal.errors.first?.message == "bad input, retrying will not help")
        await #expect(throws: JobFailed.self) { try await harness.client.outcome(of: fatal.id, as: JSONValue.self) }
    }

    @Test("a job that hangs past its timeout fails with a timeout error and frees its slot")
    func timeout() async throws {
        let harness = try WorkerHarness()
        harness.registry.register(name: "test.hang") { _, _ in
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
            return nil
        }
        let (hung, after) = try await harness.withDispatcher(harness.configuration { $0.agents = [AgentSpec(name: "main", size: 1)] }) { _ in
            let hung = try await harness.client.enqueue(NewJob(name: "test.hang", maxAttempts: 1, timeout: .milliseconds(200)))
            let after = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
            return (try await harness.client.wait(for: hung.id, timeout: .seconds(60)),
                    try await harness.client.wait(for: after.id, timeout: .seconds(60)))
        }
        #expect(hung.state == .discarded)
        #expect(hung.errors.map(\.type) == ["timeout"])
        #expect(hung.errors.first?.message.contains("timeout of 0.2 seconds") == true)
        #expect(after.state == .completed)
    }

    @Test("an unknown job name fails that job with a clear error and nothing else")
    func unknownName() async throws {
        let harness = try WorkerHarness()
        let (unknown, fine) = try await harness.withDispatcher { _ in
            let unknown = try await harness.client.enqueue(NewJob(name: "no.such.job", maxAttempts: 1))
            let fine = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
            return (try await harness.client.wait(for: unknown.id, timeout: .seconds(60)),
                    try await harness.client.wait(for: fine.id, timeout: .seconds(60)))
        }
        #expect(unknown.state == .discarded)
        #expect(unknown.errors.first?.type == "unknown_job")
        #expect(unknown.errors.first?.message.contains("no job named 'no.such.job' is registered") == true)
        #expect(fine.state == .completed)
    }

    @Test("cancelling a running job cancels its task and records it cancelled")
    func cancelRunning() async throws {
        let harness = try WorkerHarness()
        let started = Gate()
        harness.registerLongJob(opening: started)
        let job = try await harness.withDispatcher { _ in
            let job = try await harness.client.enqueue(NewJob(name: "test.long"))
            await started.wait()
            _ = try await harness.store.cancel(job.id, now: Date())
            return try await harness.client.wait(for: job.id, timeout: .seconds(60))
        }
        #expect(job.state == .cancelled)
        #expect(job.errors.map(\.type) == ["cancelled"])
    }

    @Test("jobs after a cancelled one, run one at a time by the agent's tasks, see no cancellation")
    func jobsAfterACancelRunUncancelled() async throws {
        let harness = try WorkerHarness()
        let started = Gate()
        harness.registerLongJob(opening: started)
        harness.registry.register(name: "test.cancelled?") { _, _ in
            await Task.yield()
            return JSONPayload(unchecked: Task.isCancelled ? "true" : "false")
        }
        let configuration = harness.configuration { $0.agents = [AgentSpec(name: AgentSpec.mainName, size: 1)] }
        let (long, after) = try await harness.withDispatcher(configuration) { _ in
            let long = try await harness.client.enqueue(NewJob(name: "test.long"))
            await started.wait()
            _ = try await harness.store.cancel(long.id, now: Date())
            var after: [Job] = []
            for _ in 0..<20 {
                let job = try await harness.client.enqueue(NewJob(name: "test.cancelled?"))
                after.append(try await harness.client.wait(for: job.id, timeout: .seconds(60)))
            }
            return (try await harness.client.wait(for: long.id, timeout: .seconds(60)), after)
        }
        #expect(long.state == .cancelled)
        #expect(after.map(\.state) == Array(repeating: .completed, count: 20))
        #expect(after.map { $0.result?.text } == Array(repeating: "false", count: 20), "no job after the cancelled one saw a cancel")
    }

    @Test("follow-up jobs are enqueued with the completion and then run")
    func followUps() async throws {
        let harness = try WorkerHarness()
        harness.registry.register(name: "test.parent") { _, context in
            context.enqueueOnCompletion(NewJob(name: BuiltinJobs.echo, payload: #"{"child":true}"#, tags: ["child"]))
            return nil
        }
        let child = try await harness.withDispatcher { _ in
            let parent = try await harness.client.enqueue(NewJob(name: "test.parent"))
            _ = try await harness.client.wait(for: parent.id, timeout: .seconds(60))
            let child = try await harness.store.jobs(JobQuery(name: BuiltinJobs.echo)).jobs.first
            return try await harness.client.wait(for: try #require(child).id, timeout: .seconds(60))
        }
        #expect(child.state == .completed)
        #expect(child.tags == ["child"])
    }

    @Test("a job enqueued in the same process starts without waiting for a poll")
    func inProcessWakeup() async throws {
        let harness = try WorkerHarness()
        let configuration = harness.configuration { $0.pollInterval = .seconds(120) }
        let job = try await harness.withDispatcher(configuration) { _ in
            try await Task.sleep(for: .milliseconds(100))
            let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
            return try await harness.client.wait(for: job.id, timeout: .seconds(20))
        }
        #expect(job.state == .completed)
    }
}
