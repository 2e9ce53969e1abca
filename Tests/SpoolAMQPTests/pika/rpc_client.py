"""Calls a Spool RPC daemon with pika: spool.echo, spool.fail, and spool.echo with the UUID as bytes.

Usage: rpc_client.py AMQP_URL QUEUE
Prints one JSON document: the echo response's body and UUID, and the failure's exception headers.
"""
import json
import sys
import uuid

import pika


def call(channel, reply_queue, queue, request_type, body, uuid_as_bytes=False):
    request_id = str(uuid.uuid4())
    channel.basic_publish(
        exchange="",
        routing_key=queue,
        properties=pika.BasicProperties(
            content_type="application/json",
            delivery_mode=1,
            headers={"UUID": request_id.encode() if uuid_as_bytes else request_id},
            reply_to=reply_queue,
            type=request_type,
        ),
        body=json.dumps(body),
    )
    for method, properties, payload in channel.consume(reply_queue, inactivity_timeout=30):
        if method is None:
            raise SystemExit("no response to %s within 30 s" % request_type)
        channel.basic_ack(method.delivery_tag)
        headers = properties.headers or {}
        if headers.get("UUID") == request_id:
            channel.cancel()
            return headers, payload
    raise SystemExit("the reply consumer ended")


def main():
    url, queue = sys.argv[1], sys.argv[2]
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    reply_queue = channel.queue_declare(queue="", exclusive=True).method.queue
    echo_headers, echo_body = call(channel, reply_queue, queue, "spool.echo", {"from": "pika", "n": 7})
    fail_headers, _ = call(channel, reply_queue, queue, "spool.fail", {"message": "pika asked for it", "attempt": 2})
    _, bytes_body = call(channel, reply_queue, queue, "spool.echo", {"uuid": "bytes"}, uuid_as_bytes=True)
    connection.close()
    print(json.dumps({
        "echo": json.loads(echo_body),
        "echo_has_exception": "exception" in echo_headers,
        "exception": fail_headers.get("exception"),
        "exception_name": fail_headers.get("exception_name"),
        "exception_type": fail_headers.get("exception_type"),
        "bytes_uuid_echo": json.loads(bytes_body),
    }))


if __name__ == "__main__":
    main()
