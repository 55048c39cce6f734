#!/usr/bin/env python3
"""Faults injected end to end: the real `bootstrap` binaries through the Lambda Runtime API
(`run_function.py`) against the fake EC2/EKS/SNS endpoint (`fake_aws.py`), which answers 30 % of
EC2 requests with RequestLimitExceeded (a throttling storm; the EC2 request budget is per account
and Region and shared with the VPC CNI on every node), and 100 DetachNetworkInterface events for
ENIs no node owns (ECS tasks, VPC Lambdas, load balancers churn them all day).

Asserts, and prints as a Markdown table:
- under the storm the audit finishes with the same result as without it (findings published,
  gaps, nothing not analysed), every throttled request was retried (the SDK's standard retry,
  at most 5 attempts a call) and counted by the endpoint, and the invocation answered (so nothing
  goes back to the queue or to the dead-letter queue);
- the 100 unrelated detaches, in one SQS batch, cost no EC2 request and no audit, with no record
  failed, whether or not a full audit has stored the clusters' owned ids before.

The faults the endpoint cannot inject (SNS refusing, DynamoDB conflicts and outages, the process
killed between any two operations) are injected at the handlers, with the functions' own code and
doubles for the stores: `crates/aws/tests/delivery.rs`.

Usage: python3 tests/scale/fault_injection.py [--binaries target/debug] [--nodes 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

MAX_ATTEMPTS = 5  # crates/aws/src/collect/collector.rs, CollectorSettings::default


def run(binary: str, event: str, nodes: int, throttle: int) -> dict:
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "run_function.py"), "--binary", binary, "--nodes", str(nodes),
         "--routes", "20", "--event", event, "--throttle", str(throttle), "--format", "json", "--timeout", "300"],
        capture_output=True, text=True, check=False,
    )
    if not out.stdout.strip():
        raise SystemExit(f"run_function.py printed nothing: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def ec2_requests(result: dict) -> int:
    """EC2, EKS and STS requests the endpoint received (throttled attempts included, SNS aside)."""
    return sum(n for action, n in result["api_calls"].items() if action not in ("Publish", "(throttled)"))


def check(condition: bool, message: str, failures: list[str]):
    if not condition:
        failures.append(message)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binaries", default=os.path.join(ROOT, "target", "debug"))
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--throttle", type=int, default=30)
    args = parser.parse_args(argv)
    scheduled = os.path.join(args.binaries, "scheduled-audit")
    on_change = os.path.join(args.binaries, "on-change")
    failures: list[str] = []
    rows = []

    # 1. A full audit under the storm, beside the same audit without it.
    calm = run(scheduled, "scheduled", args.nodes, 0)
    storm = run(scheduled, "scheduled", args.nodes, args.throttle)
    throttled = storm["api_calls"].get("(throttled)", 0)
    (c,), (s,) = calm["invocations"], storm["invocations"]
    for key in ("action", "gaps", "not_analysed", "published", "api_calls"):
        check(c[key] == s[key], f"scheduled-audit under {args.throttle} % throttling: {key} {s[key]!r}, "
              f"without: {c[key]!r}", failures)
    check(storm["answer"] == "response", f"scheduled-audit answered {storm['answer']}", failures)
    check(throttled > 0, "the endpoint throttled nothing", failures)
    calls = ec2_requests(storm) - throttled
    check(calls == ec2_requests(calm), f"{calls} calls under the storm, {ec2_requests(calm)} without", failures)
    check(throttled <= (MAX_ATTEMPTS - 1) * calls, f"{throttled} retries for {calls} calls: unbounded", failures)
    rows.append((f"scheduled-audit, {args.nodes} nodes: RequestLimitExceeded on {args.throttle} % of EC2 requests",
                 1, 1, f"{throttled} throttled, all retried ({calls} calls, ≤ {MAX_ATTEMPTS} attempts each)",
                 0, 0, int(storm["answer"] != "response")))

    # 2. on-change: a node's event (the whole cluster, which stores the owned ids), then 100
    # unrelated detaches in one batch, under the storm.
    alone = run(on_change, "eni", args.nodes, args.throttle)
    both = run(on_change, "eni,unrelated-detaches", args.nodes, args.throttle)
    first, batch = both["invocations"]
    check(both["answer"] == "response", f"on-change answered {both['answer']}", failures)
    check(batch["batch_item_failures"] == 0, f"{batch['batch_item_failures']} records failed", failures)
    extra = ec2_requests(both) - ec2_requests(alone)
    check(extra == 0, f"the 100 unrelated detaches cost {extra} EC2 requests", failures)
    check(first["action"] == "audited", f"the node's event: {first['action']}", failures)
    rows.append((f"on-change: a node's ENI event, then 100 DetachNetworkInterface of ENIs no node owns (one SQS "
                 f"batch), {args.throttle} % throttling", 2, 101, f"{extra} EC2 requests and 0 audits for the 100",
                 0, 0, batch["batch_item_failures"] or 0))

    # 3. The same batch before any audit (no owned ids stored yet).
    cold = run(on_change, "unrelated-detaches", args.nodes, 0)
    (only,) = cold["invocations"]
    check(cold["answer"] == "response" and only["batch_item_failures"] == 0, "the cold batch failed", failures)
    check(ec2_requests(cold) == 0, f"the cold batch cost {ec2_requests(cold)} EC2 requests", failures)
    rows.append(("on-change: the 100 unrelated detaches before any audit", 1, 100,
                 f"{ec2_requests(cold)} EC2 requests, 0 audits", 0, 0, only["batch_item_failures"] or 0))

    print("| faults injected | invocations | events | what happened | events lost | duplicates announced "
          "(unmarked) | DLQ entries |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    if failures:
        print("\n".join(f"FAILED: {f}" for f in failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
