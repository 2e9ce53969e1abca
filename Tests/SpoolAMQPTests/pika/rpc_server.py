"""Answers Spool RPC requests with pika, in the edeposit.amqp style, then exits.

Usage: rpc_server.py AMQP_URL QUEUE COUNT
Type "py.upper" answers {"upper": <the body's "text" upper-cased>}; any other type fails with the
exception headers (exception, exception_name, exception_type). Exits after COUNT requests.
"""
import json
import sys

import pika


def answer(request_type, body):
    if request_type != "py.upper":
        raise LookupError("no handler for %s" % request_type)
    return {"upper": json.loads(body)["text"].upper()}


def main():
    url, queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=True)
    channel.basic_qos(prefetch_count=1)
    handled = 0
    for method, properties, body in channel.consume(queue, inactivity_timeout=60):
        if method is None:
            raise SystemExit("no request within 60 s")
        headers = {"UUID": (properties.headers or {}).get("UUID")}
        try:
            reply = json.dumps(answer(properties.type, body))
        except Exception as error:
            headers.update(exception=str(error), exception_name=error.__class__.__name__,
                           exception_type=str(type(error)))
            reply = "null"
        channel.basic_publish(exchange="", routing_key=properties.reply_to, body=reply,
                              properties=pika.BasicProperties(content_type="application/json", headers=headers))
        channel.basic_ack(method.delivery_tag)
        handled += 1
        if handled == count:
            break
    channel.cancel()
    connection.close()


if __name__ == "__main__":
    main()
