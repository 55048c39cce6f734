#!/usr/bin/env python3
"""`podreach org audit` end to end: the real CLI binary against the fake EC2/EKS/STS endpoint
(`fake_aws.py`, which enforces what moto does not: AssumeRole is refused in an account that has
no member role, here one with no data), three targets in one run:
- the cluster's account, audited through the member role: the same findings as
  `podreach audit --live` run in that account directly;
- the peered VPC's account (no cluster): audited, with no cluster;
- an account without the role: not audited, typed `role-not-assumable` with the remedy, and it
  stops neither of the others;
the headline says 2 of 3, the exit status is 3 (never a clean result), and the text output
says the same. With `--state`, three runs: the blind target is ACCOUNT_UNREACHABLE NEW, then not
announced again, then RESOLVED once it is no longer planned; the findings are NEW, then ONGOING.

Usage: python3 tests/scale/org_audit.py [--binaries target/debug]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fakes  # noqa: E402  (the one way to start the fake endpoint)
import generate  # noqa: E402

NO_ROLE = "333344445555"
REGION = "eu-west-1"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binaries", default=os.path.join(ROOT, "target", "debug"))
    args = parser.parse_args(argv)
    podreach = os.path.join(args.binaries, "podreach")
    failures: list[str] = []

    def check(condition: bool, message: str):
        if not condition:
            failures.append(message)

    with tempfile.TemporaryDirectory(prefix="podreach-org-") as directory:
        fake, port, _, _ = fakes.start_fake(20, 10, 1, directory)
        try:
            env = fakes.endpoint_env(port, directory, REGION)
            org_args = [
                "org", "audit", "--region", REGION,
                "--account", generate.ACCOUNT, "--account", generate.PEER_ACCOUNT, "--account", NO_ROLE,
                "--member-role", "podreach-member", "--kube", "off",
            ]
            org = subprocess.run([podreach, *org_args, "--format", "json"], env=env, capture_output=True,
                                 text=True, timeout=600)
            direct = subprocess.run(
                [podreach, "audit", "--live", "--kube", "off", "--member-role", "podreach-member",
                 "--format", "json"],
                env=env, capture_output=True, text=True, timeout=600,
            )
            text = subprocess.run([podreach, *org_args], env=env, capture_output=True, text=True, timeout=600)
            # With --state: the blind target announced once, then quiet, then resolved when it is
            # no longer planned; the findings' lifecycle kept per account and Region.
            state = os.path.join(directory, "org-state.json")
            stateful = []
            for accounts in ([generate.ACCOUNT, generate.PEER_ACCOUNT, NO_ROLE],) * 2 + (
                    [generate.ACCOUNT, generate.PEER_ACCOUNT],):
                listed = [a for account in accounts for a in ("--account", account)]
                run = subprocess.run(
                    [podreach, "org", "audit", "--region", REGION, *listed, "--member-role", "podreach-member",
                     "--kube", "off", "--state", state, "--format", "json"],
                    env=env, capture_output=True, text=True, timeout=600,
                )
                stateful.append(json.loads(run.stdout) if run.stdout.strip() else {"error": run.stderr[-2000:]})
        finally:
            fake.send_signal(signal.SIGTERM)
            fake.wait(30)

    check(org.returncode == 3, f"org audit exited {org.returncode}, not 3: {org.stderr[-2000:]}")
    try:
        report = json.loads(org.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"org audit printed no JSON: {org.stdout[:500]} {org.stderr[-2000:]}")
    coverage = report["coverage"]
    check((coverage["planned"], coverage["audited"], coverage["complete"]) == (3, 2, False),
          f"coverage {coverage}")
    targets = {t["account"]: t for t in report["targets"]}
    check(list(targets) == sorted([generate.ACCOUNT, generate.PEER_ACCOUNT, NO_ROLE]),
          f"targets in account order: {list(targets)}")

    cluster_account = targets[generate.ACCOUNT]
    check(cluster_account["status"] == "audited", f"the cluster's account: {cluster_account['status']}")
    check(direct.returncode in (0, 1, 3), f"podreach audit --live exited {direct.returncode}: {direct.stderr[-2000:]}")
    alone = json.loads(direct.stdout)
    seen = cluster_account.get("report", {})
    check(len(seen.get("clusters", [])) >= 1, "the cluster's account has its cluster")

    def findings(r: dict) -> list[tuple]:
        return sorted((f["id"], f["severity"], f["cause"], len(f["affected"]["enis"])) for f in r["findings"])

    check(findings(seen) == findings(alone) and findings(alone),
          f"through the member role {findings(seen)}, directly {findings(alone)}")

    peer = targets[generate.PEER_ACCOUNT]
    check(peer["status"] == "audited" and peer["report"]["clusters"] == [],
          f"the peer's account: {peer['status']}, {len(peer.get('report', {}).get('clusters', []))} clusters")

    blind = targets[NO_ROLE]
    check(blind["status"] == "not-audited", f"the account without the role: {blind['status']}")
    check(blind.get("blocker", {}).get("kind") == "role-not-assumable", f"its blocker: {blind.get('blocker')}")
    check(f"arn:aws:iam::{NO_ROLE}:role/podreach-member" in blind.get("remedy", "")
          and "infra/member.yaml" in blind.get("remedy", ""), f"its remedy: {blind.get('remedy')}")
    check("AccessDenied" in blind.get("error", ""), f"its error: {blind.get('error')}")

    first = text.stdout.splitlines()[0] if text.stdout else ""
    check(first == f"2 of 3 accounts × Regions audited; 1 not: {NO_ROLE}/{REGION} (role-not-assumable)",
          f"the text's first line: {first!r}")
    check(text.returncode == 3, f"the text run exited {text.returncode}")
    check(f"== {NO_ROLE} {REGION}: NOT AUDITED (role-not-assumable)" in text.stdout, "the text names the blind target")

    first, second, third = stateful
    announced = [(c["lifecycle"], c["account"]) for c in first.get("account_lifecycle", [])]
    check(announced == [("NEW", NO_ROLE)], f"the first stateful run announces {announced}")
    check([c["lifecycle"] for c in second.get("account_lifecycle", [])] == [],
          f"the second run announces {second.get('account_lifecycle')}")
    resolved = third.get("account_lifecycle", [])
    check([(c["lifecycle"], c["account"]) for c in resolved] == [("RESOLVED", NO_ROLE)]
          and "no longer planned" in (resolved[0].get("why") or ""), f"the third run: {resolved}")
    check(third.get("coverage", {}).get("complete") is True, f"the third run's coverage: {third.get('coverage')}")

    def markers(run: dict) -> set:
        target = next((t for t in run.get("targets", []) if t["account"] == generate.ACCOUNT), {})
        return {e["lifecycle"] for e in target.get("report", {}).get("lifecycle") or []}

    check(markers(first) == {"NEW"}, f"the findings in the first stateful run: {markers(first)}")
    check(markers(second) == {"ONGOING"}, f"the findings in the second: {markers(second)}")

    if failures:
        print("\n".join(f"FAILED: {f}" for f in failures), file=sys.stderr)
        return 1
    print(f"org audit: 2 of 3 targets audited, the third typed role-not-assumable; "
          f"{len(findings(seen))} findings, identical to the direct audit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
