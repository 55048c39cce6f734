#!/usr/bin/env python3
"""Checks `podreach audit --live` with a transit gateway owned by another account (shared through
AWS RAM), against the fake endpoint.

Why it exists: in the usual enterprise layout a network account owns the transit gateway and
shares it with the workload accounts through RAM. The cluster's account then sees the gateway
(`DescribeTransitGateways`, another `OwnerId`) and the attachments of its own VPCs, but none of
the gateway's route tables, and not the attachments of the VPCs behind it: those only the owner
reads. The collector reads them in the owner's account through the member role
(`--member-role`), and without it the transit gateway hops are unknown (UNKNOWN_REMOTE) naming the
owner. This script proves both against `fake_aws.py --tgw-account`, which serves the scenario of
`generate.py --tgw-account` (the gateway, its 5 route tables, every attachment and the
shared-services VPC in ACCOUNT, TGW_ACCOUNT below; the cluster's account a RAM participant):
- offline: `podreach audit --snapshot DIR --format json` of the generated snapshot (every file,
  every account) gives the same verdict counts and findings as the scenario without the flag (the
  objects are the same, only their owners differ); that offline report is the reference below;
- (a) `podreach audit --live --kube off --format json --paths --member-role podreach-member`: no
  cause of the cluster's verdicts (the paths' causes and unknown hops, the gaps, the blind spots)
  names TGW_ACCOUNT; the endpoint served DescribeTransitGatewayRouteTables and
  SearchTransitGatewayRoutes to TGW_ACCOUNT's assumed credentials (> 0) and none to the cluster's
  account; the verdict counts, and the findings (cause, direction, severity, destinations), equal
  the offline audit's;
- (b) the same without `--member-role`: some pod-to-peer verdicts toward shared-services are
  unknown with cause UNKNOWN_REMOTE, a reason of which names TGW_ACCOUNT; the report's gaps name
  TGW_ACCOUNT; the endpoint served nothing to TGW_ACCOUNT.
Each live run has an endpoint of its own (its per-account counts are written when it stops),
run as bench.py runs the CLI against it: AWS_ENDPOINT_URL, static credentials, no config files,
Region generate.REGION (the scenario's). The endpoints are stopped in `finally`.

Prints each check; exits 0 when all pass, 1 otherwise.

Usage:
    python3 tests/scale/check_shared_tgw.py [--nodes 20] [--routes 100] [--seed 1]
        [--tgw-account 333344445555] [--podreach target/debug/podreach] [--keep DIR]
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ left in the repository
sys.path.insert(0, HERE)
import generate  # noqa: E402  (the scenario; same directory)
from fakes import endpoint_env  # noqa: E402  (the endpoint's environment)
from check_fake_ec2 import Checks, start_fake  # noqa: E402  (one way to start the fake and count checks)

TGW_ACCOUNT = "333344445555"
MEMBER_ROLE = "podreach-member"  # fake_aws.py's default --allow-role
# The debug binary may be rebuilt while this runs: wait for it this long.
BINARY_WAIT = 900



def run_podreach(binary: str, args: list[str], out_path: str, env=None) -> int:
    """Runs podreach with its stdout to `out_path`; waits (and retries) while the binary is
    missing or being rewritten by a build. Returns the exit status."""
    deadline = time.monotonic() + BINARY_WAIT
    while True:
        try:
            with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
                return subprocess.run([binary, *args], stdout=out, stderr=err, env=env, timeout=900).returncode
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ETXTBSY, errno.EACCES, errno.ENOEXEC) \
                    or time.monotonic() > deadline:
                raise
            print(f"      ({binary}: {e.strerror}; waiting for the build)", flush=True)
            time.sleep(10)


def load_report(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError:
        with open(path + ".err", encoding="utf-8", errors="replace") as f:
            raise SystemExit(f"podreach wrote no JSON report to {path}: {text[:500]!r}; stderr: {f.read()[-2000:]}")


def counts(report: dict) -> dict:
    return {c["name"]: c["verdicts"] for c in report["clusters"]}


def findings(report: dict) -> list:
    return sorted((f["cluster"], f["cause"], f["direction"], f["severity"], tuple(f["destinations"]))
                  for f in report["findings"])


def finding_difference(live_findings: list, offline_findings: list) -> str:
    """What differs between two reports' findings, short: per (cluster, cause, direction,
    severity), the destinations only one side has."""
    def by_kind(items):
        out = {}
        for cluster, cause, direction, severity, destinations in items:
            out.setdefault((cluster, cause, direction, severity), set()).update(destinations)
        return out

    a, b = by_kind(live_findings), by_kind(offline_findings)
    lines = []
    for kind in sorted(set(a) | set(b)):
        only_live, only_offline = sorted(a.get(kind, set()) - b.get(kind, set())), sorted(b.get(kind, set()) - a.get(kind, set()))
        if only_live or only_offline or (kind in a) != (kind in b):
            lines.append(f"{'/'.join(kind[1:])}: live only {len(only_live)} {only_live[:4]}, "
                         f"offline only {len(only_offline)} {only_offline[:4]}")
    return "; ".join(lines) or "(the same destinations, split differently)"


def stop(process) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def live(args, directory: str, member_role: str | None, fakes: list) -> tuple[dict, dict, int]:
    """`podreach audit --live` against a fake endpoint of its own: (report, {account: {action:
    requests}} the endpoint served, exit status)."""
    os.makedirs(directory, exist_ok=True)
    fake, port, _, accounts_file = start_fake(args, directory, ("--tgw-account", args.tgw_account))
    fakes.append(fake)
    env = endpoint_env(port, directory, generate.REGION)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_EC2",
                 "AWS_ENDPOINT_URL_EKS", "AWS_ENDPOINT_URL_STS", "MEMBER_ROLE_NAME", "MEMBER_EXTERNAL_ID",
                 "KUBECONFIG"):
        env.pop(name, None)
    command = ["audit", "--live", "--region", generate.REGION, "--kube", "off", "--format", "json", "--paths"]
    if member_role:
        command += ["--member-role", member_role]
    report_path = os.path.join(directory, "report.json")
    started = time.monotonic()
    code = run_podreach(args.podreach, command, report_path, env)
    print(f"      podreach {' '.join(command)}: exit {code} in {time.monotonic() - started:.1f} s", flush=True)
    stop(fake)
    report = load_report(report_path)
    by_account = {}
    if os.path.exists(accounts_file):
        with open(accounts_file, encoding="utf-8") as f:
            by_account = json.load(f)
    return report, by_account, code


def mentions(report: dict, account: str) -> list[str]:
    """What in the report says something about `account` could not be read: the paths' causes
    and unknown or dropping hops, the gaps, the clusters' blind spots and nodes not modelled, and
    what was not analysed."""
    out = []
    for p in report.get("paths") or []:
        for r in p.get("causes", []):
            if account in r.get("detail", ""):
                out.append(f"path {p['eni_id']} {p['direction']} {p['destination']}: {r['code']} {r['detail']}")
        for h in p.get("hops", []):
            if h.get("outcome") != "pass" and account in h.get("detail", ""):
                out.append(f"path {p['eni_id']} {p['direction']} {p['destination']}: hop {h['outcome']} {h['detail']}")
    for g in report.get("gaps", []):
        if account in json.dumps(g):
            out.append(f"gap: {g.get('message')}")
    for c in report.get("clusters", []):
        for b in c.get("blind_spots", []):
            if account in json.dumps(b):
                out.append(f"blind spot: {b}")
        for n in c.get("nodes_not_modelled", []):
            if account in json.dumps(n):
                out.append(f"node not modelled: {n}")
    for n in report.get("not_analysed", []):
        if account in json.dumps(n):
            out.append(f"not analysed: {n}")
    return out


def toward(path: dict, blocks) -> bool:
    """Whether a path's destination lies in one of `blocks` (shared-services' CIDRs)."""
    try:
        dest = ipaddress.ip_network(path["destination"], strict=False)
    except ValueError:
        return False
    return any(dest.version == b.version and dest.subnet_of(b) for b in blocks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--routes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tgw-account", default=TGW_ACCOUNT, help=f"the gateway's owner (default {TGW_ACCOUNT})")
    parser.add_argument("--podreach", default=os.path.join(ROOT, "target", "debug", "podreach"),
                        help="the podreach binary (default: target/debug/podreach)")
    parser.add_argument("--keep", metavar="DIR", help="keep the snapshots, reports and endpoint logs in DIR")
    args = parser.parse_args(argv)
    owner, main_account = args.tgw_account, generate.ACCOUNT
    c = Checks()
    fakes: list = []
    directory = args.keep or tempfile.mkdtemp(prefix="podreach-shared-tgw-")
    os.makedirs(directory, exist_ok=True)
    try:
        # --- offline: the generated snapshot, every account's files -------------------------------
        shared_dir, plain_dir = os.path.join(directory, "snapshot"), os.path.join(directory, "snapshot-plain")
        for d in (shared_dir, plain_dir):
            shutil.rmtree(d, ignore_errors=True)
        files = generate.generate(args.nodes, args.routes, args.seed, owner)
        generate.write_snapshot(files, shared_dir)
        generate.write_snapshot(generate.generate(args.nodes, args.routes, args.seed), plain_dir)
        in_owner = sorted(p for p in files if generate.account_of(p) == owner)
        print(f"generate.py --nodes {args.nodes} --routes {args.routes} --seed {args.seed} --tgw-account {owner}: "
              f"{len(files)} files, {len(in_owner)} of them {owner}'s (ec2/accounts/{owner}/)", flush=True)
        reports = {}
        for name, d in (("offline", shared_dir), ("offline-plain", plain_dir)):
            path = os.path.join(directory, f"{name}.json")
            code = run_podreach(args.podreach, ["audit", "--snapshot", d, "--format", "json"], path)
            reports[name] = load_report(path)
            print(f"      podreach audit --snapshot {d} --format json: exit {code}; "
                  f"verdicts {counts(reports[name])}, {len(reports[name]['findings'])} findings", flush=True)
        offline = reports["offline"]
        c.check(counts(offline) == counts(reports["offline-plain"])
                and findings(offline) == findings(reports["offline-plain"])
                and offline["gaps"] == reports["offline-plain"]["gaps"] == [],
                f"offline, every file: the snapshot with --tgw-account {owner} gives the verdicts, findings and (no) "
                f"gaps of the one without it: {counts(offline)}",
                (counts(offline), counts(reports["offline-plain"]), offline["gaps"]))

        shared_blocks = [ipaddress.ip_network(b) for b in generate.SHARED_BLOCKS]

        # --- (a) with the member role ---------------------------------------------------------------
        print(f"--- (a) --member-role {MEMBER_ROLE}", flush=True)
        report, served, code = live(args, os.path.join(directory, "live-role"), MEMBER_ROLE, fakes)
        c.check(code in (0, 1) and report.get("clusters"), f"(a) podreach audit --live answered a report (exit {code})",
                code)
        said = mentions(report, owner)
        c.check(not said, f"(a) no cause of the cluster's verdicts, gap or blind spot names {owner} as unreadable",
                f"{len(said)}, e.g. {said[:3]}")
        theirs, ours = served.get(owner, {}), served.get(main_account, {})
        tables = ("DescribeTransitGatewayRouteTables", "SearchTransitGatewayRoutes")
        c.check(all(theirs.get(a, 0) > 0 for a in tables) and all(ours.get(a, 0) == 0 for a in tables),
                f"(a) the TGW route tables were read in {owner}: "
                + ", ".join(f"{a} {theirs.get(a, 0)} there, {ours.get(a, 0)} in {main_account}" for a in tables),
                served)
        print(f"      served per account: {json.dumps(served, sort_keys=True)}", flush=True)
        c.check(counts(report) == counts(offline),
                f"(a) the verdict counts equal the offline audit's: {counts(report)} vs {counts(offline)}",
                (counts(report), counts(offline)))
        c.check(findings(report) == findings(offline),
                f"(a) the findings (cause, direction, severity, destinations) equal the offline audit's "
                f"({len(report['findings'])})", finding_difference(findings(report), findings(offline)))

        # --- (b) without it --------------------------------------------------------------------------
        print("--- (b) without --member-role", flush=True)
        report, served, code = live(args, os.path.join(directory, "live-no-role"), None, fakes)
        c.check(code in (0, 1) and report.get("clusters"), f"(b) podreach audit --live answered a report (exit {code})",
                code)
        paths = [p for p in report.get("paths") or [] if p["direction"] == "pod-to-peer" and toward(p, shared_blocks)]
        unknown = [p for p in paths if p["verdict"] == "unknown" and p.get("cause") == "UNKNOWN_REMOTE"
                   and any(r["code"] == "UNKNOWN_REMOTE" and owner in r["detail"] for r in p.get("causes", []))]
        by_verdict = Counter((p["verdict"], p.get("cause")) for p in paths)
        example = next((r["detail"] for p in unknown for r in p["causes"] if owner in r["detail"]), "")
        c.check(bool(unknown),
                f"(b) {len(unknown)} of the {len(paths)} pod-to-peer verdicts toward shared-services are unknown, "
                f"UNKNOWN_REMOTE naming {owner}" + (f" ({example!r})" if example else ""),
                dict(by_verdict))
        gaps = [g["message"] for g in report.get("gaps", []) if owner in json.dumps(g)]
        c.check(bool(gaps), f"(b) the report's gaps name {owner}" + (f" ({gaps[0]!r})" if gaps else ""),
                [g.get("message") for g in report.get("gaps", [])])
        c.check(owner not in served, f"(b) the endpoint served nothing to {owner}", served.get(owner))
        print(f"      verdicts {counts(report)}; served per account: {json.dumps(served, sort_keys=True)}", flush=True)
    finally:
        for fake in fakes:
            stop(fake)
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{c.passed} checks passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
