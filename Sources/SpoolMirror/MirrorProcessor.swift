import Foundation
import Logging
import SpoolCore

/// Where units are applied: a relational mirror.
public protocol MirrorTarget: Sendable {
    /// The declared types units are read against.
    var schema: MirrorSchema { get }
    /// Applies `unit` in one transaction unless it was applied before; returns whether it was
    /// applied now. Throws ``SpoolError`` for a unit that can never apply (then it is
    /// dead-lettered), any other error for a failure that may pass (then it is tried again).
    func apply(_ unit: MirrorUnit) async throws -> Bool

    /// Applies `units` in order, in one transaction where the mirror can; returns for each
    /// whether it was applied now. Throws as ``apply(_:)-(MirrorUnit)`` does, and then applies
    /// none of them.
    func apply(_ units: [MirrorUnit]) async throws -> [Bool]

    /// What the mirror has applied so far.
    func status() async throws -> MirrorStatus
}

/// What a mirror has applied: how many units, and the last one.
public struct MirrorStatus: Sendable, Hashable {
    /// The last unit applied.
    public struct Applied: Sendable, Hashable {
        /// Its id.
        public var id: UUID
        /// When the mirror applied it.
        public var appliedAt: Date
        /// When its unit of work committed, if the publisher said.
        public var committedAt: Date?

        /// A record of an applied unit.
        public init(id: UUID, appliedAt: Date, committedAt: Date?) {
            self.id = id
            self.appliedAt = appliedAt
            self.committedAt = committedAt
        }

        /// How long after its commit it was applied.
        public var lag: Duration? { committedAt.map { .milliseconds(Int64((appliedAt.timeIntervalSince($0) * 1000).rounded())) } }
    }

    /// Units applied.
    public var applied: Int
    /// The last one, if any.
    public var last: Applied?

    /// A status.
    public init(applied: Int, last: Applied?) {
        self.applied = applied
        self.last = last
    }
}

/// Publishes a committed unit's collapsed operations as one message, and nothing for an empty one.
public struct MirrorPublisher: Sendable {
    /// The transport messages go through.
    public let transport: any Transport
    /// The destination units go to.
    public let destination: String

    /// A publisher to `destination` on `transport`.
    public init(transport: any Transport, destination: String) {
        self.transport = transport
        self.destination = destination
    }

    /// Publishes the unit `buffer` holds, once its unit of work committed; returns the unit sent.
    @discardableResult
    public func publish(_ buffer: OperationBuffer, id: UUID = UUID()) async throws -> MirrorUnit? {
        guard !buffer.isEmpty else { return nil }
        let unit = MirrorUnit(id: id, operations: buffer.collapsed, committedAt: Date())
        try await transport.publish(unit.message, to: destination)
        return unit
    }
}

/// Consumes units from a transport and applies them to a mirror: a unit that cannot be read or
/// can never apply is dead-lettered with the reason, and processing goes on; one that fails for a
/// reason that may pass is tried again in place after `retryDelay`, still held, so that units of
/// the same entities stay in publish order.
public struct MirrorProcessor: Sendable {
    /// What the processor did, so far.
    public struct Counts: Sendable, Equatable {
        /// Units applied.
        public var applied = 0
        /// Units received again after they were applied (nothing changed).
        public var duplicates = 0
        /// Units dead-lettered.
        public var deadLettered = 0
        /// Times a unit failed for a reason that may pass and was tried again in place.
        public var retried = 0

        /// No units yet.
        public init() {}
    }

    /// The transport units come from.
    public let transport: any Transport
    /// The destination they come from.
    public let destination: String
    /// The mirror they are applied to.
    public let target: any MirrorTarget
    /// How long a unit that failed for a passing reason waits before it is tried again.
    public var retryDelay: Duration = .seconds(5)
    /// How long a received unit stays hidden from other processors after this one's process
    /// died without settling it.
    public var visibility: Duration = .seconds(60)
    /// The most units received and applied at once (in one mirror transaction).
    public var batchSize = 100
    /// How long a batch that came short waits for more units before it is applied: a few
    /// milliseconds of lag buy batches that cost the mirror and the transport one transaction
    /// each instead of one per unit. Zero applies whatever came at once.
    public var gather: Duration = .milliseconds(5)
    /// The log.
    public var logger = Logger(label: "spool.mirror")
    /// Told of every unit as it is settled: what happened to it, and for an applied unit the
    /// time from its commit to now (when its publisher said when it committed).
    public var observer: (@Sendable (Outcome, Duration?) -> Void)?

    /// What became of a unit.
    public enum Outcome: String, Sendable {
        /// Applied now.
        case applied
        /// Delivered again after it was applied: nothing changed.
        case duplicate
        /// Dead-lettered.
        case deadLettered
        /// Failed for a reason that may pass; tried again in place.
        case retried
    }

    /// A processor of `destination` on `transport` into `target`.
    public init(transport: any Transport, destination: String, target: any MirrorTarget) {
        self.transport = transport
        self.destination = destination
        self.target = target
    }

    /// Receives and applies one batch, waiting up to `wait` for the first unit; adds what it did
    /// to `counts`. The batch's units are applied in one mirror transaction; when the mirror
    /// refuses one of them, each is applied on its own, so that only the refused one is
    /// dead-lettered.
    public func processBatch(wait: Duration, into counts: inout Counts) async throws {
        var received: [(delivery: TransportDelivery, unit: MirrorUnit)] = []
        var deliveries = try await transport.receive(from: destination, limit: batchSize, wait: wait, visibility: visibility)
        if !deliveries.isEmpty, gather > .zero, deliveries.count < batchSize {
            try await Task.sleep(for: gather)
            deliveries += try await transport.receive(from: destination, limit: batchSize - deliveries.count, wait: .zero, visibility: visibility)
        }
        for delivery in deliveries {
            do {
                received.append((delivery, try MirrorUnit(json: String(decoding: delivery.message.body, as: UTF8.self), schema: target.schema)))
            } catch let error as SpoolError {
                logger.warning("mirror unit dead-lettered", metadata: ["message": "\(delivery.message.id)", "reason": "\(error.message)"])
                try await transport.deadLetter(delivery, reason: error.message)
                counts.deadLettered += 1
                observer?(.deadLettered, nil)
            }
        }
        guard !received.isEmpty else { return }
        var failures = 0
        while true {
            do {
                let applied = try await target.apply(received.map(\.unit))
                for ((_, unit), didApply) in zip(received, applied) { settled(unit, applied: didApply, into: &counts) }
                try await acknowledge(received.map(\.delivery))
                return
            } catch is SpoolError {
                for (delivery, unit) in received { try await processAlone(delivery, unit, into: &counts) }
                return
            } catch {
                // A failure that may pass (the mirror busy): the batch is tried again in place,
                // still held, so that no later unit of the same entities overtakes it.
                failures += 1
                logger.warning("mirror units failed; trying again", metadata: ["units": "\(received.count)", "error": "\(error)", "failures": "\(failures)"])
                counts.retried += received.count
                for _ in received { observer?(.retried, nil) }
                try await Task.sleep(for: retryDelay)
            }
        }
    }

    private func processAlone(_ delivery: TransportDelivery, _ unit: MirrorUnit, into counts: inout Counts) async throws {
        while true {
            do {
                settled(unit, applied: try await target.apply(unit), into: &counts)
                try await acknowledge([delivery])
                return
            } catch let error as SpoolError {
                logger.warning("mirror unit dead-lettered", metadata: ["unit": "\(unit.id)", "reason": "\(error.message)"])
                try await transport.deadLetter(delivery, reason: error.message)
                counts.deadLettered += 1
                observer?(.deadLettered, nil)
                return
            } catch {
                logger.warning("mirror unit failed; trying again", metadata: ["unit": "\(unit.id)", "error": "\(error)"])
                counts.retried += 1
                observer?(.retried, nil)
                try await Task.sleep(for: retryDelay)
            }
        }
    }

    /// Acknowledges `deliveries` together; one that is no longer held (its visibility passed
    /// while the unit was tried again, and another processor has it) is left to that processor:
    /// applying it again changes nothing.
    private func acknowledge(_ deliveries: [TransportDelivery]) async throws {
        do {
            try await transport.acknowledge(deliveries)
        } catch let error as SpoolError where error.code == .invalidState {
            logger.debug("mirror unit no longer held; left to its new holder", metadata: ["reason": "\(error.message)"])
        }
    }

    private func settled(_ unit: MirrorUnit, applied: Bool, into counts: inout Counts) {
        if applied {
            counts.applied += 1
            observer?(.applied, unit.committedAt.map { .milliseconds(Int64((Date().timeIntervalSince($0) * 1000).rounded())) })
        } else {
            counts.duplicates += 1
            observer?(.duplicate, nil)
        }
    }

    /// Processes until the task is cancelled.
    public func run() async throws {
        var counts = Counts()
        while !Task.isCancelled {
            try await processBatch(wait: .seconds(1), into: &counts)
        }
    }
}
