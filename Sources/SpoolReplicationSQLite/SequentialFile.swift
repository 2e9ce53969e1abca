import Foundation
import SpoolCore

/// A new file written front to back in blocks of ``blockSize``, each from an aligned buffer and,
/// where the file system allows it, straight to the disk (`O_DIRECT`): a snapshot of a large
/// store is written once and read back rarely, and passing it through the page cache cost more
/// than the write itself (a buffered copy of 1.4 GB took 1–5.4 s here, a direct one 1–1.4 s).
/// Where direct writes are refused (tmpfs, an odd tail), it writes through the cache.
/// One thread at a time may use it (a secondary's ``SnapshotSlot`` holds it under its lock).
final class SequentialFile: @unchecked Sendable {
    /// The bytes gathered before each write (and the buffer's alignment's multiple).
    static let blockSize = 1 << 20
    /// The alignment direct writes need, at most (the logical block size of common disks is 512 or 4,096).
    private static let alignment = 4_096

    let path: String
    private let descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    private var filled = 0
    private var offset: off_t = 0
    private var direct: Bool
    private var closed = false

    /// Creates (or empties) the file at `path`.
    init(path: String) throws {
        self.path = path
        var descriptor = Self.directFlag == 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | Self.directFlag, 0o644)
        direct = descriptor >= 0
        if descriptor < 0 { descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw SpoolError(.storeUnavailable, "cannot write \(path): \(String(cString: strerror(errno)))") }
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, Self.alignment, Self.blockSize) == 0, let memory else {
            close(descriptor)
            throw SpoolError(.storeUnavailable, "cannot allocate a buffer to write \(path)")
        }
        self.descriptor = descriptor
        buffer = memory
    }

    deinit {
        if !closed { close(descriptor) }
        free(buffer)
    }

    /// Appends `bytes`, writing each block as it fills.
    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { source in
            var taken = 0
            while taken < source.count {
                let count = min(source.count - taken, Self.blockSize - filled)
                (buffer + filled).copyMemory(from: source.baseAddress! + taken, byteCount: count)
                filled += count
                taken += count
                if filled == Self.blockSize { try flush() }
            }
        }
    }

    /// Writes what is gathered, syncs the file (data and size) and closes it.
    func finish() throws {
        try flush()
        guard fsync(descriptor) == 0 else { throw SpoolError(.storeUnavailable, "cannot sync \(path): \(String(cString: strerror(errno)))") }
        closed = true
        guard close(descriptor) == 0 else { throw SpoolError(.storeUnavailable, "cannot close \(path): \(String(cString: strerror(errno)))") }
    }

    /// Closes the file without syncing it.
    func abandon() {
        guard !closed else { return }
        closed = true
        close(descriptor)
    }

    private func flush() throws {
        guard filled > 0 else { return }
        // A tail that is not a whole number of aligned blocks goes through the cache.
        if direct, filled % Self.alignment != 0 { stopDirect() }
        var written = 0
        while written < filled {
            let result = pwrite(descriptor, buffer + written, filled - written, offset + off_t(written))
            if result < 0, errno == EINTR { continue }
            if result < 0, errno == EINVAL, direct {
                stopDirect()
                continue
            }
            guard result > 0 else { throw SpoolError(.storeUnavailable, "cannot write \(path): \(String(cString: strerror(errno)))") }
            written += result
        }
        offset += off_t(filled)
        filled = 0
    }

    private func stopDirect() {
        direct = false
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~Self.directFlag)
    }

    /// Linux's `O_DIRECT` (Glibc's module does not export it): its value differs by architecture.
    private static var directFlag: Int32 {
        #if os(Linux) && arch(x86_64)
        0o40000
        #elseif os(Linux) && arch(arm64)
        0o200000
        #else
        0
        #endif
    }
}
