import AMQPClient
import Logging
import SpoolCore
import Synchronization

/// The calls of an ``AMQPRPCClient`` waiting for their responses, by `UUID`.
final class ResponseWaiters: Sendable {
    typealias Waiter = AsyncThrowingStream<AMQPRPCResponse, any Error>.Continuation

    private struct State {
        var waiters: [String: Waiter] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Registers the call `uuid`; throws once the client is closed.
    func add(_ uuid: String, _ waiter: Waiter) throws {
        let added = state.withLock { state in
            guard !state.closed else { return false }
            state.waiters[uuid] = waiter
            return true
        }
        guard added else { throw AMQPRPCError(.clientClosed, "the RPC client is closed") }
    }

    /// Forgets the call `uuid` once it has its answer, timed out or was cancelled.
    func remove(_ uuid: String) {
        _ = state.withLock { $0.waiters.removeValue(forKey: uuid) }
    }

    /// Fails every waiting call and refuses new ones.
    func close() {
        let waiting = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiting { waiter.finish(throwing: AMQPRPCError(.clientClosed, "the RPC client is closed")) }
    }

    /// Hands each delivery of the reply consumer to the call waiting for its `UUID`, until the
    /// consumer ends; then fails the calls still waiting.
    func receive(from consumer: AMQPConsumer, logger: Logger) async {
        do {
            for try await delivery in consumer { deliver(delivery, logger: logger) }
        } catch {
            logger.warning("RPC reply consumer ended", metadata: ["error": "\(error)"])
        }
        close()
    }

    private func deliver(_ delivery: AMQPDelivery, logger: Logger) {
        guard let uuid = delivery.headers.text(AMQPRPCHeader.uuid) else {
            logger.warning("dropped an RPC response without a UUID header", metadata: ["reply-queue": "\(delivery.routingKey)"])
            return
        }
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: uuid) }) else {
            logger.warning("dropped an RPC response for an unknown UUID", metadata: ["uuid": "\(uuid)"])
            return
        }
        if let remote = AMQPRPCRemoteError(uuid: uuid, headers: delivery.headers) {
            waiter.finish(throwing: remote)
            return
        }
        do {
            let body = try JSONPayload(messageBody: delivery.body)
            waiter.yield(AMQPRPCResponse(uuid: uuid, body: body, headers: delivery.headers))
            waiter.finish()
        } catch {
            waiter.finish(throwing: AMQPRPCError(.invalidResponse, "the response to \(uuid) is not JSON: \(error)"))
        }
    }
}
