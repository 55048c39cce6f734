#!/usr/bin/env python3
"""The organization run's planning step, measured: the release `scheduled-audit` bootstrap in
organization mode (ORGANIZATION=true) against a fake hub endpoint holding an Organization of N
accounts, served one scheduled event through the Runtime API of run_function.py.

Why it exists: the hub plans a run of accounts × Regions on every schedule, and the plan must
stay cheap and within the function's memory at the size of a large Organization. The endpoint
here answers what planning calls, as the services do, and counts every request:

- Organizations `ListAccounts` (JSON 1.1), 20 accounts per page as Organizations pages them;
- SQS `SendMessageBatch` (JSON 1.0) on the FIFO audit queue: each entry's group and
  deduplication id kept, to report the groups per account and check every id is distinct;
- DynamoDB (JSON 1.0) on the state table: `BatchWriteItem` (the run's targets; every item
  processed), `PutItem`, `UpdateItem`, `GetItem` (no item: a first run), `Query` (none);
- SNS `Publish` (Query protocol), which a first run does not call.

Reports one JSON object: invocation_ms, peak_rss_kb (the bootstrap's, os.wait4's ru_maxrss),
requests by action, messages queued, accounts, groups per account, and the function's answer.

Usage:
    python3 tests/scale/org_bench.py --binary target/release/scheduled-audit --accounts 1000 \\
        --regions us-east-1,eu-west-1,ap-southeast-2,sa-east-1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_function  # noqa: E402

HUB = "999999999999"
PAGE = 20


class Hub:
    """What the fake endpoint holds and counts."""

    def __init__(self, accounts: int):
        self.accounts = [f"{100000000000 + i:012d}" for i in range(accounts)]
        self.calls: dict[str, int] = {}
        self.messages: list[dict] = []
        self.items = 0
        self.unknown: list[str] = []
        self.lock = threading.Lock()

    def count(self, action: str):
        with self.lock:
            self.calls[action] = self.calls.get(action, 0) + 1

    def list_accounts(self, body: dict) -> dict:
        start = int(body.get("NextToken") or 0)
        page = self.accounts[start : start + PAGE]
        answer = {
            "Accounts": [
                {
                    "Id": a,
                    "Arn": f"arn:aws:organizations::{HUB}:account/o-exampleorgid/{a}",
                    "Email": f"team-{a}@example.com",
                    "Name": f"team-{a[-4:]}",
                    "Status": "ACTIVE",
                    "JoinedMethod": "CREATED",
                    "JoinedTimestamp": 1.7e9,
                }
                for a in page
            ]
        }
        if start + PAGE < len(self.accounts):
            answer["NextToken"] = str(start + PAGE)
        return answer

    def send_batch(self, body: dict) -> dict:
        successful = []
        with self.lock:
            for entry in body.get("Entries", []):
                self.messages.append(entry)
                successful.append(
                    {
                        "Id": entry["Id"],
                        "MessageId": f"m-{len(self.messages)}",
                        "MD5OfMessageBody": hashlib.md5(entry["MessageBody"].encode()).hexdigest(),
                    }
                )
        return {"Successful": successful, "Failed": []}

    def dynamodb(self, action: str, body: dict) -> dict:
        if action == "BatchWriteItem":
            with self.lock:
                self.items += sum(len(v) for v in body.get("RequestItems", {}).values())
            return {"UnprocessedItems": {}}
        if action == "Query":
            return {"Items": [], "Count": 0, "ScannedCount": 0}
        return {}


def handler_for(hub: Hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def setup(self):
            super().setup()
            # Answers go out whole and at once: a head and a body written apart meet the
            # client's delayed ACK (40 ms per request on Linux), which would be the fake's time,
            # not podreach's.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, body: bytes, content_type: str):
            head = (
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "x-amzn-RequestId: 7c1e0c4e-0000-4000-8000-000000000000\r\n\r\n"
            )
            self.wfile.write(head.encode() + body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target") or ""
            if target:
                service, _, action = target.partition(".")
                body = json.loads(raw or b"{}")
                hub.count(action)
                if service.startswith("AWSOrganizations") and action == "ListAccounts":
                    answer = hub.list_accounts(body)
                elif service == "AmazonSQS" and action == "SendMessageBatch":
                    answer = hub.send_batch(body)
                elif service.startswith("DynamoDB"):
                    answer = hub.dynamodb(action, body)
                else:
                    hub.unknown.append(target)
                    return self._reply(400, b'{"__type":"UnknownOperationException"}', "application/x-amz-json-1.0")
                return self._reply(200, json.dumps(answer).encode(), "application/x-amz-json-1.0")
            params = dict(urllib.parse.parse_qsl(raw.decode()))
            action = params.get("Action", "?")
            hub.count(action)
            if action == "Publish":
                xml = (
                    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                    "<MessageId>0b8e1c6a-0000-4000-8000-000000000001</MessageId></PublishResult>"
                    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>"
                )
                return self._reply(200, xml.encode(), "text/xml")
            hub.unknown.append(action)
            return self._reply(400, b"<ErrorResponse/>", "text/xml")

    return Handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--regions", default="us-east-1,eu-west-1,ap-southeast-2,sa-east-1")
    parser.add_argument("--account-concurrency", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    hub = Hub(args.accounts)
    endpoint = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(hub))
    endpoint.daemon_threads = True
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    event = run_function.scheduled_event()
    event["account"] = HUB
    runtime = run_function.Runtime([json.dumps(event).encode()])
    api = ThreadingHTTPServer(("127.0.0.1", 0), run_function.handler_for(runtime))
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    regions = [r for r in args.regions.split(",") if r]
    with tempfile.TemporaryDirectory(prefix="podreach-org-") as directory:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "podreach-scheduled-audit",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "WARN",
            "_HANDLER": "bootstrap",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{endpoint.server_address[1]}",
            "AWS_REGION": regions[0],
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(directory, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(directory, "no-credentials"),
            "HOME": directory,
            "TOPIC_ARN": f"arn:aws:sns:{regions[0]}:{HUB}:podreach-findings",
            "STATE_TABLE": "podreach-state",
            "MEMBER_ROLE_NAME": "podreach-member",
            "ORGANIZATION": "true",
            "AUDIT_QUEUE_URL": f"http://127.0.0.1:{endpoint.server_address[1]}/{HUB}/podreach-audit.fifo",
            "ACCOUNT_CONCURRENCY": str(args.account_concurrency),
            "REGIONS": ",".join(regions),
            "RUST_LOG": "warn",
        }
        started = time.monotonic()
        function = subprocess.Popen(
            [args.binary], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, "err"), "wb")
        )
        finished = runtime.answered.wait(args.timeout)
        if function.poll() is None:
            function.terminate()
        _, _, usage = os.wait4(function.pid, 0)
        stderr = open(os.path.join(directory, "err"), encoding="utf-8", errors="replace").read()
    endpoint.shutdown()
    api.shutdown()
    kind, text = runtime.answer or (None, None)
    groups: dict[str, set] = {}
    for m in hub.messages:
        groups.setdefault(m["MessageGroupId"].split("#")[0], set()).add(m["MessageGroupId"])
    dedup = {m["MessageDeduplicationId"] for m in hub.messages}
    result = {
        "accounts": args.accounts,
        "regions": regions,
        "invocation_ms": runtime.answers[0][2] if runtime.answers else None,
        "peak_rss_kb": usage.ru_maxrss,
        "calls": hub.calls,
        "messages": len(hub.messages),
        "distinct_deduplication_ids": len(dedup),
        "accounts_queued": len(groups),
        "most_groups_per_account": max((len(g) for g in groups.values()), default=0),
        "largest_message_bytes": max((len(m["MessageBody"]) for m in hub.messages), default=0),
        "items_written": hub.items,
        "unknown_requests": hub.unknown,
        "answer": kind,
        "body": json.loads(text) if text and text.startswith("{") else text,
        "stderr_tail": stderr[-2000:] if kind != "response" else "",
        "started_s": round(time.monotonic() - started, 2),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if finished and kind == "response" and not hub.unknown else 1


if __name__ == "__main__":
    sys.exit(main())
