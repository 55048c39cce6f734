#!/usr/bin/env python3
"""Runs one real Lambda bootstrap binary against a large cluster and measures it.

Why it exists: the functions are deployed with a fixed MemorySize, so their peak memory on a big
cluster must be measured, not guessed, and guarded against regressions. This starts the fake EC2
+ EKS + SNS endpoint of `fake_aws.py` holding an N-node cluster (the scenario of `generate.py`),
serves one event through a minimal Lambda Runtime API on 127.0.0.1 (the same HTTP interface
Lambda gives a `provided.al2023` function: GET .../invocation/next, POST .../response or
.../error, POST .../init/error), spawns the bootstrap with the environment Lambda and the SAM
template give it, and reports as one JSON object:

- peak_rss_kb: the bootstrap's peak resident memory (the kernel's accounting of the child,
  os.wait4's ru_maxrss), which is what Lambda's MemorySize caps;
- cold_start_ms: process start to its first request for an event;
- invocation_ms: that request to the function's answer;
- answer: "response" or "error", with the body;
- api_calls: requests per EC2/EKS action the fake endpoint served, and sns_published;
  api_calls_by_account: the same per account ({account: {action: requests}}, fake_aws.py's
  --account-stats-file; with `--member-role`, the peered VPC's account answers the far side of
  the payments VPC, and the AssumeRole is the main account's);
- invocations: with `--repeat N`, the same event is served N times to the one process (a warm
  function), and each answer is listed with its time and the `api_calls` the function counted:
  the second ENI event of `on-change` audits only its node against the cluster's context cached
  by the first.
- with `--kube`: the cluster's Kubernetes API is served too (`kube_bench.py`: fake_kube in front
  of fake_aws, 30 pods per node) and read by the bootstrap (`KUBERNETES_API=eks`); each
  invocation lists the Kubernetes calls and bytes on the wire its API server saw (`kube`).

Usage:
    python3 tests/scale/run_function.py --binary target/release/scheduled-audit \\
        --nodes 5000 [--event scheduled|eni] [--repeat 1] [--timeout 600] [--member-role NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import generate  # noqa: E402
import kube_bench  # noqa: E402

PREFIX = "/2018-06-01/runtime"
REQUEST_ID = "8f507cfc-3f5b-4e6b-9b8a-0c4f2b1e5a01"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:podreach-bench"


class Runtime:
    """The Runtime API's state: the events to hand out in turn, then the function's answers."""

    def __init__(self, events: list[bytes]):
        self.events = events
        self.repeat = len(events)
        self.handed_out = 0
        self.handed_at = []
        self.first_next = None
        self.answered = threading.Event()
        self.answers = []
        self.answer = None
        self.answered_at = None
        self.lock = threading.Lock()
        # With --kube: the API server's request log, read as each answer arrives.
        self.kube = None
        self.kube_marks = []

    def request_id(self, index: int) -> str:
        return f"{REQUEST_ID[:-2]}{index:02d}"


def handler_for(runtime: Runtime):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def _reply(self, status: int, body: bytes, headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                return self._reply(404, b"{}")
            if runtime.first_next is None:
                runtime.first_next = time.monotonic()
            with runtime.lock:
                index = runtime.handed_out
                runtime.handed_out += 1
            if index >= runtime.repeat:
                # Every event handed out: hold the poll until the process is stopped.
                runtime.answered.wait()
                time.sleep(3600)
                return None
            runtime.handed_at.append(time.monotonic())
            deadline = int((time.time() + 900) * 1000)
            return self._reply(
                200,
                runtime.events[index],
                [
                    ("Lambda-Runtime-Aws-Request-Id", runtime.request_id(index)),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN),
                    ("Lambda-Runtime-Trace-Id", "Root=1-67891233-abcdef012345678912345678"),
                ],
            )

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kind = None
            ids = [runtime.request_id(i) for i in range(runtime.repeat)]
            for rid in ids:
                if self.path == f"{PREFIX}/invocation/{rid}/response":
                    kind = "response"
                elif self.path == f"{PREFIX}/invocation/{rid}/error":
                    kind = "error"
            if self.path == f"{PREFIX}/init/error":
                kind = "init-error"
            if kind is None:
                return self._reply(404, b"{}")
            self._reply(202, b'{"status":"OK"}')
            if not runtime.answered.is_set():
                now = time.monotonic()
                text = body.decode("utf-8", "replace")
                started = runtime.handed_at[len(runtime.answers)] if len(runtime.answers) < len(runtime.handed_at) else now
                runtime.answers.append((kind, text, round((now - started) * 1000, 1)))
                if runtime.kube is not None:
                    runtime.kube_marks.append(runtime.kube.requests())
                if kind != "response" or len(runtime.answers) == runtime.repeat:
                    runtime.answer = (kind, text)
                    runtime.answered_at = now
                    runtime.answered.set()
            return None

    return Handler


def scheduled_event() -> dict:
    with open(os.path.join(ROOT, "events", "scheduled.json"), encoding="utf-8") as f:
        return json.load(f)


def eni_event(nodes: int, routes: int, seed: int) -> dict:
    """AttachNetworkInterface of a secondary ENI of the scenario's first node."""
    with open(os.path.join(ROOT, "events", "ec2-attach-network-interface.json"), encoding="utf-8") as f:
        event = json.load(f)
    files = generate.generate(nodes, routes, seed)
    enis = files["ec2/network-interfaces.json"]["NetworkInterfaces"]
    eni = next(e for e in enis if e["Attachment"]["DeviceIndex"] == 1)
    params = event["detail"]["requestParameters"]
    params["networkInterfaceId"] = eni["NetworkInterfaceId"]
    params["instanceId"] = eni["Attachment"]["InstanceId"]
    return event


def unrelated_detaches(count: int = 100) -> dict:
    """An SQS batch from the debounce queue of `count` DetachNetworkInterface events for ENIs no
    node owns (ECS tasks, VPC Lambdas, load balancers churn them all day)."""
    with open(os.path.join(ROOT, "events", "ec2-detach-network-interface.json"), encoding="utf-8") as f:
        template = json.load(f)
    records = []
    for i in range(count):
        event = json.loads(json.dumps(template))
        event["id"] = f"0f3c2b1a-9e8d-4c7b-a6f5-{i:012x}"
        event["detail"]["requestParameters"]["attachmentId"] = f"eni-attach-0f{i:015x}"
        records.append({
            "messageId": f"5e1c0b7a-0000-4000-8000-{i:012x}",
            "receiptHandle": f"AQEB{i}",
            "body": json.dumps(event),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764133200000"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:podreach-ChangeEventsQueue",
            "awsRegion": "eu-west-1",
        })
    return {"Records": records}


def event_of(kind: str, args) -> dict:
    if kind == "scheduled":
        return scheduled_event()
    if kind == "eni":
        return eni_event(args.nodes, args.routes, args.seed)
    if kind == "unrelated-detaches":
        return unrelated_detaches()
    raise SystemExit(f"unknown event {kind}")


def start_fake(args, directory: str):
    ready = os.path.join(directory, "port")
    stats = os.path.join(directory, "stats.json")
    accounts = os.path.join(directory, "accounts.json")
    process = subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "fake_aws.py"),
            "--nodes", str(args.nodes),
            "--routes", str(args.routes),
            "--seed", str(args.seed),
            "--port", "0",
            "--ready-file", ready,
            "--stats-file", stats,
            "--account-stats-file", accounts,
            "--throttle", str(args.throttle),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(directory, "fake.err"), "wb"),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"fake_aws.py exited with {process.returncode}")
        if os.path.exists(ready) and open(ready).read().strip():
            return process, int(open(ready).read().strip()), stats, accounts
        time.sleep(0.05)
    process.kill()
    raise SystemExit("fake_aws.py did not start within 300 s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--routes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--event", default="scheduled",
                        help="scheduled, eni or unrelated-detaches (an SQS batch of 100), or several, "
                        "comma-separated, served in turn to the one process")
    parser.add_argument("--repeat", type=int, default=1, help="serve the event(s) this many times to the one process")
    parser.add_argument("--throttle", type=int, default=0, metavar="PERCENT",
                        help="fake_aws.py answers this share of EC2 requests with RequestLimitExceeded")
    parser.add_argument("--format", choices=["json", "chatbot"], default="chatbot")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--cert-file",
        help="SSL_CERT_FILE for the bootstrap: one CA bundle, as on Lambda's AL2023 "
        "(/etc/pki/tls/certs/ca-bundle.crt), instead of this machine's directory of certificates",
    )
    parser.add_argument(
        "--kube",
        action="store_true",
        help="serve the cluster's Kubernetes API (kube_bench.py) and let the bootstrap read it",
    )
    parser.add_argument(
        "--member-role",
        metavar="NAME",
        help="MEMBER_ROLE_NAME for the bootstrap: the role it assumes in the account that owns the peered "
        "VPC (fake_aws.py grants podreach-member); without it that far side is a gap",
    )
    parser.add_argument(
        "--platform-roots",
        action="store_true",
        help="PODREACH_TLS_ROOTS=platform: trust the platform's root certificates instead of the "
        "embedded Amazon Trust Services roots (the functions' default)",
    )
    args = parser.parse_args(argv)

    kinds = [k.strip() for k in args.event.split(",") if k.strip()]
    events = [json.dumps(event_of(k, args)).encode() for k in kinds] * args.repeat
    runtime = Runtime(events)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(runtime))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    with tempfile.TemporaryDirectory(prefix="podreach-fn-") as directory:
        fake, port, stats_file, accounts_file = start_fake(args, directory)
        kube = kube_bench.start(port, args.nodes, args.routes, args.seed) if args.kube else None
        runtime.kube = kube
        try:
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
                "AWS_LAMBDA_FUNCTION_NAME": "podreach-bench",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_FORMAT": "JSON",
                "AWS_LAMBDA_LOG_LEVEL": "WARN",
                "_HANDLER": "bootstrap",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.path.join(directory, "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(directory, "no-credentials"),
                "HOME": directory,
                "TOPIC_ARN": "arn:aws:sns:eu-west-1:111122223333:podreach-findings",
                "MESSAGE_FORMAT": args.format,
                "MIN_SEVERITY": "LOW",
                "RUST_LOG": "warn",
                # The EC2-only measurements: the Kubernetes API is measured with --kube.
                "KUBERNETES_API": "off",
            }
            if kube is not None:
                env["KUBERNETES_API"] = "eks"
                env["AWS_ENDPOINT_URL_EKS"] = kube.eks
            if args.cert_file:
                env["SSL_CERT_FILE"] = args.cert_file
            if args.platform_roots:
                env["PODREACH_TLS_ROOTS"] = "platform"
            if args.member_role:
                env["MEMBER_ROLE_NAME"] = args.member_role
            started = time.monotonic()
            function = subprocess.Popen(
                [args.binary],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(directory, "function.err"), "wb"),
            )
            finished = runtime.answered.wait(args.timeout)
            exited = function.poll() is not None
            if not exited:
                function.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(function.pid, 0)
            function.returncode = status
            stderr = open(os.path.join(directory, "function.err"), encoding="utf-8", errors="replace").read()
        finally:
            if kube is not None:
                kube.stop()
            fake.send_signal(signal.SIGTERM)
            try:
                fake.wait(30)
            except subprocess.TimeoutExpired:
                fake.kill()
        calls, by_account = {}, {}
        if os.path.exists(stats_file):
            with open(stats_file, encoding="utf-8") as f:
                calls = json.load(f)
        if os.path.exists(accounts_file):
            with open(accounts_file, encoding="utf-8") as f:
                by_account = json.load(f)
    server.shutdown()

    answer_kind, answer_body = runtime.answer or (None, None)
    result = {
        "binary": args.binary,
        "event": args.event,
        "nodes": args.nodes,
        "routes": args.routes,
        "binary_bytes": os.path.getsize(args.binary),
        "peak_rss_kb": usage.ru_maxrss,
        "cold_start_ms": round((runtime.first_next - started) * 1000, 1) if runtime.first_next else None,
        "invocation_ms": runtime.answers[0][2] if runtime.answers else None,
        "invocations": [
            {
                "answer": kind,
                "ms": ms,
                "api_calls": (json.loads(text).get("api_calls") if text.startswith("{") else None),
                "action": (json.loads(text).get("action") if text.startswith("{") else None),
                "gaps": (json.loads(text).get("gaps") if text.startswith("{") else None),
                "not_analysed": (json.loads(text).get("not_analysed") if text.startswith("{") else None),
                "published": (json.loads(text).get("published") if text.startswith("{") else None),
                "batch_item_failures": (
                    len(json.loads(text).get("batchItemFailures", []))
                    if text.startswith("{") and "batchItemFailures" in text else None
                ),
                "context_age_seconds": (json.loads(text).get("context_age_seconds") if text.startswith("{") else None),
                "blind_spots": (json.loads(text).get("blind_spots") if text.startswith("{") else None),
                "kube": (
                    kube_bench.summary(runtime.kube_marks[i][len(runtime.kube_marks[i - 1]) if i else 0 :])
                    if i < len(runtime.kube_marks)
                    else None
                ),
            }
            for i, (kind, text, ms) in enumerate(runtime.answers)
        ],
        "answer": answer_kind,
        "body": json.loads(answer_body) if answer_body and answer_body.startswith("{") else answer_body,
        "api_calls": calls,
        "api_calls_by_account": by_account,
        "member_role": args.member_role,
        "exited_early": exited,
        "stderr_tail": stderr[-2000:] if (not finished or answer_kind != "response") else "",
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if finished and answer_kind == "response" else 1


if __name__ == "__main__":
    sys.exit(main())
