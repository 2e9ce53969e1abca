"""boto3's side of the SQS interoperability tests, against the tests' moto server.

    interop.py ENDPOINT send QUEUE_NAME          sends three messages with attributes, then a FIFO
                                                 group of three to QUEUE_NAME.fifo
    interop.py ENDPOINT receive QUEUE_NAME COUNT receives COUNT messages and prints them as JSON lines
"""
import json
import sys

import boto3

endpoint, command, name = sys.argv[1], sys.argv[2], sys.argv[3]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")

if command == "send":
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for index in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": index, "text": "héllo"}),
                         MessageAttributes={"origin": {"DataType": "String", "StringValue": "boto3"},
                                            "index": {"DataType": "Number", "StringValue": str(index)}})
    fifo = sqs.create_queue(QueueName=name + ".fifo",
                            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for step in ["first", "second", "third"]:
        sqs.send_message(QueueUrl=fifo, MessageBody=step, MessageGroupId="order-1")
elif command == "receive":
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    count, seen = int(sys.argv[4]), 0
    while seen < count:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                     MessageAttributeNames=["All"])
        for message in answer.get("Messages", []):
            attributes = {key: value.get("StringValue") for key, value in message.get("MessageAttributes", {}).items()}
            print(json.dumps({"body": message["Body"], "attributes": attributes}), flush=True)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            seen += 1
else:
    sys.exit("unknown command " + command)
