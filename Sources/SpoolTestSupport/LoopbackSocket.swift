import Foundation

/// Small blocking socket probes on 127.0.0.1 for the throwaway servers.
public enum LoopbackSocket {
    /// A free loopback port, found by binding port 0.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw ServerError("binding port 0 failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A socket listening on a free loopback port, for a scripted server: its descriptor and port.
    public static func listener() throws -> (descriptor: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket() failed") }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw ServerError("listening on a loopback port failed")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Sends all of `bytes` on `descriptor`; returns `false` when the peer stopped reading or closed.
    @discardableResult
    public static func send(_ bytes: [UInt8], on descriptor: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Waits until `process` accepts TCP connections on loopback `port`; throws when it exits
    /// first or `timeout` passes (a loaded machine can take seconds to start an interpreter).
    public static func waitUntilAccepting(port: Int, process: ChildProcess, name: String,
                                          timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(try await offPool { accepts(port: port) }) {
            guard process.isRunning else { throw ServerError("\(name) exited during start") }
            guard ContinuousClock.now < deadline else { throw ServerError("\(name) did not accept connections on port \(port) within \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether anything accepts a TCP connection on loopback `port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Whether an AMQP 0-9-1 server on `port` answers the protocol header with a method frame
    /// (`connection.start`) within two seconds.
    static func answersAMQP(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        let header: [UInt8] = Array("AMQP".utf8) + [0, 0, 9, 1]
        guard header.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, 0) }) == header.count else { return false }
        var frameType: UInt8 = 0
        return recv(fd, &frameType, 1, 0) == 1 && frameType == 1
    }

    /// The PIDs of processes listening on a loopback TCP port, from `ss`.
    static func pids(listeningOn port: Int) -> [pid_t] {
        guard let text = try? ChildProcess.run("/usr/bin/ss", ["-ltnpH", "sport = :\(port)"]).output else { return [] }
        var pids: Set<pid_t> = []
        for match in text.split(separator: "pid=").dropFirst() {
            if let pid = pid_t(match.prefix { $0.isNumber }) { pids.insert(pid) }
        }
        return Array(pids)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
