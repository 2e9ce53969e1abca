"""Calls a Spool RPC daemon the way edeposit.amqp's clients do: the request goes to an exchange
with the input routing key, without reply_to, the type inside the serialized body; answers are
read from a result queue bound to the exchange by the output key, paired by the UUID header.

Usage: edeposit_client.py AMQP_URL EXCHANGE INPUT_KEY RESULT_QUEUE
Prints one JSON document: the echo's body, and the failure's exception headers.
"""
import json
import sys
import uuid

import pika


def send(channel, exchange, key, body):
    request_id = str(uuid.uuid4())
    channel.basic_publish(
        exchange=exchange,
        routing_key=key,
        properties=pika.BasicProperties(content_type="application/json", delivery_mode=1, headers={"UUID": request_id}),
        body=json.dumps(body),
    )
    return request_id


def main():
    url, exchange, key, result_queue = sys.argv[1:5]
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    echo_id = send(channel, exchange, key, {"__nt_name": "spool.echo", "isbn": "80-251-0225-4"})
    fail_id = send(channel, exchange, key, {"__nt_name": "spool.fail", "message": "no such ISBN"})
    answers = {}
    for method, properties, payload in channel.consume(result_queue, inactivity_timeout=30):
        if method is None:
            raise SystemExit("no answer within 30 s; got %d" % len(answers))
        channel.basic_ack(method.delivery_tag)
        headers = properties.headers or {}
        answers[headers.get("UUID")] = (headers, payload)
        if echo_id in answers and fail_id in answers:
            break
    channel.cancel()
    connection.close()
    echo_headers, echo_body = answers[echo_id]
    fail_headers, _ = answers[fail_id]
    print(json.dumps({
        "echo": json.loads(echo_body),
        "echo_has_exception": "exception" in echo_headers,
        "exception": fail_headers.get("exception"),
        "exception_name": fail_headers.get("exception_name"),
        "exception_type": fail_headers.get("exception_type"),
    }))


if __name__ == "__main__":
    main()
