#!/usr/bin/env python3
"""The benchmark: measures podreach on realistic large clusters and writes BENCHMARKS.md.

Run through `scripts/bench` (which builds the release binaries first). Everything is measured as
whole processes on this machine, side by side in the same run: the wall time and peak resident
memory of each process come from the kernel's accounting of the child (os.wait4), the median of
several runs. No test asserts a time; this file is where times are looked at.

What it measures, for snapshots of 100, 1,000 and 5,000 nodes from `generate.py` (AWS CLI
output with every field, 4-space indent; 3 ENIs of 50 addresses per node; 100 private routes over
a peering connection and a transit gateway, whose 5 route tables hold 2,000 routes):
- `podreach audit --snapshot DIR` (the whole offline audit), its JSON report's size, and the
  phases inside it (parse, validate, analysis alone) from `examples/phases.rs`;
- `python3 -c 'import json; json.load(...)'` of the same files (merely loading the JSON);
- the naive baseline (`examples/naive_audit.rs`: every pod address × every destination block,
  no classes), sampled at the larger sizes and extrapolated;
- analysis alone at 100,000 nodes (the 100-node snapshot cloned 1,000 times in memory);
- `podreach audit --live` against `fake_aws.py` (the real SDK, real page sizes): API calls,
  podreach's count and the endpoint's per account, with `--member-role podreach-member` (the
  peered `payments` VPC read in the account that owns it, generate.PEER_ACCOUNT, through STS
  AssumeRole) and, as the baseline, without it (that far side a gap, its hops unknown);
- each Lambda bootstrap through a Runtime API (`run_function.py`, `MEMBER_ROLE_NAME=podreach-member`):
  peak memory, cold start, invocation time, binary size, API calls (and per account);
- the clusters' Kubernetes API at the largest size (`kube_bench.py`: `tests/kube/fake_kube` in
  front of `fake_aws.py`, 30 pods per node): `podreach audit --live` and both bootstraps reading
  it (Kubernetes calls, bytes on the wire, wall time, peak memory; the node-only audit's calls),
  and the pod index's footprint per pod (`examples/pod_index.rs`);
- an Organization of 1,000 accounts × 4 Regions: the hub's planning step measured against a fake
  endpoint (`org_bench.py`: the release scheduled-audit bootstrap in organization mode), and the
  run's workers, wall time and cost in dollars from the measured single-account scheduled audit
  (100 and 5,000 nodes) and the dated prices of Lambda, SQS, DynamoDB and SNS.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ left in the repository
sys.path.insert(0, HERE)
import generate  # noqa: E402  (the scenario; same directory)
import kube_bench  # noqa: E402
RELEASE = os.path.join(ROOT, "target", "release")
DATA = os.path.join(ROOT, "target", "bench")
PYTHON_LOAD = (
    "import glob, json, sys\n"
    "for f in sorted(glob.glob(sys.argv[1] + '/**/*.json', recursive=True)):\n"
    "    json.load(open(f))\n"
)


def run(cmd, stdout=subprocess.DEVNULL, env=None):
    """Runs `cmd` once: (wall seconds, peak RSS in KiB, exit status)."""
    started = time.monotonic()
    process = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss, process.returncode


def median_run(cmd, runs):
    results = [run(cmd) for _ in range(runs)]
    for _, _, code in results:
        if code not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} exited with {code}")
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def snapshot(nodes: int) -> str:
    directory = os.path.join(DATA, "snapshots", str(nodes))
    marker = os.path.join(directory, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(directory, ignore_errors=True)
        subprocess.run(
            [sys.executable, os.path.join(HERE, "generate.py"), "--nodes", str(nodes), "--seed", "1", "--out", directory],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        open(marker, "w").close()
    return directory


def size_of(directory: str) -> int:
    total = 0
    for base, _, names in os.walk(directory):
        total += sum(os.path.getsize(os.path.join(base, n)) for n in names if n.endswith(".json"))
    return total


def phases(directory: str, *extra: str) -> dict:
    out = subprocess.run(
        [os.path.join(RELEASE, "examples", "phases"), directory, *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


# The live collection's transit gateway route table phase (crates/aws/src/collect/tgw_routes.rs):
# prefixes searched per table before they are widened to these ranges (else their /8).
TGW_MAX_PREFIXES = 16
TGW_RANGES = tuple(ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


def tgw_search_prefixes(prefixes) -> list:
    """tgw_routes.rs's `reduce`: the prefixes aggregated (`Ipv4Net::aggregate`: the fewest CIDRs
    covering exactly the same addresses, as `ipaddress.collapse_addresses`); past
    TGW_MAX_PREFIXES, each widened to the first private range that contains it (else its /8, or
    itself if shorter) and aggregated again."""
    kept = list(ipaddress.collapse_addresses(prefixes))
    if len(kept) <= TGW_MAX_PREFIXES:
        return kept
    return list(ipaddress.collapse_addresses(
        next((r for r in TGW_RANGES if p.subnet_of(r)), None) or p.supernet(new_prefix=min(8, p.prefixlen))
        for p in kept
    ))


def tgw_lpm(routes: list, prefix):
    """The route `route-search.longest-prefix-match` answers for `prefix` (as fake_aws.py does):
    the most specific containing it, static before propagated."""
    holding = [r for r in routes if "DestinationCidrBlock" in r
               and prefix.subnet_of(ipaddress.IPv4Network(r["DestinationCidrBlock"]))]
    return max(holding, key=lambda r: (ipaddress.IPv4Network(r["DestinationCidrBlock"]).prefixlen,
                                       r.get("Type") == "static"), default=None)


def tgw_route_table_calls(files: dict) -> dict:
    """The calls the transit gateway route table phase makes on this scenario, as the collector
    decides them: nothing unless a cluster route uses a gateway; then DescribeTransitGatewayRouteTables
    (its pages of 1,000) and, per table of those gateways, one GetTransitGatewayRouteTableAssociations
    and one ...Propagations (pages of 1,000); and SearchTransitGatewayRoutes twice per searched
    prefix (longest-prefix-match: one page; subnet-of-match: a page per 1,000 routes inside it, the
    default page, as the collector sends no MaxResults), in two steps:
    - A: each ingress table (associated with a cluster VPC's attachment) for the reduction of the
      destinations the cluster routes to its gateway (CIDRs and prefix-list entries);
    - B: each far table (associated with a far attachment: a `vpc` one, not the cluster's, that a
      route A found names, or that of a far VPC (`ec2/peer-vpcs.json`, or another account's
      `ec2/accounts/<account>/vpcs.json`) whose CIDRs overlap those
      destinations) for the reduction of the cluster VPCs' CIDRs, together with the destinations
      if it is an ingress table too, less the prefixes A searched in it.
    Other tables (a VPN's, another spoke's) are not searched."""
    pages = lambda n: max(1, math.ceil(n / 1000))  # noqa: E731
    net = lambda c: ipaddress.IPv4Network(c, strict=False)  # noqa: E731

    def cidrs_of(vpc):
        return {net(c) for c in [vpc["CidrBlock"]] + [
            a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", [])
            if a.get("CidrBlockState", {}).get("State", "associated") == "associated"]}

    cluster_vpcs = {v["VpcId"]: v for v in files["ec2/vpcs.json"]["Vpcs"]}
    destinations = {}  # gateway -> the destinations cluster routes send to it
    for table in files["ec2/route-tables.json"]["RouteTables"]:
        if table["VpcId"] in cluster_vpcs:
            for r in table["Routes"]:
                if "TransitGatewayId" not in r:
                    continue
                wanted = destinations.setdefault(r["TransitGatewayId"], set())
                if "DestinationCidrBlock" in r:
                    wanted.add(net(r["DestinationCidrBlock"]))
                if "DestinationPrefixListId" in r:
                    entries = files.get(f"ec2/prefix-lists/{r['DestinationPrefixListId']}.json", {}).get("Entries", [])
                    wanted |= {net(e["Cidr"]) for e in entries}
    if not destinations:
        return {"calls": 0, "tables": 0, "ingress": 0, "far": 0, "prefixes": 0, "step_a": 0, "step_b": 0}
    attachments = [a for a in files["ec2/transit-gateway-vpc-attachments.json"]["TransitGatewayVpcAttachments"]
                   if a["TransitGatewayId"] in destinations]
    cluster_attachments = {a["TransitGatewayAttachmentId"] for a in attachments if a["VpcId"] in cluster_vpcs}
    cluster_cidrs = set().union(*(cidrs_of(v) for v in cluster_vpcs.values()))
    far_vpcs = [v for path in ["ec2/peer-vpcs.json", *(p for p in files if p.startswith(generate.ACCOUNTS_DIR + "/")
                                                         and p.endswith("/vpcs.json"))]
                for v in files.get(path, {}).get("Vpcs", []) if v["VpcId"] not in cluster_vpcs]
    tables = [t for t in files["ec2/transit-gateway-route-tables.json"]["TransitGatewayRouteTables"]
              if t["TransitGatewayId"] in destinations]
    calls = pages(len(tables))
    gateway, associated, routes = {}, {}, {}
    for t in tables:
        table_id = t["TransitGatewayRouteTableId"]
        base = f"ec2/transit-gateway-route-tables/{table_id}"
        links = files[f"{base}.associations.json"]["Associations"]
        propagations = files[f"{base}.propagations.json"]["TransitGatewayRouteTablePropagations"]
        calls += pages(len(links)) + pages(len(propagations))
        gateway[table_id] = t["TransitGatewayId"]
        associated[table_id] = {a["TransitGatewayAttachmentId"] for a in links}
        routes[table_id] = files[f"{base}.routes.json"]["Routes"]
    searched = {}  # table -> the prefixes searched in it

    def search(table_id, prefixes) -> list:
        """Searches each prefix not searched in the table yet; the routes the answers hold."""
        found = []
        for prefix in tgw_search_prefixes(prefixes):
            if prefix in searched.setdefault(table_id, set()):
                continue
            searched[table_id].add(prefix)
            inside = [r for r in routes[table_id] if "DestinationCidrBlock" in r and net(r["DestinationCidrBlock"]).subnet_of(prefix)]
            covering = tgw_lpm(routes[table_id], prefix)
            nonlocal calls
            calls += 1 + pages(len(inside))
            found += inside + ([covering] if covering else [])
        return found

    # A: the ingress tables, for the destinations; the far attachments their answers name.
    ingress = {t for t in associated if associated[t] & cluster_attachments}
    far_attachments = {g: set() for g in destinations}
    for table_id in sorted(ingress):
        for r in search(table_id, destinations[gateway[table_id]]):
            far_attachments[gateway[table_id]] |= {
                a["TransitGatewayAttachmentId"] for a in r.get("TransitGatewayAttachments", [])
                if a.get("ResourceType") == "vpc" and a["TransitGatewayAttachmentId"] not in cluster_attachments}
    step_a = sum(len(s) for s in searched.values())
    # ... and those of the far VPCs whose CIDRs overlap the destinations sent to the gateway.
    for a in attachments:
        vpc = next((v for v in far_vpcs if v["VpcId"] == a["VpcId"]), None)
        if vpc is not None and any(c.overlaps(d) for c in cidrs_of(vpc) for d in destinations[a["TransitGatewayId"]]):
            far_attachments[a["TransitGatewayId"]].add(a["TransitGatewayAttachmentId"])
    # B: the far tables, for the cluster VPCs' CIDRs (and the destinations, if ingress too).
    far = {t for t in associated if associated[t] & far_attachments[gateway[t]]}
    for table_id in sorted(far):
        search(table_id, cluster_cidrs | (destinations[gateway[table_id]] if table_id in ingress else set()))
    prefixes = sum(len(s) for s in searched.values())
    return {"calls": calls, "tables": len(tables), "ingress": len(ingress), "far": len(far),
            "prefixes": prefixes, "step_a": step_a, "step_b": prefixes - step_a}


# The role the live and function runs read the peered VPC's account through (`--member-role`,
# MEMBER_ROLE_NAME); fake_aws.py grants it (its default --allow-role).
MEMBER_ROLE = "podreach-member"
# The far batch in an account that owns far VPCs (crates/aws/src/collect/far.rs, `read_batch`
# with no near VPCs): each call filtered by vpc-id = those VPCs, its page size, and the file of
# that account's objects it reads (generate.account_file).
FAR_BATCH = (
    ("DescribeVpcs", 1000, "vpcs", "Vpcs"),
    ("DescribeSubnets", 1000, "subnets", "Subnets"),
    ("DescribeRouteTables", 100, "route-tables", "RouteTables"),
    ("DescribeSecurityGroups", 1000, "security-groups", "SecurityGroups"),
    ("DescribeNetworkAcls", 1000, "network-acls", "NetworkAcls"),
    ("DescribeNetworkInterfaces", 1000, "network-interfaces", "NetworkInterfaces"),
)


def far_accounts(files: dict, member_role: bool) -> dict:
    """The far side read in the accounts that own it, as the collector decides it (far.rs): the
    collector's account is the OwnerId of the cluster VPCs' route tables; each far VPC (the other
    side of a cluster VPC's peering, with that side's OwnerId; a VPC attached to the transit
    gateway, with its VpcOwnerId) of another account is read there, one batch per account: with
    the role, 1 AssumeRole (the collector's own account calls STS) and the six calls of FAR_BATCH
    filtered by that account's far VPCs, each a page per 1,000 (route tables 100) of the objects
    in them, at least one; without it, nothing (a gap). The far VPCs of the collector's account
    stay in its own batch. -> {account: {"vpcs": [...], "calls": {action: pages}, "total": n}}"""
    cluster_vpcs = {v["VpcId"] for v in files["ec2/vpcs.json"]["Vpcs"]}
    ours = next(t["OwnerId"] for t in files["ec2/route-tables.json"]["RouteTables"] if t["VpcId"] in cluster_vpcs)
    homes = {}
    for p in files["ec2/vpc-peering-connections.json"]["VpcPeeringConnections"]:
        sides = (p["RequesterVpcInfo"], p["AccepterVpcInfo"])
        for near, other in (sides, sides[::-1]):
            if near["VpcId"] in cluster_vpcs and other["VpcId"] not in cluster_vpcs:
                homes[other["VpcId"]] = other.get("OwnerId") or ours
    for a in files.get("ec2/transit-gateway-vpc-attachments.json", {}).get("TransitGatewayVpcAttachments", []):
        if a["VpcId"] not in cluster_vpcs:
            homes[a["VpcId"]] = a.get("VpcOwnerId") or ours
    out = {}
    for vpc, account in sorted(homes.items()):
        if account != ours:
            out.setdefault(account, {"vpcs": [], "calls": {}, "objects": {}, "total": 0})["vpcs"].append(vpc)
    for account, far in out.items():
        if not member_role:
            continue
        far["calls"]["AssumeRole"] = 1
        for action, page, name, key in FAR_BATCH:
            items = files.get(generate.account_file(account, name), {}).get(key, [])
            far["objects"][action] = sum(1 for o in items if o["VpcId"] in far["vpcs"])
            far["calls"][action] = max(1, math.ceil(far["objects"][action] / page))
        far["total"] = sum(far["calls"].values())
    return out


def live_calls(nodes: int, kube: bool = False, member_role: str | None = MEMBER_ROLE) -> dict:
    """`podreach audit --live` against the fake endpoint: API calls (podreach's count and the
    endpoint's, per account), wall time, peak memory; with `member_role`, podreach reads the
    peered VPC's account through that role (`--member-role`), else that far side is a gap; with
    `kube`, the cluster's Kubernetes API too (and what it cost)."""
    api = None
    with tempfile.TemporaryDirectory(prefix="podreach-live-") as directory:
        ready = os.path.join(directory, "port")
        accounts_file = os.path.join(directory, "accounts.json")
        fake = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_aws.py"), "--nodes", str(nodes), "--port", "0", "--ready-file", ready,
             "--account-stats-file", accounts_file],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not (os.path.exists(ready) and open(ready).read().strip()):
                if fake.poll() is not None:
                    raise SystemExit("fake_aws.py exited")
                time.sleep(0.05)
            port = open(ready).read().strip()
            if kube:
                api = kube_bench.start(int(port), nodes)
            env = dict(
                os.environ,
                AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                AWS_REGION="eu-west-1",
                AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
                AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                AWS_EC2_METADATA_DISABLED="true",
                AWS_CONFIG_FILE=os.path.join(directory, "none"),
                AWS_SHARED_CREDENTIALS_FILE=os.path.join(directory, "none"),
                HOME=directory,
            )
            if api is not None:
                env["AWS_ENDPOINT_URL_EKS"] = api.eks
            args = ["--kube", "auto"] if api is not None else ["--kube", "off"]
            if member_role:
                args += ["--member-role", member_role]
            report_path = os.path.join(directory, "report.json")
            with open(report_path, "wb") as out:
                wall, rss, code = run(
                    [os.path.join(RELEASE, "podreach"), "audit", "--live", "--format", "json", *args],
                    stdout=out,
                    env=env,
                )
            if code not in (0, 1):
                raise SystemExit(f"podreach audit --live exited with {code}")
            with open(report_path, encoding="utf-8") as f:
                report = json.load(f)
            served = kube_bench.summary(api.requests()) if api is not None else None
        finally:
            if api is not None:
                api.stop()
            fake.send_signal(signal.SIGTERM)
            fake.wait(30)
        with open(accounts_file, encoding="utf-8") as f:
            by_account = json.load(f)
    enis = sum(c["enis"] for c in report["clusters"])
    operations = report["stats"]["operations"]
    aws_calls = sum(v["calls"] for k, v in operations.items() if not k.startswith("k8s:"))
    scenario = generate.Scenario(nodes).files()
    # The far ENIs the collector's own account reads (shared-services'; payments' are the peer
    # account's, in far_accounts).
    far_enis = len(scenario["ec2/peer-network-interfaces.json"]["NetworkInterfaces"])
    tgw = tgw_route_table_calls(scenario)
    elsewhere = far_accounts(scenario, member_role is not None)
    # What podreach's own count leaves out of what the endpoint served (its STS client is not
    # counted, say): action -> calls.
    counted = {}
    for k, v in operations.items():
        if not k.startswith("k8s:"):
            counted[k.split(":", 1)[-1]] = counted.get(k.split(":", 1)[-1], 0) + v["calls"]
    endpoint = {}  # action -> calls the endpoint served, every account together
    for actions in by_account.values():
        for action, n in actions.items():
            endpoint[action] = endpoint.get(action, 0) + n
    uncounted = {a: n - counted.get(a, 0) for a, n in sorted(endpoint.items()) if n > counted.get(a, 0)}
    return {
        "wall": wall,
        "rss": rss,
        "calls": aws_calls,
        "operations": {k: v["calls"] for k, v in operations.items() if not k.startswith("k8s:")},
        "kube_operations": {k: v for k, v in operations.items() if k.startswith("k8s:")},
        "kube_served": served,
        "pods": sum(c.get("pods") or 0 for c in report["clusters"]),
        "blind_spots": [b for c in report["clusters"] for b in c.get("blind_spots", [])],
        "enis": enis,
        "far_enis": far_enis,
        # One paginated query per resource type for every VPC at once: ENIs, instances and the
        # far VPCs' ENIs by pages, and 13 other queries (VPCs, subnets, route tables twice,
        # peerings, transit gateway attachments, transit gateways since issue 21, security groups,
        # network ACLs, EKS's three, ...): 12 before DescribeTransitGateways. Then the transit
        # gateway route tables (issue 21): 1 DescribeTransitGatewayRouteTables, 2 per table
        # (associations, propagations) and 2 SearchTransitGatewayRoutes per searched prefix of
        # the ingress tables, then of the far tables, counted on the scenario
        # (tgw_route_table_calls).
        # Then the far side in the other accounts (far_accounts): 1 AssumeRole and 6 far-batch
        # calls in each, with the role.
        "main_bound": math.ceil(enis / 1000) + math.ceil(nodes / 1000) + math.ceil(far_enis / 1000) + 13 + tgw["calls"],
        "bound": math.ceil(enis / 1000) + math.ceil(nodes / 1000) + math.ceil(far_enis / 1000) + 13 + tgw["calls"]
        + sum(far["total"] for far in elsewhere.values()),
        "tgw": tgw,
        "elsewhere": elsewhere,
        "member_role": member_role,
        "by_account": by_account,
        "served": sum(endpoint.values()),
        "uncounted": uncounted,
        "gaps": [g for g in report.get("gaps", []) if "far VPC" in g.get("message", "")],
        "verdicts": {k: sum(c["verdicts"].get(k, 0) for c in report["clusters"])
                     for k in ("reachable", "unreachable", "unknown")},
        "findings": len(report["findings"]),
    }


def function(binary: str, nodes: int, event: str, repeat: int = 1, kube: bool = False) -> dict:
    """One run_function.py run, with MEMBER_ROLE_NAME=MEMBER_ROLE (the peered VPC's account read
    through it, as the live runs do)."""
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "run_function.py"), "--binary", os.path.join(RELEASE, binary), "--nodes", str(nodes), "--event", event, "--repeat", str(repeat),
         "--member-role", MEMBER_ROLE]
        + (["--kube"] if kube else []),
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    if out.returncode != 0:
        raise SystemExit(f"{binary}: {json.dumps(result)[:2000]}")
    return result


BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# An Organization run (README "An AWS Organization"): the Organization simulated, and the prices
# of one run's services, us-east-1, on-demand, before free tiers, as the AWS pricing pages of
# Lambda, SQS, DynamoDB and SNS state them (read on PRICES_DATE).
ORG_ACCOUNTS = 1000
ORG_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"]
PRICES_DATE = "2026-12-07"
LAMBDA_GB_SECOND_ARM64 = 0.0000133334  # the template's Architectures: [arm64]
LAMBDA_REQUEST = 0.20 / 1e6
SQS_FIFO_REQUEST = 0.50 / 1e6  # per request of at most 64 KB
DYNAMODB_WRITE_UNIT = 0.625 / 1e6  # on-demand, per write request unit (1 KB; transactional: 2)
DYNAMODB_READ_UNIT = 0.125 / 1e6  # on-demand, per read request unit (4 KB, strongly consistent)
SNS_PUBLISH = 0.50 / 1e6  # per request of at most 64 KB
MEMORY_GB = 1.0  # every function's MemorySize, 1,024 MB
# What one target's worker adds to the scheduled audit's own steps (crates/aws/src/function/
# worker.rs, runs.rs; org/session.rs): sts:AssumeRole and ec2:DescribeVpcs (the probe); the
# target's state read (GetItem) and written (PutItem), the index of blind targets (UpdateItem),
# the result recorded and counted (TransactWriteItems of two updates: 4 write units), the digest
# claimed (a conditional UpdateItem: 1 write unit, also when refused).
WORKER_EXTRA_CALLS = 2
WORKER_READ_UNITS = 1
WORKER_WRITE_UNITS = 1 + 1 + 4 + 1
# The scheduled audit's own state per target, in a steady state (no finding changed): the
# findings' records read (Query) and the cached context written (PutItem, up to a few KB).
AUDIT_READ_UNITS = 1
AUDIT_WRITE_UNITS = 4


def organization(plan: dict, shapes: list[tuple[str, dict]]) -> list[str]:
    """The Organization section: the plan as measured, then each target shape's workers from its
    measured single-account scheduled audit, the run's wall time and its cost."""
    targets = plan["messages"]
    calls = plan["calls"]
    sends = calls.get("SendMessageBatch", 0)
    plan_s = plan["invocation_ms"] / 1000
    lines = [
        f"## An AWS Organization ({plan['accounts']:,} accounts × {len(plan['regions'])} Regions)",
        "",
        "The hub's scheduled audit in organization mode, measured: `tests/scale/org_bench.py` runs the",
        "release `scheduled-audit` bootstrap (ORGANIZATION=true) through the Runtime API against a fake",
        f"endpoint holding an Organization of {plan['accounts']:,} ACTIVE accounts (Organizations' `ListAccounts`,",
        "20 per page), the FIFO audit queue and the state table, and counts every request.",
        "",
        f"- Plan: {plan_s:.2f} s, peak memory {mib(plan['peak_rss_kb'])} (MemorySize 1,024 MB);"
        f" {targets:,} messages, one per account × Region, {plan['distinct_deduplication_ids']:,} distinct deduplication ids,",
        f"  at most {plan['most_groups_per_account']} message group(s) per account (AccountConcurrency 1); the largest message {plan['largest_message_bytes']} bytes.",
        "- Requests: " + ", ".join(f"{k} {v:,}" for k, v in sorted(calls.items())) + ".",
        f"  The bound: ceil(accounts/20) ListAccounts + ceil(targets/10) SendMessageBatch + ceil(targets/25) BatchWriteItem"
        f" + 4 = {math.ceil(plan['accounts'] / 20) + math.ceil(targets / 10) + math.ceil(targets / 25) + 4:,}.",
        f"- Invocations per run: 1 plan + {targets:,} audit workers (BatchSize 1, one target each).",
        "",
        "Each worker runs the scheduled audit's steps on its target, so its cost per target is the",
        "measured single-account scheduled audit above (same release bootstrap, same fake endpoint), for",
        "two shapes of target, plus what the worker adds: "
        f"{WORKER_EXTRA_CALLS} calls (sts:AssumeRole, the ec2:DescribeVpcs probe) and its run records"
        f" ({WORKER_READ_UNITS} read, {WORKER_WRITE_UNITS} write units: the target's state, the blind index, the result in a transaction, the digest's claim).",
        "Wall time: at most AuditConcurrency targets at once, and an account's Regions one after the",
        "other (AccountConcurrency 1), so a run takes max(targets × t / AuditConcurrency, Regions × t).",
        "",
        "| every target like | API calls per account × Region | worker time t | wall time, AuditConcurrency 10 | 100 | 1,000 | Lambda | SQS | DynamoDB | SNS | one full run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, measured in shapes:
        invocation = measured["invocations"][0]
        t = invocation["ms"] / 1000
        per_target_calls = (invocation["api_calls"] or 0) + WORKER_EXTRA_CALLS
        wall = [max(targets * t / c, len(plan["regions"]) * t) for c in (10, 100, 1000)]
        lam = (targets + 1) * LAMBDA_REQUEST + (plan_s + targets * t) * MEMORY_GB * LAMBDA_GB_SECOND_ARM64
        # Sends, and per message the poller's receive and delete (its empty receives between
        # runs are the same with or without a run).
        sqs = (sends + 2 * targets) * SQS_FIFO_REQUEST
        writes = calls.get("BatchWriteItem", 0) * 25 + calls.get("PutItem", 0) + calls.get("UpdateItem", 0)
        writes = min(writes, targets + 2) + targets * (WORKER_WRITE_UNITS + AUDIT_WRITE_UNITS)
        reads = targets * (WORKER_READ_UNITS + AUDIT_READ_UNITS)
        ddb = writes * DYNAMODB_WRITE_UNIT + reads * DYNAMODB_READ_UNIT
        sns = 1 * SNS_PUBLISH  # the digest; findings and ACCOUNT_UNREACHABLE only when they change
        total = lam + sqs + ddb + sns

        def duration(seconds: float) -> str:
            return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"

        lines.append(
            f"| {label} | {per_target_calls} | {t:.2f} s | {duration(wall[0])} | {duration(wall[1])} | {duration(wall[2])} |"
            f" ${lam:.4f} | ${sqs:.4f} | ${ddb:.4f} | ${sns:.7f} | **${total:.4f}** |"
        )
    lines += [
        "",
        f"Prices: us-east-1, on-demand, before free tiers, as published on the AWS pricing pages on {PRICES_DATE}:",
        f"Lambda arm64 ${LAMBDA_GB_SECOND_ARM64:.10f} per GB-second and $0.20 per million requests (MemorySize 1 GB);",
        "SQS FIFO $0.50 per million requests (each ≤ 64 KB); DynamoDB on-demand $0.625 per million write and",
        "$0.125 per million read request units; SNS $0.50 per million publishes. DynamoDB counts the plan's",
        "writes as measured and the workers' by the code (above), in a steady state where no finding changes",
        "(each finding that changes adds a state write and a publish). Not counted: Lambda's queue pollers'",
        "empty receives (long polls, the same whether a run happens or not), CloudWatch Logs, and the member",
        "accounts' own EC2/EKS requests, which are free.",
        "",
    ]
    return lines


def cold_start(binary: str, runs: int = 5) -> tuple[float, float, float]:
    """Median process start → first /next of `binary` on a 100-node cluster: as deployed (the
    embedded Amazon Trust Services roots) and with the platform's roots from one CA bundle
    (PODREACH_TLS_ROOTS=platform, SSL_CERT_FILE as Lambda's AL2023 has it); and the median cost
    of merely starting a process from this harness (`/bin/true`)."""

    def start(extra):
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "run_function.py"), "--binary", os.path.join(RELEASE, binary), "--nodes", "100", *extra],
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout)["cold_start_ms"]

    deployed = [start([]) for _ in range(runs)]
    bundle = (
        [start(["--platform-roots", "--cert-file", BUNDLE]) for _ in range(runs)]
        if os.path.exists(BUNDLE)
        else [float("nan")]
    )
    spawn = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(["/bin/true"], check=True)
        spawn.append((time.monotonic() - started) * 1000)
    return statistics.median(deployed), statistics.median(bundle), statistics.median(spawn)


def machine() -> str:
    model = "unknown processor"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB, {platform.system()} {platform.release()}; {rustc}; Python {platform.python_version()}"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    podreach = os.path.join(RELEASE, "podreach")
    naive = os.path.join(RELEASE, "examples", "naive_audit")

    rows = []
    for nodes in sizes:
        directory = snapshot(nodes)
        print(f"{nodes} nodes: measuring", file=sys.stderr)
        audit_wall, audit_rss = median_run([podreach, "audit", "--snapshot", directory], args.runs)
        with tempfile.TemporaryFile() as out:
            run([podreach, "audit", "--snapshot", directory, "--format", "json"], stdout=out)
            report_bytes = out.tell()
        python_wall, python_rss = median_run([sys.executable, "-c", PYTHON_LOAD, directory], args.runs)
        inside = phases(directory)
        sample = 1 if nodes <= 100 else (10 if nodes <= 1000 else 100)
        naive_wall, _ = median_run([naive, directory, "--sample", str(sample)], 1)
        load = (inside["parse_ms"] + inside["validate_ms"]) / 1000
        naive_full = load + max(naive_wall - load, 0) * sample
        rows.append(
            {
                "nodes": nodes,
                "enis": inside["enis"],
                "addresses": inside["pod_addresses"],
                "findings": inside["findings"],
                "json_bytes": size_of(directory),
                "audit_wall": audit_wall,
                "audit_rss": audit_rss,
                "report_bytes": report_bytes,
                "python_wall": python_wall,
                "python_rss": python_rss,
                "parse_ms": inside["parse_ms"],
                "validate_ms": inside["validate_ms"],
                "analysis_ms": inside["analysis_ms"],
                "naive_sample": sample,
                "naive_wall": naive_wall,
                "naive_full": naive_full,
            }
        )
    print("100,000 nodes: analysis alone", file=sys.stderr)
    huge = phases(snapshot(100), "--scale", "1000", "--runs", "3")
    largest = max(sizes)
    print(f"{largest} nodes: live collection and functions", file=sys.stderr)
    live = live_calls(largest)
    print(f"{largest} nodes: live collection without --member-role (the baseline)", file=sys.stderr)
    alone = live_calls(largest, member_role=None)
    on_change = function("on-change", largest, "eni", repeat=2)
    functions = [
        ("scheduled-audit", "scheduled", function("scheduled-audit", largest, "scheduled"), 0),
        ("on-change", "ENI event, first: the whole cluster (caches its context)", on_change, 0),
        ("on-change", "the same ENI event again: only its node, against the cached context", on_change, 1),
    ]
    starts = {name: cold_start(name) for name in ("scheduled-audit", "on-change")}
    print(f"{largest} nodes: the Kubernetes API (30 pods per node)", file=sys.stderr)
    kube_live = live_calls(largest, kube=True)
    kube_on_change = function("on-change", largest, "eni", repeat=2, kube=True)
    kube_functions = [
        ("scheduled-audit", "scheduled", function("scheduled-audit", largest, "scheduled", kube=True), 0),
        ("on-change", "ENI event, first: the whole cluster", kube_on_change, 0),
        ("on-change", "the same ENI event again: its node against the cached context", kube_on_change, 1),
    ]
    print(f"an Organization of {ORG_ACCOUNTS:,} accounts × {len(ORG_REGIONS)} Regions: the plan", file=sys.stderr)
    org_plan = json.loads(
        subprocess.run(
            [sys.executable, os.path.join(HERE, "org_bench.py"), "--binary", os.path.join(RELEASE, "scheduled-audit"),
             "--accounts", str(ORG_ACCOUNTS), "--regions", ",".join(ORG_REGIONS)],
            capture_output=True, text=True, check=True,
        ).stdout
    )
    org_shapes = [
        ("the 100-node cluster", function("scheduled-audit", 100, "scheduled")),
        (f"the {largest:,}-node cluster", functions[0][2]),
    ]
    pod_index = json.loads(
        subprocess.run(
            [os.path.join(RELEASE, "examples", "pod_index"), str(largest * kube_bench.PODS_PER_NODE), str(largest)],
            capture_output=True, text=True, check=True,
        ).stdout
    )

    lines = [
        "# Benchmarks",
        "",
        "Written by `./scripts/bench` (release build; `tests/scale/bench.py`). Whole processes, each",
        f"figure the median of {args.runs} runs on the machine below, measured side by side in one run;",
        "peak memory is the kernel's peak resident set of the process. Compare runs on the same",
        "machine only: these machines are shared and noisy.",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {machine()}",
        "- Input: `tests/scale/generate.py --seed 1`: AWS CLI output with every field the CLI prints",
        "  (4-space indent), 3 ENIs of 50 addresses per node, 100 private routes over a peering",
        f"  connection and a transit gateway (plus the peer VPCs, and the gateway's 5 route tables of {generate.TGW_ROUTES:,}",
        f"  routes; the peered VPC in a second account, {generate.PEER_ACCOUNT}, read through the role `{MEMBER_ROLE}`), CNI v1.11.4 with",
        "  `AWS_VPC_CNI_NODE_PORT_SUPPORT=false`.",
        "",
        "## Offline audit (`podreach audit --snapshot DIR`)",
        "",
        "| nodes | ENIs | pod addresses | JSON | podreach audit | peak memory | JSON report | findings | `json.load` in Python | its peak memory | podreach vs Python |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['nodes']:,} | {r['enis']:,} | {r['addresses']:,} | {r['json_bytes'] / 1e6:.0f} MB | {r['audit_wall']:.2f} s | {mib(r['audit_rss'])} | {r['report_bytes'] / 1e6:.2f} MB | {r['findings']} | {r['python_wall']:.2f} s | {mib(r['python_rss'])} | {r['python_wall'] / r['audit_wall']:.1f}× faster |"
        )
    lines += [
        "",
        "Inside the audit (`crates/core/examples/phases.rs`, in-process timers; analysis is model →",
        "report with findings, the median of 5 runs):",
        "",
        "| nodes | parse | validate | analysis alone |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['nodes']:,} | {r['parse_ms']:.0f} ms | {r['validate_ms']:.0f} ms | {r['analysis_ms']:.1f} ms |")
    lines.append(
        f"| {huge['nodes']:,} (the 100-node snapshot cloned in memory) | — | {huge['validate_ms']:.0f} ms | {huge['analysis_ms']:.1f} ms |"
    )
    lines += [
        "",
        "## Against the naive baseline",
        "",
        "`crates/core/examples/naive_audit.rs` traces every pod address × every destination block ×",
        "both directions one at a time, without ENI classes or destination classes (the same",
        "procedure; a property test holds the two to identical verdicts). Above 100 nodes it traces",
        "every Nth address and the full time is extrapolated: load time + N × the traced part.",
        "",
        "| nodes | sampled | naive, measured | naive, full (extrapolated) | podreach audit | podreach is faster by |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['nodes']:,} | 1 in {r['naive_sample']} | {r['naive_wall']:.1f} s | {r['naive_full']:.0f} s | {r['audit_wall']:.2f} s | {r['naive_full'] / r['audit_wall']:,.0f}× |"
        )
    ops = ", ".join(f"{k} {v}" for k, v in sorted(live["operations"].items()))
    # The far side in the peered VPC's account (generate.PEER_ACCOUNT), read through the role.
    far_bound = "".join(
        f" + the far side in {account}: 1 AssumeRole + the far batch there, "
        + ", ".join(f"{a} {n}" for a, n in far["calls"].items() if a != "AssumeRole")
        + " (pages of 1,000, route tables 100)"
        for account, far in live["elsewhere"].items())
    far_enis_elsewhere = (f" in {generate.ACCOUNT}" if live["elsewhere"] else "") + "".join(
        f", {far['objects'].get('DescribeNetworkInterfaces', 0)} in {account}" for account, far in live["elsewhere"].items())

    def accounts(by_account: dict) -> str:
        """`account calls (...)` each: another account's calls by action, the main account's
        AssumeRole."""
        parts = []
        for account, actions in by_account.items():
            if account == generate.ACCOUNT:
                shown = {k: v for k, v in actions.items() if k == "AssumeRole"}
                detail = f" (of them {', '.join(f'{k} {v}' for k, v in shown.items())})" if shown else ""
            else:
                detail = f" ({', '.join(f'{k} {v}' for k, v in actions.items())})"
            parts.append(f"{account} {sum(actions.values())}{detail}")
        return "; ".join(parts)

    per_account = [
        f"- API calls per account (the endpoint's count, by the access key that signed each request; the AssumeRole"
        f" of `--member-role {live['member_role']}` is the calling account's): {accounts(live['by_account'])}; {live['served']} in all"
        + (f", of which podreach's own count leaves out {', '.join(f'{k} {v}' for k, v in live['uncounted'].items())}"
           if live["uncounted"] else "") + ".",
    ]
    verdicts = lambda run: ", ".join(f"{k} {v:,}" for k, v in run["verdicts"].items())  # noqa: E731
    baseline = [
        f"- Baseline, the same collection without `--member-role`: the far VPC of "
        f"{', '.join(alone['elsewhere']) or 'no other account'} is not read (a gap: {len(alone['gaps'])} in the report), its hops"
        f" unknown. API calls {alone['calls']}; per account {accounts(alone['by_account'])}; the bound is {alone['bound']}."
        f" Verdicts {verdicts(alone)} (with the role: {verdicts(live)}); wall time {alone['wall']:.1f} s, peak memory"
        f" {mib(alone['rss'])}, {alone['findings']} findings. Reading the second account cost"
        f" {live['served'] - alone['served']} calls ({live['bound'] - alone['bound']} by the bounds).",
    ]
    lines += [
        "",
        f"## Live collection ({largest:,} nodes, `podreach audit --live`)",
        "",
        "Against `tests/scale/fake_aws.py`, which serves the same cluster through the real EC2 and EKS",
        "wire protocols with EC2's page sizes (1,000 items; 100 route tables), so the SDK's paginators",
        "run as they do against AWS.",
        "",
        f"- API calls: {live['calls']} ({ops}); the bound ceil(ENIs/1000) + ceil(instances/1000) + ceil(far ENIs/1000) + 13"
        f" + the transit gateway route tables' {live['tgw']['calls']} (1 + 2 per table + 2 per searched prefix: {live['tgw']['tables']} tables;"
        f" {live['tgw']['step_a']} prefixes in {live['tgw']['ingress']} ingress table(s), then {live['tgw']['step_b']} more in"
        f" {live['tgw']['far']} far table(s)){far_bound} is {live['bound']} ({live['far_enis']} far ENIs{far_enis_elsewhere}).",
        *per_account,
        f"- Wall time {live['wall']:.1f} s (most of it the fake endpoint rendering XML), peak memory {mib(live['rss'])}, {live['findings']} findings.",
        *baseline,
        "",
        f"## Lambda functions ({largest:,} nodes, release bootstrap through a Runtime API)",
        "",
        "`tests/scale/run_function.py`: the real bootstrap, the Lambda environment, one event, the",
        "fake endpoint above (findings are published to its SNS).",
        "",
        "| function | event | peak memory | invocation | bootstrap size | API calls | cold start (as deployed: Amazon roots) | cold start, platform roots (one CA bundle) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, event, f, index in functions:
        invocation = f["invocations"][index]
        deployed, bundle, _ = starts[name]
        start = f"{deployed:.1f} ms | {bundle:.1f} ms" if index == 0 else "(warm) | (warm)"
        lines.append(
            f"| {name} | {event} | {mib(f['peak_rss_kb'])} | {invocation['ms'] / 1000:.2f} s | {f['binary_bytes'] / 2**20:.1f} MiB | {invocation['api_calls']} | {start} |"
        )
    spawn = statistics.median(s for _, _, s in starts.values())
    lines += [
        "",
        "Cold start is process start to the first request for an event (the median of 5 runs on a",
        "100-node cluster, so the machine is not busy with the fake endpoint). It includes starting a",
        f"process from the Python harness, which alone takes {spawn:.1f} ms (`/bin/true`);",
        "the SDK's HTTPS client parsing its root certificates was most of the rest (seen with `strace`),",
        "so the functions trust only the five Amazon Trust Services roots, embedded",
        "(`crates/aws/src/tls.rs`); the last column is the SDK's default, the platform's roots from one",
        "CA bundle (`PODREACH_TLS_ROOTS=platform`, `SSL_CERT_FILE` as on Lambda's AL2023). The invocation time is mostly the fake endpoint",
        "rendering EC2 XML (about 2 s per page of 1,000 instances), not podreach. The on-change event",
        "is an `AttachNetworkInterface` of a secondary ENI, served twice to one process (a warm",
        "function; peak memory is over both): the first re-audits the whole cluster and caches its",
        "context (the cluster, add-on, VPC, subnets, route tables and far side); the second collects",
        "only the node (its ENIs and instance, together: 2 calls; an event that names only an ENI",
        "adds the ENI's own lookup, 3) and audits it against that context. API calls are the",
        "function's own count of EC2 and EKS requests for that invocation (SNS and DynamoDB aside).",
        f"The functions run with `MEMBER_ROLE_NAME={MEMBER_ROLE}`, so the peered VPC is read in its account;",
        "per account, the endpoint's count over the whole process (SNS included): "
        + "; ".join(f"{name}, {'both events' if index else event.split(',')[0]}: {accounts(f.get('api_calls_by_account', {}))}"
                    for name, event, f, index in functions if not (name == "on-change" and index == 0)) + ".",
        "",
    ]
    served = kube_live["kube_served"] or {"calls": 0, "bytes": 0}
    # Every pod the API lists (the host-network aws-node and kube-proxy pods too) in pages of 500.
    listed = largest * (kube_bench.PODS_PER_NODE + 2)
    kube_bound = math.ceil(listed / 500) + math.ceil(largest / 500) + 2
    kube_ops = ", ".join(
        f"{k} {v['calls']} ({v.get('bytes', 0) / 1e6:.0f} MB)" for k, v in sorted(kube_live["kube_operations"].items())
    )
    lines += [
        f"## The Kubernetes API ({largest:,} nodes × {kube_bench.PODS_PER_NODE} pods)",
        "",
        "`tests/scale/kube_bench.py`: `tests/kube/fake_kube` serves the same cluster's Kubernetes API over",
        "HTTPS with EKS's token check, answering `DescribeCluster` with its endpoint and CA in front of",
        "`fake_aws.py`: the aws-node DaemonSet, the Node objects, and 30 Running pods per node on the",
        "node's secondary addresses (each a real-shaped list item of about 6 KB: managedFields,",
        "containers, conditions) plus an aws-node and a kube-proxy pod per node on the host network.",
        "Pods are read in pages of 500 (kubectl's chunk size) with gzip, straight into the compact pod",
        "store; a node's audit reads its pods by field selector and the DaemonSet.",
        "",
        f"- `podreach audit --live`: {kube_live['pods']:,} pods holding an address; Kubernetes calls {served['calls']} ({kube_ops});",
        "  the bound ceil(pods/500) + ceil(nodes/500) + 2 per cluster (the DaemonSet and the ENIConfigs; a list restarted after a 410 adds its pages again)",
        f"  is {kube_bound},",
        f"  {served['bytes'] / 1e6:.0f} MB on the wire (gzip); AWS calls {kube_live['calls']} (as without the API);",
        f"  wall time {kube_live['wall']:.1f} s (the fake API server renders about 6 KB of JSON per pod in Python), peak memory {mib(kube_live['rss'])};",
        f"  blind spots: {len(kube_live['blind_spots'])}.",
        f"- The pod index (`crates/core/examples/pod_index.rs`, {pod_index['pods']:,} pods parsed from {pod_index['json_bytes'] / 1e6:.0f} MB of",
        f"  API pages in {pod_index['parse_ms']:.0f} ms): {pod_index['heap_bytes_per_pod']:.0f} bytes per pod on the heap,"
        f" {pod_index['rss_bytes_per_pod']:.0f} bytes per pod of resident memory (VmRSS after the pages are freed).",
        "",
        "| function | event | peak memory (MemorySize 1,024 MB) | invocation | Kubernetes calls | on the wire | AWS calls |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, event, f, i in kube_functions:
        invocation = f["invocations"][i]
        k = invocation.get("kube") or {"calls": 0, "bytes": 0}
        total = invocation["api_calls"] or 0
        lines.append(
            f"| {name} | {event} | {mib(f['peak_rss_kb'])} | {invocation['ms'] / 1000:.2f} s | {k['calls']} | {k['bytes'] / 1e6:.1f} MB | {total - k['calls']} |"
        )
    lines += [
        "",
        "A node's audit costs at most 2 Kubernetes calls (the DaemonSet, and the node's pods by",
        "`fieldSelector=spec.nodeName=…`) on top of its EC2 calls; the DaemonSet's `resourceVersion`",
        "tells it whether the cached context is still current.",
        "",
    ]
    lines += organization(org_plan, org_shapes)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
