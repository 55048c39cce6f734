#!/usr/bin/env python3
"""Checks org_bench.py's fake hub endpoint through botocore, the AWS CLI's parser.

Why it exists: the benchmark's Organization section is measured against `org_bench.Hub`, which
answers Organizations, SQS and DynamoDB in their JSON protocols by hand. A field named wrong
would not fail there: an SDK would read an empty page or a batch with no result, and the plan
would be measured doing less than it does. This starts the endpoint on 127.0.0.1 and calls it as
the AWS CLI would:
- Organizations `ListAccounts` through botocore's paginator: every account once, 20 per page,
  each ACTIVE with its name;
- SQS `SendMessageBatch` on a FIFO queue URL: every entry Successful with the MD5 of its body
  (botocore checks it), groups and deduplication ids kept as sent;
- DynamoDB `BatchWriteItem` (no unprocessed items, every item counted), `PutItem`,
  `UpdateItem`, `GetItem` (no item) and `Query` (none);
- the endpoint's per-action counts equal the calls made here.

Exit status 0 when every check passes. Needs botocore (the test venv's).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from http.server import ThreadingHTTPServer

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import org_bench  # noqa: E402

failures = []


def check(ok: bool, what: str):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def main() -> int:
    hub = org_bench.Hub(45)
    server = ThreadingHTTPServer(("127.0.0.1", 0), org_bench.handler_for(hub))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    session = boto3.session.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    config = Config(retries={"max_attempts": 1})

    orgs = session.client("organizations", endpoint_url=url, config=config)
    pages = list(orgs.get_paginator("list_accounts").paginate())
    accounts = [a for p in pages for a in p["Accounts"]]
    check(len(pages) == 3 and [len(p["Accounts"]) for p in pages] == [20, 20, 5], "ListAccounts: 20 per page, 3 pages")
    check([a["Id"] for a in accounts] == hub.accounts, "ListAccounts: every account once, in order")
    check(all(a["Status"] == "ACTIVE" and a["Name"] for a in accounts), "ListAccounts: ACTIVE, named")

    sqs = session.client("sqs", endpoint_url=url, config=config)
    queue = f"{url}/999999999999/podreach-audit.fifo"
    entries = [
        {"Id": str(i), "MessageBody": f'{{"run":"run-1","account":"{a}","region":"us-east-1"}}',
         "MessageGroupId": f"{a}#0", "MessageDeduplicationId": f"run-1/{a}/us-east-1"}
        for i, a in enumerate(hub.accounts[:10])
    ]
    answer = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    check(len(answer.get("Successful", [])) == 10 and not answer.get("Failed"), "SendMessageBatch: every entry Successful")
    check(
        all(s["MD5OfMessageBody"] == hashlib.md5(e["MessageBody"].encode()).hexdigest()
            for s, e in zip(answer["Successful"], entries)),
        "SendMessageBatch: the MD5 of each body",
    )
    check([m["MessageGroupId"] for m in hub.messages] == [e["MessageGroupId"] for e in entries], "SendMessageBatch: groups kept")

    ddb = session.client("dynamodb", endpoint_url=url, config=config)
    items = [{"PutRequest": {"Item": {"pk": {"S": "run#run-1"}, "sk": {"S": f"target#{a}#us-east-1"}}}} for a in hub.accounts[:25]]
    written = ddb.batch_write_item(RequestItems={"podreach-state": items})
    check(written.get("UnprocessedItems") == {} and hub.items == 25, "BatchWriteItem: all 25 processed and counted")
    key = {"pk": {"S": "organization"}, "sk": {"S": "latest-run"}}
    ddb.put_item(TableName="podreach-state", Item=key)
    updated = ddb.update_item(TableName="podreach-state", Key=key, UpdateExpression="SET #r = :r",
                              ExpressionAttributeNames={"#r": "run"}, ExpressionAttributeValues={":r": {"S": "run-1"}},
                              ReturnValues="UPDATED_OLD")
    check("Attributes" not in updated, "UpdateItem: no earlier run")
    check("Item" not in ddb.get_item(TableName="podreach-state", Key=key), "GetItem: no item")
    queried = ddb.query(TableName="podreach-state", KeyConditionExpression="pk = :pk",
                        ExpressionAttributeValues={":pk": {"S": "run#run-1"}})
    check(queried["Items"] == [] and queried["Count"] == 0, "Query: none")

    expected = {"ListAccounts": 3, "SendMessageBatch": 1, "BatchWriteItem": 1, "PutItem": 1, "UpdateItem": 1, "GetItem": 1, "Query": 1}
    check(hub.calls == expected, f"the endpoint's counts are the calls made: {hub.calls}")
    check(not hub.unknown, "no request the endpoint did not know")
    server.shutdown()
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
