import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DispatcherRegistration {
    /// Why this registration must be refused, given the store's record of the same id, or `nil`
    /// when it may go ahead (and rescue the jobs the id held).
    ///
    /// Two live processes must never act as one dispatcher: each would rescue, as its own
    /// leftovers, the jobs the other is running. A record is provably stale when it is not
    /// active, when its last ping is older than ``deadAfter``, when it names this very process
    /// (same host and pid: a restart that reused the pid), or when it names a process on this
    /// host that no longer runs. Anything else (another host, or a running pid here) is a live
    /// holder, and the registration is refused with a ``SpoolError/Code/dispatcherInUse`` error
    /// that names the holder and the way out.
    public func conflict(with existing: DispatcherInfo?,
                         isRunning: (Int) -> Bool = LocalProcess.isRunning) -> SpoolError? {
        guard let existing, existing.state == .active else { return nil }
        let silence = now.timeIntervalSince(existing.lastPingAt)
        guard silence < deadAfter.seconds else { return nil }
        if existing.host == host {
            if existing.pid == pid || !isRunning(existing.pid) { return nil }
        }
        let ago = String(format: "%.1f", max(0, silence))
        return SpoolError(.dispatcherInUse, """
            dispatcher \(id.uuidString.lowercased()) is in use by process \(existing.pid) on host \(existing.host) \
            (last ping \(ago) s ago); give this process an identity of its own with --uuid-file PATH or \
            SPOOL_UUID_FILE, or stop that process (it counts as dead \(deadAfter.seconds) s after its last ping)
            """)
    }
}

/// Questions about processes on this host.
public enum LocalProcess {
    /// Whether a process with `pid` exists on this host (signal 0 probes without signalling).
    public static func isRunning(_ pid: Int) -> Bool {
        guard pid > 0, pid <= Int(Int32.max) else { return false }
        if kill(pid_t(pid), 0) == 0 { return true }
        return errno == EPERM
    }
}
