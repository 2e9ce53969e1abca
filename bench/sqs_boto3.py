"""boto3's side of `spool sqs bench`: the same workload with the same settings.

    python3 bench/sqs_boto3.py [--messages N] [--size BYTES] [--senders N] [--receivers N]

Endpoint, region and credentials from the AWS variables (AWS_ENDPOINT_URL_SQS for a local
server). Senders send batches of ten side by side (threads sharing one client); then receivers
long-poll ten at a time and delete each batch in one request until every message arrived.
Prints JSON like `spool sqs bench --json`: messages per second and this process's CPU seconds
per 10,000 messages in each phase.
"""
import argparse
import json
import resource
import threading
import time
import uuid

import boto3


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work):
    cpu, start = cpu_seconds(), time.monotonic()
    work()
    return time.monotonic() - start, cpu_seconds() - cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--receivers", type=int, default=8)
    options = parser.parse_args()
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="boto3-bench-" + uuid.uuid4().hex[:8])["QueueUrl"]
    body = "x" * options.size
    batches = (options.messages + 9) // 10
    lock = threading.Lock()
    state = {"next": 0, "seen": set(), "duplicates": 0}

    def send():
        while True:
            with lock:
                batch = state["next"]
                state["next"] += 1
            if batch >= batches:
                return
            count = min(10, options.messages - batch * 10)
            entries = [{"Id": str(i), "MessageBody": f"{batch * 10 + i} {body}"} for i in range(count)]
            failed = sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed", [])
            if failed:
                raise RuntimeError(f"SQS refused {failed[0]}")

    def receive():
        while True:
            with lock:
                if len(state["seen"]) >= options.messages:
                    return
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=60).get("Messages", [])
            if not messages:
                continue
            with lock:
                for message in messages:
                    if message["MessageId"] in state["seen"]:
                        state["duplicates"] += 1
                    state["seen"].add(message["MessageId"])
            sqs.delete_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def run(target, count):
        def work():
            threads = [threading.Thread(target=target) for _ in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return work

    send_seconds, send_cpu = timed(run(send, options.senders))
    receive_seconds, receive_cpu = timed(run(receive, options.receivers))
    sqs.delete_queue(QueueUrl=queue)
    per10k = 10_000 / options.messages
    print(json.dumps({
        "client": "boto3 " + boto3.__version__, "messages": options.messages, "size": options.size,
        "senders": options.senders, "receivers": options.receivers,
        "sendPerSecond": options.messages / send_seconds, "sendCPUSecondsPer10k": send_cpu * per10k,
        "receivePerSecond": options.messages / receive_seconds, "receiveCPUSecondsPer10k": receive_cpu * per10k,
        "duplicates": state["duplicates"],
    }))


if __name__ == "__main__":
    main()
