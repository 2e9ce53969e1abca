import Foundation

/// A blocking TCP connection to a loopback port, for tests that speak HTTP or WebSocket byte
/// by byte. Every call blocks; run it off Swift concurrency's threads (see ``offPool(_:)``).
public final class LoopbackConnection: @unchecked Sendable {
    private let fd: Int32
    private var closed = false
    /// Whether the last ``receive(upTo:)`` came back empty because its timeout passed.
    public private(set) var timedOut = false

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` shrinks the socket's receive buffer first.
    public init(port: Int, receiveBuffer: Int? = nil, timeout: Double = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket() failed") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            // Through close(), which marks the connection closed: an initializer that throws once
            // every property is set still runs deinit, whose close() would otherwise close the
            // number again, by then perhaps another thread's socket (NIO traps on that).
            close()
            throw ServerError("cannot connect to 127.0.0.1:\(port)")
        }
    }

    deinit { close() }

    /// Sends every byte; returns `false` when the peer stopped reading or closed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        LoopbackSocket.send(bytes, on: fd)
    }

    /// Up to `count` bytes; empty at the end of the stream, on a reset, or after the timeout.
    public func receive(upTo count: Int = 65536) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let received = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, count, 0) }
        timedOut = received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
        return received > 0 ? Array(buffer[..<received]) : []
    }

    /// Closes the connection.
    public func close() {
        guard !closed, fd >= 0 else { return }
        closed = true
        Glibc.close(fd)
    }
}

/// Runs blocking work on a thread of its own, leaving Swift concurrency's threads free.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
