@testable import SpoolWorker
import Testing

@Suite("Wake-ups")
struct WakeupTests {
    @Test("signals coalesce: any number before a wait wake it once", .timeLimit(.minutes(1)))
    func signalsCoalesce() async {
        let wakeup = Wakeup()
        wakeup.signal()
        wakeup.signal()
        await wakeup.wait()
        let start = ContinuousClock.now
        await wakeup.wait(timeout: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50), "the two signals woke one wait, not two")
    }

    @Test("a ticker wakes a waiter again and again without signals, until it is cancelled", .timeLimit(.minutes(1)))
    func tickerWakesWaiters() async throws {
        let wakeup = Wakeup()
        let ticker = wakeup.tick(every: .milliseconds(5))
        for _ in 0..<3 { await wakeup.wait() }
        ticker.cancel()
        _ = await ticker.value
        try await Task.sleep(for: .milliseconds(30))
        await wakeup.wait(timeout: .milliseconds(1))   // at most one tick was pending at the cancel
        let woken = Task {
            await wakeup.wait(timeout: .seconds(30))
            return ContinuousClock.now
        }
        let start = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(100))
        wakeup.signal()
        #expect(await woken.value - start >= .milliseconds(100), "no tick woke the waiter after the cancel")
    }
}
