import Foundation
import Synchronization

/// A TCP proxy on a loopback port in front of a server, for tests of what a client does when
/// its connections break: ``cut()`` resets every open connection and refuses new ones (by
/// closing them as they are accepted) until ``restore()``; ``stall()`` keeps every byte back,
/// connections open and new ones accepted, until ``resume()`` (a network that drops packets).
///
/// ``arm(_:afterBytes:)`` damages the next connection's answers: one byte flipped, or the
/// connection cut, after so many bytes from the server.
///
/// It also watches the requests: `tag` names a request from the first bytes a client sends on a
/// connection after an answer (for SQS, the action in `X-Amz-Target`), and the proxy counts
/// the requests of each tag and the most that were awaiting an answer at once; ``hold(_:)``
/// keeps the next request of a tag from the server until ``release()`` (a server slow to answer).
public final class TCPProxy: Sendable {
    /// What ``arm(_:afterBytes:)`` does to a connection.
    public enum Fault: Sendable {
        /// The byte at the offset reaches the client with one bit flipped; the rest unchanged.
        case flip
        /// The client gets the bytes before the offset, then the connection closes.
        case cut
    }

    private struct State {
        var armed: (fault: Fault, offset: Int)?
        var faultsDone = 0
        var down = false
        var stalled = false
        var stopped = false
        var open: Set<Int32> = []
        /// How many of a connection's two pumps have ended, by the client's descriptor.
        var ended: [Int32: Int] = [:]
        var counts: [String: Int] = [:]
        var awaiting: [Int32: String] = [:]
        var mostAwaiting: [String: Int] = [:]
        /// The tag whose next request is held, and whether one is held now.
        var hold: String?
        var holding = false
    }

    /// The proxy's port on 127.0.0.1.
    public let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let tag: @Sendable ([UInt8]) -> String?
    private let state = Mutex(State())

    /// A proxy to `127.0.0.1:upstreamPort`, accepting on a free loopback port.
    public init(upstreamPort: Int, tag: @escaping @Sendable ([UInt8]) -> String? = { _ in nil }) throws {
        (listener, port) = try LoopbackSocket.listener()
        self.upstreamPort = upstreamPort
        self.tag = tag
        Thread.detachNewThread { [self] in accepting() }
    }

    /// The tag of an SQS request: its action, from `X-Amz-Target: AmazonSQS.<Action>`.
    public static let sqsAction: @Sendable ([UInt8]) -> String? = { bytes in
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        guard let range = text.range(of: "AmazonSQS.") else { return nil }
        return String(text[range.upperBound...].prefix { $0.isLetter })
    }

    /// The URL of the proxy, for an HTTP client.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// How many requests of each tag went through.
    public var counts: [String: Int] { state.withLock(\.counts) }

    /// The most requests of each tag that awaited an answer at the same time.
    public var mostAwaiting: [String: Int] { state.withLock(\.mostAwaiting) }

    /// Damages the next connection accepted: `fault` at byte `offset` of what the server sends.
    public func arm(_ fault: Fault, afterBytes offset: Int) {
        state.withLock { $0.armed = (fault, offset) }
    }

    /// Holds the next request tagged `tag` until ``release()`` (at most two minutes) before it
    /// goes to the server; the other connections go on meanwhile.
    public func hold(_ tag: String) {
        state.withLock { $0.hold = tag }
    }

    /// Lets a held request go on to the server.
    public func release() {
        state.withLock { $0.holding = false }
    }

    /// How many armed faults were done (a connection that closed before the offset does none).
    public var faultsDone: Int { state.withLock(\.faultsDone) }

    /// Resets every open connection and refuses new ones until ``restore()``.
    public func cut() {
        state.withLock { state in
            state.down = true
            for descriptor in state.open { shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }

    /// Accepts and forwards connections again.
    public func restore() {
        state.withLock { $0.down = false }
    }

    /// Keeps back every byte either side sends, on open connections and new ones, until
    /// ``resume()``: to the client the server has stopped answering.
    public func stall() {
        state.withLock { $0.stalled = true }
    }

    /// Lets the bytes kept back, and later ones, through.
    public func resume() {
        state.withLock { $0.stalled = false }
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            for descriptor in state.open { shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func accepting() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(listener)
                return
            }
            let (down, stopped) = state.withLock { ($0.down, $0.stopped) }
            if stopped { close(client); close(listener); return }
            guard !down, let upstream = connectUpstream() else {
                close(client)
                continue
            }
            let fault = state.withLock { state in
                state.open.insert(client)
                state.open.insert(upstream)
                defer { state.armed = nil }
                return state.armed
            }
            Thread.detachNewThread { [self] in pump(from: client, to: upstream, requests: true) }
            Thread.detachNewThread { [self] in pump(from: upstream, to: client, requests: false, fault: fault) }
        }
    }

    private func connectUpstream() -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(upstreamPort).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Copies bytes from `source` to `target` until either side ends, then closes both. The
    /// client's side (`requests`) notes each request; the server's notes each answer, and does
    /// `fault` at its offset.
    private func pump(from source: Int32, to target: Int32, requests: Bool, fault: (fault: Fault, offset: Int)? = nil) {
        let connection = requests ? source : target
        var buffer = [UInt8](repeating: 0, count: 65536)
        var passed = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            var chunk = Array(buffer[0..<count])
            if requests {
                if noteRequest(chunk, on: connection) {
                    let deadline = Date().addingTimeInterval(120)
                    while state.withLock({ $0.holding && !$0.stopped }), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
                }
            } else {
                state.withLock { _ = $0.awaiting.removeValue(forKey: connection) }
            }
            if let fault, passed <= fault.offset, fault.offset < passed + count {
                state.withLock { $0.faultsDone += 1 }
                let at = fault.offset - passed
                if case .cut = fault.fault {
                    _ = LoopbackSocket.send(Array(chunk[..<at]), on: target)
                    break
                }
                chunk[at] ^= 0x10
            }
            passed += count
            while state.withLock({ $0.stalled && !$0.stopped }) { Thread.sleep(forTimeInterval: 0.01) }
            if !LoopbackSocket.send(chunk, on: target) { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(target, Int32(SHUT_RDWR))
        let last = state.withLock { state -> Bool in
            state.awaiting[connection] = nil
            state.ended[connection, default: 0] += 1
            guard state.ended[connection] == 2 else { return false }
            state.ended[connection] = nil
            state.open.remove(source)
            state.open.remove(target)
            return true
        }
        if last {
            close(source)
            close(target)
        }
    }

    /// Notes a request that begins with `chunk`; returns whether to hold it.
    private func noteRequest(_ chunk: [UInt8], on connection: Int32) -> Bool {
        state.withLock { state in
            guard state.awaiting[connection] == nil, let tag = tag(chunk) else { return false }
            state.awaiting[connection] = tag
            state.counts[tag, default: 0] += 1
            let now = state.awaiting.values.filter { $0 == tag }.count
            state.mostAwaiting[tag] = max(state.mostAwaiting[tag] ?? 0, now)
            guard state.hold == tag else { return false }
            state.hold = nil
            state.holding = true
            return true
        }
    }
}
