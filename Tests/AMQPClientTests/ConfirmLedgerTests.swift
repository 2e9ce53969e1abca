@testable import AMQPClient
import Testing

@Suite struct ConfirmLedgerTests {
    @Test func multipleSettlesEverythingUpToTheTag() {
        var ledger = ConfirmLedger<String>()
        #expect(["a", "b", "c", "d"].map { ledger.recordSent($0) } == [1, 2, 3, 4])
        #expect(ledger.settle(tag: 3, multiple: true) == ["a", "b", "c"])
        #expect(ledger.count == 1)
        #expect(ledger.settle(tag: 3, multiple: true).isEmpty)
    }

    @Test func singleConfirmsMayArriveOutOfOrder() {
        var ledger = ConfirmLedger<Int>()
        for value in 1...5 { _ = ledger.recordSent(value) }
        #expect(ledger.settle(tag: 4, multiple: false) == [4])
        #expect(ledger.settle(tag: 2, multiple: false) == [2])
        #expect(ledger.settle(tag: 4, multiple: false).isEmpty)
        #expect(ledger.settle(tag: 9, multiple: false).isEmpty)
        #expect(ledger.settle(tag: 5, multiple: true) == [1, 3, 5])
        #expect(ledger.count == 0)
    }

    @Test func aNewSessionResendsTheUnconfirmedInOrderWithFreshTags() {
        var ledger = ConfirmLedger<String>()
        for value in ["a", "b", "c"] { _ = ledger.recordSent(value) }
        _ = ledger.settle(tag: 1, multiple: false)
        ledger.sessionEnded()
        #expect(ledger.settle(tag: 2, multiple: true).isEmpty)
        #expect(ledger.sendUnsent() == ["b", "c"])
        #expect(ledger.recordSent("d") == 3)
        #expect(ledger.settle(tag: 2, multiple: true) == ["b", "c"])
        #expect(ledger.removeAll() == ["d"])
    }

    @Test func aRefusedSessionGivesUpWhatItSentAndKeepsWhatItNeverSent() {
        var ledger = ConfirmLedger<String>()
        for value in ["a", "b", "c"] { _ = ledger.recordSent(value) }
        _ = ledger.settle(tag: 1, multiple: false)
        ledger.sessionEnded()                       // broke before "b" and "c" were sent again
        #expect(ledger.unsettled == ["b", "c"])
        _ = ledger.sendUnsent()
        _ = ledger.recordSent("d")
        #expect(ledger.removeSent() == ["b", "c", "d"], "sent in the session the broker refused")
        #expect(ledger.count == 0)
        for value in ["e", "f"] { _ = ledger.recordSent(value) }
        ledger.sessionEnded()
        #expect(ledger.removeSent().isEmpty, "never sent in the session that ended")
        #expect(ledger.sendUnsent() == ["e", "f"])
    }
}

@Suite struct TopologyTests {
    @Test func recordsDeclarationsAndForgetsDeletions() {
        var topology = Topology()
        topology.record(Method.ExchangeDeclare(exchange: "x", type: "topic"))
        topology.record(Method.ExchangeDeclare(exchange: "y", type: "topic", passive: true))
        topology.record(Method.QueueDeclare(queue: "q"), assignedName: "q")
        topology.recordQueueBinding(Method.Binding(destination: "q", source: "x", routingKey: "k"))
        topology.recordQueueBinding(Method.Binding(destination: "q", source: "x", routingKey: "k"))
        #expect(topology.exchanges.map(\.exchange) == ["x"])
        #expect(topology.queueBindings.count == 1)
        topology.removeExchange("x")
        #expect(topology.exchanges.isEmpty && topology.queueBindings.isEmpty)
        topology.removeQueue("q")
        #expect(topology.queues.isEmpty)
    }

    @Test func serverNamedQueuesAreRenamedWithTheirBindings() {
        var topology = Topology()
        topology.record(Method.QueueDeclare(queue: "", exclusive: true), assignedName: "amq.gen-1")
        topology.recordQueueBinding(Method.Binding(destination: "amq.gen-1", source: "x", routingKey: "k"))
        #expect(topology.queues.first?.isServerNamed == true)
        topology.rename(queue: "amq.gen-1", to: "amq.gen-2")
        #expect(topology.queues.map(\.declaration.queue) == ["amq.gen-2"])
        #expect(topology.queueBindings.map(\.destination) == ["amq.gen-2"])
    }
}

@Suite struct ConnectionConfigurationTests {
    @Test func parsesEveryPartOfTheURL() throws {
        let configuration = try AMQPConnectionConfiguration(
            url: "amqp://spool%40app:p%3Ass@broker.local:5673/jobs%2Fprod?heartbeat=15&frame_max=65536&channel_max=64")
        #expect(configuration.user == "spool@app")
        #expect(configuration.password == "p:ss")
        #expect(configuration.host == "broker.local")
        #expect(configuration.port == 5673)
        #expect(configuration.virtualHost == "jobs/prod")
        #expect(configuration.heartbeat == 15)
        #expect(configuration.frameMax == 65536)
        #expect(configuration.channelMax == 64)
    }

    @Test func defaultsFillTheRest() throws {
        let configuration = try AMQPConnectionConfiguration(url: "amqp://[::1]")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 5672)
        #expect(configuration.user == "guest")
        #expect(configuration.virtualHost == "/")
        #expect(try AMQPConnectionConfiguration(url: "amqp://h/%2f").virtualHost == "/")
    }

    @Test(arguments: ["http://h", "amqp://h:0", "amqp://h:x", "amqp://h/%zz", "amqp://h?heartbeat=-1", "amqp://h?nope=1"])
    func invalidURLsAreRefused(_ url: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: url) }
        #expect(error?.code == .invalidURL)
    }

    @Test(arguments: ["amqp://u:hunter2@h:0", "amqp://u:hunter2@h?heartbeat=x", "amqp://u:hunter2%zz@h", "amqp://u:hunter2%ff@h"])
    func refusedURLsAreShownWithoutTheirPassword(_ url: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: url) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("hunter2") == false, "\(error?.message ?? "")")
    }

    @Test func redactionHidesOnlyThePassword() {
        #expect(AMQPConnectionConfiguration.redacted("amqp://app:s3cret@broker:5672/vh") == "amqp://app:***@broker:5672/vh")
        #expect(AMQPConnectionConfiguration.redacted("amqp://app@broker/vh") == "amqp://app@broker/vh")
        #expect(AMQPConnectionConfiguration.redacted("amqp://broker/a:b@c") == "amqp://broker/a:b@c")
    }
}
