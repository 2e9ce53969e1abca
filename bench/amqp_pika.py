#!/usr/bin/env python3
"""The pika side of bench/amqp: the same workload as `spool amqp bench`, printed as JSON.

pika's BlockingConnection with confirm_delivery waits for each confirm before the next publish,
so this uses pika's asynchronous adapters (--adapter select: SelectConnection, pika's own I/O
loop; asyncio: AsyncioConnection on Python's event loop) with publisher confirms pipelined under
the same window of unconfirmed messages, then a consumer with the same prefetch that
acknowledges with `multiple` every half prefetch.
"""
import argparse
import json
import time
import uuid

import pika
from pika.adapters.asyncio_connection import AsyncioConnection

ADAPTERS = {"select": pika.SelectConnection, "asyncio": AsyncioConnection}


class Bench:
    def __init__(self, args):
        self.args = args
        self.queue = "pika.bench." + uuid.uuid4().hex[:8]
        self.body = b"x" * args.size
        self.properties = pika.BasicProperties(delivery_mode=2)
        self.published = 0
        self.confirmed = 0
        self.nacked = 0
        self.received = 0
        self.result = {}
        self.channel = None
        self.connection = ADAPTERS[args.adapter](
            pika.URLParameters(args.amqp), on_open_callback=self.on_open,
            on_open_error_callback=self.on_error, on_close_callback=self.on_closed)

    def run(self):
        loop = self.connection.ioloop
        loop.start() if self.args.adapter == "select" else loop.run_forever()
        if self.nacked or self.received != self.args.messages:
            raise SystemExit(f"pika bench: {self.nacked} nacked, {self.received} of {self.args.messages} received")
        return self.result

    def on_error(self, _connection, error):
        raise SystemExit(f"pika bench: cannot connect: {error}")

    def on_closed(self, _connection, _reason):
        self.connection.ioloop.stop()

    def on_open(self, connection):
        connection.channel(on_open_callback=self.on_channel)

    def on_channel(self, channel):
        self.channel = channel
        channel.queue_declare(self.queue, durable=True, callback=self.on_declared)

    def on_declared(self, _frame):
        self.channel.confirm_delivery(ack_nack_callback=self.on_confirm, callback=self.on_confirm_mode)

    def on_confirm_mode(self, _frame):
        self.started = time.perf_counter()
        self.publish_more()

    def publish_more(self):
        limit = min(self.args.messages, self.confirmed + self.args.window)
        while self.published < limit:
            self.channel.basic_publish("", self.queue, self.body, self.properties)
            self.published += 1

    def on_confirm(self, frame):
        method = frame.method
        # RabbitMQ confirms one channel's publishes in order, so the tag counts the confirmed ones.
        self.confirmed = max(self.confirmed, method.delivery_tag)
        if isinstance(method, pika.spec.Basic.Nack):
            self.nacked += 1
        if self.confirmed < self.args.messages:
            self.publish_more()
            return
        seconds = time.perf_counter() - self.started
        self.result.update(publishSeconds=seconds, publishPerSecond=self.args.messages / seconds)
        self.channel.basic_qos(prefetch_count=self.args.prefetch, callback=self.on_qos)

    def on_qos(self, _frame):
        self.started = time.perf_counter()
        self.channel.basic_consume(self.queue, self.on_message)

    def on_message(self, channel, method, _properties, _body):
        self.received += 1
        if self.received % (self.args.prefetch // 2) == 0 or self.received == self.args.messages:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if self.received == self.args.messages:
            seconds = time.perf_counter() - self.started
            self.result.update(consumeSeconds=seconds, consumePerSecond=self.args.messages / seconds)
            channel.queue_delete(self.queue, callback=lambda _frame: self.connection.close())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--window", type=int, default=2000)
    parser.add_argument("--adapter", choices=sorted(ADAPTERS), default="select")
    args = parser.parse_args()
    result = Bench(args).run()
    result.update(client=f"pika {pika.__version__} {args.adapter}",
                  method=f"{ADAPTERS[args.adapter].__name__}: confirms pipelined in a window; consumer with prefetch, ack multiple",
                  messages=args.messages, size=args.size, prefetch=args.prefetch, window=args.window)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
