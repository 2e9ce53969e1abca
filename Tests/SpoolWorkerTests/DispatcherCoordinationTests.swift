import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import SpoolWorker
import Testing

@Suite("Dispatchers, agents and quotas")
struct DispatcherCoordinationTests {
    @Test("a quota is never exceeded across two dispatchers, and every job completes")
    func quotaAcrossDispatchers() async throws {
        let harness = try WorkerHarness()
        let gauge = ConcurrencyGauge()
        harness.registry.register(name: "test.guarded") { _, _ in
            gauge.enter()
            try await Task.sleep(for: .milliseconds(5))
            gauge.leave()
            return nil
        }
        try await harness.store.createQuota("db", size: 2)
        let ids = try await harness.client.enqueue((0..<40).map { _ in NewJob(name: "test.guarded", quotas: ["db"]) }).map(\.job.id)
        let wide = harness.configuration { $0.agents = [AgentSpec(name: "main", size: 8)] }
        let other = Dispatcher(store: harness.store, registry: harness.registry, configuration: harness.configuration { $0.agents = [AgentSpec(name: "main", size: 8)] })
        let second = Task { try await other.run() }
        try await harness.withDispatcher(wide) { _ in
            for id in ids { _ = try await harness.client.wait(for: id, timeout: .seconds(30)) }
        }
        other.stop()
        try await second.value
        #expect(gauge.total == 40)
        #expect(gauge.peak <= 2)
        #expect(gauge.peak == 2, "two jobs ran together: the quota is used, not serialised")
    }

    @Test("agents take what their filter allows, and a dispatcher takes nothing from queues it does not serve")
    func agentsAndQueues() async throws {
        let harness = try WorkerHarness()
        let configuration = harness.configuration {
            $0.queues = ["default"]
            $0.agents = [AgentSpec(name: "mail", filter: try! JobFilter(parsing: "mail.*"), size: 2)]
        }
        harness.registry.register(name: "mail.send") { _, _ in nil }
        let (mail, other, elsewhere, info) = try await harness.withDispatcher(configuration) { dispatcher in
            let mail = try await harness.client.enqueue(NewJob(name: "mail.send"))
            let other = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
            let elsewhere = try await harness.client.enqueue(NewJob(name: "mail.send", queue: "bulk"))
            let done = try await harness.client.wait(for: mail.id, timeout: .seconds(60))
            try await Task.sleep(for: .milliseconds(300))
            return (done, try await harness.store.job(other.id)!, try await harness.store.job(elsewhere.id)!, dispatcher.agentInfo)
        }
        #expect(mail.state == .completed)
        #expect(other.state == .available, "the mail agent does not take other jobs")
        #expect(elsewhere.state == .available, "the dispatcher does not serve the bulk queue")
        #expect(info.map(\.name) == ["mail"])
        #expect(info.first?.completed == [mail.id])
    }

    @Test("an agent keeps its recent completed jobs, newest first")
    func completedHistory() async throws {
        let harness = try WorkerHarness()
        let configuration = harness.configuration { $0.agents = [AgentSpec(name: "main", size: 1)]; $0.completedHistory = 3 }
        let (ids, info) = try await harness.withDispatcher(configuration) { dispatcher in
            var ids: [JobID] = []
            for _ in 0..<5 {
                let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
                _ = try await harness.client.wait(for: job.id, timeout: .seconds(60))
                ids.append(job.id)
            }
            try await Task.sleep(for: .milliseconds(50))
            return (ids, dispatcher.agentInfo)
        }
        #expect(info.first?.completed == Array(ids.suffix(3).reversed()))
        #expect(info.first?.size == 1)
    }

    @Test("a paused queue keeps its jobs until resumed")
    func pauseResume() async throws {
        let harness = try WorkerHarness()
        try await harness.store.setPaused("default", paused: true)
        let job = try await harness.withDispatcher { _ in
            let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await harness.store.job(job.id)?.state == .available)
            try await harness.store.setPaused("default", paused: false)
            return try await harness.client.wait(for: job.id, timeout: .seconds(60))
        }
        #expect(job.state == .completed)
    }

    @Test("a cron tick fires once across two dispatchers")
    func cronOncePerTick() async throws {
        let harness = try WorkerHarness()
        let schedule = try CronSchedule(parsing: "every-second=* * * * * *=spool.noop")
        let configuration = { harness.configuration { $0.cron = [schedule] } }
        let other = Dispatcher(store: harness.store, registry: harness.registry, configuration: configuration())
        let second = Task { try await other.run() }
        try await harness.withDispatcher(configuration()) { _ in
            let deadline = Date().addingTimeInterval(30)
            while try await harness.store.jobs(JobQuery(name: "spool.noop")).jobs.count < 3, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        other.stop()
        try await second.value
        let ticks = try await harness.store.jobs(JobQuery(name: "spool.noop", limit: 100)).jobs.map(\.runAt)
        #expect(ticks.count >= 3, "ticks fired while both dispatchers ran")
        #expect(Set(ticks).count == ticks.count, "no tick fired twice: \(ticks)")
        #expect(ticks.allSatisfy { $0.timeIntervalSince1970 == $0.timeIntervalSince1970.rounded() }, "each job runs at its whole-second tick")
    }

    /// Registers `test.stubborn`, a job that never ends on its own; the gate opens when one starts.
    static func registerStubborn(in harness: WorkerHarness) -> Gate {
        let started = Gate()
        harness.registry.register(name: "test.stubborn") { _, _ in
            started.open()
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
            return nil
        }
        return started
    }

    @Test("a graceful shutdown returns jobs still running after the grace period, without using an attempt")
    func gracefulShutdown() async throws {
        let harness = try WorkerHarness()
        let started = Self.registerStubborn(in: harness)
        let configuration = harness.configuration { $0.gracePeriod = .milliseconds(200) }
        let job = try await harness.withDispatcher(configuration) { _ in
            let job = try await harness.client.enqueue(NewJob(name: "test.stubborn"))
            await started.wait()
            return job
        }
        let returned = try #require(try await harness.store.job(job.id))
        #expect(returned.state == .available)
        #expect(returned.attempt == 0)
        #expect(try await harness.store.dispatchers().first?.state == .inactive)
    }

    @Test("cancelling a dispatcher's task stops it at once: its running job goes back to the queue, it ends inactive",
          .timeLimit(.minutes(1)))
    func cancelled() async throws {
        let harness = try WorkerHarness()
        let started = Self.registerStubborn(in: harness)
        // A grace period longer than the test's time limit: only a stop that skips it can pass.
        let dispatcher = Dispatcher(store: harness.store, registry: harness.registry,
                                    configuration: harness.configuration { $0.gracePeriod = .seconds(600) })
        let running = Task { try await dispatcher.run() }
        let job = try await harness.client.enqueue(NewJob(name: "test.stubborn"))
        await started.wait()
        running.cancel()
        try await running.value
        let returned = try #require(try await harness.store.job(job.id))
        #expect(returned.state == .available)
        #expect(returned.attempt == 0)
        #expect(try await harness.store.dispatchers().first?.state == .inactive)
    }

    @Test("a shutdown ends when the store has stopped answering: its calls are given up on after the shutdown timeout",
          .timeLimit(.minutes(1)))
    func storeStoppedAnswering() async throws {
        let harness = try WorkerHarness()
        let started = Self.registerStubborn(in: harness)
        let store = FaultyStore(harness.store, holdingPings: false)
        let dispatcher = Dispatcher(store: store, registry: harness.registry, configuration: harness.configuration {
            $0.gracePeriod = .milliseconds(200)
            $0.shutdownTimeout = .milliseconds(300)
        })
        let running = Task { try await dispatcher.run() }
        let job = try await harness.client.enqueue(NewJob(name: "test.stubborn"))
        await started.wait()
        store.stopAnswering()
        defer { store.answerAgain() }
        dispatcher.stop()
        // Its claims, its ping, the return of its job and its deactivation all wait on the store
        // forever: only giving up on them lets the dispatcher end, and it says it did not deactivate.
        await #expect { try await running.value } throws: { ($0 as? SpoolError)?.code == .storeUnavailable }
        #expect(try await harness.store.job(job.id)?.state == .running, "the silent store took nothing back")
        #expect(try await harness.store.dispatchers().first?.state == .active)
    }

    @Test("a graceful shutdown lets short jobs finish")
    func gracefulFinish() async throws {
        let harness = try WorkerHarness()
        let started = Gate()
        harness.registry.register(name: "test.short") { _, _ in
            started.open()
            try? await Task.sleep(for: .milliseconds(300))
            return "1"
        }
        let job = try await harness.withDispatcher { _ in
            let job = try await harness.client.enqueue(NewJob(name: "test.short"))
            await started.wait()
            return job
        }
        #expect(try await harness.store.job(job.id)?.state == .completed)
    }

    @Test("a dead dispatcher's job is rescued and run by a live one")
    func rescueDead() async throws {
        let harness = try WorkerHarness()
        let ghost = UUID()
        _ = try await harness.store.register(DispatcherRegistration(id: ghost, host: "gone", pid: 1, agents: [], now: Date()))
        let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
        _ = try await harness.store.claim(ClaimParams(dispatcher: ghost, limit: 1, now: Date(), lease: .seconds(3600)))
        let configuration = harness.configuration { $0.deadAfter = .milliseconds(300) }
        let done = try await harness.withDispatcher(configuration) { _ in
            // Generous: alone it takes a fraction of a second, beside the whole suite on two cores far longer.
            try await harness.client.wait(for: job.id, timeout: .seconds(60))
        }
        #expect(done.state == .completed)
        #expect(done.attempt == 2)
        #expect(done.errors.map(\.type) == ["rescued"])
        #expect(try await harness.store.dispatchers().first { $0.id == ghost }?.state == .dead)
    }

    @Test("a dispatcher whose pings are late never declares itself dead")
    func neverDeclaresItselfDead() async throws {
        let harness = try WorkerHarness()
        let store = FaultyStore(harness.store)
        let started = Gate(), release = Gate()
        harness.registry.register(name: "test.held") { _, _ in
            started.open()
            await release.wait()
            return nil
        }
        let configuration = harness.configuration { $0.deadAfter = .milliseconds(300) }
        let dispatcher = Dispatcher(store: store, registry: harness.registry, configuration: configuration)
        let running = Task { try await dispatcher.run() }
        let job = try await harness.client.enqueue(NewJob(name: "test.held"))
        await started.wait()
        // Pings wait while the rescue pass keeps running: several dead-after periods go by
        // without a ping from this dispatcher, which must not take itself for dead.
        try await Task.sleep(for: .seconds(2))
        let held = try #require(try await harness.store.job(job.id))
        #expect(held.state == .running)
        #expect(held.attempt == 1)
        #expect(try await harness.store.dispatchers().first { $0.id == configuration.id }?.state == .active)
        store.held.open()
        release.open()
        let done = try await harness.client.wait(for: job.id, timeout: .seconds(60))
        #expect(done.state == .completed)
        #expect(done.attempt == 1)
        dispatcher.stop()
        try await running.value
    }

    @Test("a job claimed for a dispatcher that never got the claim's answer is rescued at its next ping, not when its lease ends")
    func lostClaimAnswer() async throws {
        let harness = try WorkerHarness()
        let store = FaultyStore(harness.store, holdingPings: false)
        store.lostClaimAnswers.store(1, ordering: .relaxed)
        let configuration = harness.configuration { $0.lease = .seconds(3600) }
        let dispatcher = Dispatcher(store: store, registry: harness.registry, configuration: configuration)
        let running = Task { try await dispatcher.run() }
        let job = try await harness.client.enqueue(NewJob(name: "spool.echo", payload: JSONPayload(unchecked: #"{"n":1}"#)))
        let done = try await harness.client.wait(for: job.id, timeout: .seconds(30))
        #expect(done.state == .completed)
        #expect(done.attempt == 2, "the first attempt was the lost claim")
        #expect(done.errors.map(\.type) == ["rescued"])
        #expect(done.errors.first?.message.contains("held it without running it") == true, "\(done.errors)")
        #expect(store.lostClaimAnswers.load(ordering: .relaxed) < 0, "the claim's answer was lost")
        dispatcher.stop()
        try await running.value
    }
}

@Suite("Dispatcher identity")
struct DispatcherIdentityTests {
    @Test("the UUID file is created once and read back on every start")
    func stable() throws {
        let directory = try TemporaryDirectory()
        let first = try #require(try DispatcherIdentity.acquire(file: nil, dataDirectory: directory.url.path, environment: [:]))
        #expect(first.path == directory.path("uuid.txt"))
        let id = first.id
        _ = consume first
        #expect(try DispatcherIdentity.acquire(file: nil, dataDirectory: directory.url.path, environment: [:]).id == id)
        #expect(DispatcherIdentity.chosenPath(nil, environment: ["SPOOL_UUID_FILE": directory.path("mine.txt")]) == directory.path("mine.txt"))
        #expect(DispatcherIdentity.chosenPath("option.txt", environment: ["SPOOL_UUID_FILE": "env.txt"]) == "option.txt")
    }

    @Test("while one holder lives, the next process on the default takes the next slot, and gets its own back after")
    func slots() throws {
        let directory = try TemporaryDirectory()
        let first = try DispatcherIdentity.acquire(inDirectory: directory.url.path)
        var second: DispatcherIdentity? = try DispatcherIdentity.acquire(inDirectory: directory.url.path)
        let third = try DispatcherIdentity.acquire(inDirectory: directory.url.path)
        #expect(second?.path == directory.path("uuid-2.txt"))
        #expect(third.path == directory.path("uuid-3.txt"))
        #expect(Set([first.id, second!.id, third.id]).count == 3)
        let secondID = second!.id
        second = nil
        let again = try DispatcherIdentity.acquire(inDirectory: directory.url.path)
        #expect(again.path == directory.path("uuid-2.txt"))
        #expect(again.id == secondID)
    }

    @Test("a file named explicitly that another holder has is refused with the way out")
    func explicitHeld() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("worker.uuid")
        let holder = try DispatcherIdentity.acquire(path: path)
        let error = #expect(throws: SpoolError.self) { try DispatcherIdentity.acquire(file: path, dataDirectory: "/nowhere") }
        #expect(error?.code == .dispatcherInUse)
        #expect(error?.message.contains(path) == true && error?.message.contains("--uuid-file") == true)
        withExtendedLifetime(holder) {}
    }

    @Test("a UUID file holding something else is refused with its path")
    func malformed() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("uuid.txt")
        try "not-a-uuid\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: SpoolError.self) { try DispatcherIdentity.acquire(path: path) }
        #expect(error?.message.contains(path) == true)
        try "0123456789abcdef0123456789abcdef\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try DispatcherIdentity.acquire(path: path).id.uuidString.lowercased() == "01234567-89ab-cdef-0123-456789abcdef")
    }
}

@Suite("Dispatcher configuration")
struct DispatcherConfigurationTests {
    @Test("the lease follows dead-after (three times it, at least 30 s) unless it is set")
    func leaseFollowsDeadAfter() {
        var configuration = DispatcherConfiguration(id: UUID())
        #expect(configuration.lease == .seconds(30))
        configuration.deadAfter = .seconds(20)
        #expect(configuration.lease == .seconds(60))
        configuration.lease = .seconds(5)
        configuration.deadAfter = .seconds(100)
        #expect(configuration.lease == .seconds(5), "a lease set by hand stays")
    }
}
