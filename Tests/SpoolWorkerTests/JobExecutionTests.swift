import Foundation
import Logging
import SpoolCore
@testable import SpoolWorker
import Testing

/// The task running an attempt may run the next attempt once this one lets go of it, so a
/// cancel of this attempt must never reach it afterwards, and one that did must be told.
@Suite("Job executions and their tasks")
struct JobExecutionTests {
    private func execution() -> JobExecution {
        let job = Job(id: JobID.make(), queue: "default", name: "test.any", payload: JSONPayload(unchecked: "{}"), state: .running,
                      priority: 0, attempt: 1, maxAttempts: 3, runAt: Date(), createdAt: Date())
        return JobExecution(job: job, handler: nil, logger: Logger(label: "spool.tests.execution"))
    }

    private func idleTask() -> Task<Void, Never> {
        Task { while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) } }
    }

    @Test("a cancel after the attempt let go of its task does not reach that task")
    func cancelAfterDetach() async {
        let task = idleTask()
        let attempt = execution()
        attempt.attach(task)
        #expect(attempt.detach() == false, "no cancel reached the task")
        attempt.requestCancel()
        #expect(attempt.abandon() == true)
        #expect(task.isCancelled == false, "the next attempt's task keeps running")
        task.cancel()
    }

    @Test("a cancel or an abandon before the attempt let go of its task reaches it, and detach says so")
    func cancelBeforeDetach() async {
        for abandon in [false, true] {
            let task = idleTask()
            let attempt = execution()
            attempt.attach(task)
            if abandon { attempt.abandon() } else { attempt.requestCancel() }
            #expect(task.isCancelled)
            #expect(attempt.detach() == true, "the task must not run another attempt")
        }
    }

    @Test("an attempt cancelled before it had a task cancels the task it is given")
    func cancelBeforeAttach() async {
        let task = idleTask()
        let attempt = execution()
        attempt.requestCancel()
        attempt.attach(task)
        #expect(task.isCancelled)
        #expect(attempt.detach() == true)
    }
}
