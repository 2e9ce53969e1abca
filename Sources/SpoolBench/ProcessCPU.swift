import Foundation

/// The CPU time this process has used, for benchmarks that report work alongside wall time (on
/// a shared machine the CPU a run takes varies less than how long it took).
public enum ProcessCPU {
    /// Seconds of CPU, user and system, used by this process so far.
    public static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
