import Foundation
import Synchronization

/// Shows how far a workload got while it runs: one line on standard error, rewritten in place
/// on a terminal and repeated once a second elsewhere.
final class BenchProgress: Sendable {
    private let label: String
    private let total: Int
    private let done = Atomic<Int>(0)
    private let started = ContinuousClock.now
    private let ticker = Mutex<Task<Void, Never>?>(nil)
    private static let onTerminal = isatty(STDERR_FILENO) == 1

    /// Starts showing progress of `label` towards `total` units.
    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: BenchProgress.onTerminal ? .milliseconds(250) : .seconds(1))
                guard let self, !Task.isCancelled else { return }
                self.show(final: false)
            }
        }
        ticker.withLock { $0 = task }
    }

    /// Counts `count` more units done.
    func advance(by count: Int = 1) { done.add(count, ordering: .relaxed) }

    /// Sets how many units are done.
    func set(_ count: Int) { done.store(count, ordering: .relaxed) }

    /// Stops the ticker and shows the final line.
    func finish() {
        ticker.withLock { $0?.cancel() }
        show(final: true)
    }

    private func show(final: Bool) {
        let count = done.load(ordering: .relaxed)
        let seconds = (ContinuousClock.now - started).seconds
        let rate = seconds > 0 ? Double(count) / seconds : 0
        let text = "\(label): \(count)/\(total) (\(String(format: "%.0f", rate))/s, \(String(format: "%.1f", seconds)) s)"
        let line = BenchProgress.onTerminal ? "\r\u{1B}[2K" + text + (final ? "\n" : "") : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
