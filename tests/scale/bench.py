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
- `podreach audit --live` against `fake_aws.py` (the real SDK, real page sizes): API calls;
- each Lambda bootstrap through a Runtime API (`run_function.py`): peak memory, cold start,
  invocation time, binary size, API calls;
- the clusters' Kubernetes API at the largest size (`kube_bench.py`: `tests/kube/fake_kube` in
  front of `fake_aws.py`, 30 pods per node): `podreach audit --live` and both bootstraps reading
  it (Kubernetes calls, bytes on the wire, wall time, peak memory; the node-only audit's calls),
  and the pod index's footprint per pod (`examples/pod_index.rs`).
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
      route A found names, or that of a far VPC in `ec2/peer-vpcs.json` whose CIDRs overlap those
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
    far_vpcs = [v for v in files.get("ec2/peer-vpcs.json", {}).get("Vpcs", []) if v["VpcId"] not in cluster_vpcs]
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


def live_calls(nodes: int, kube: bool = False) -> dict:
    """`podreach audit --live` against the fake endpoint: API calls, wall time, peak memory; with
    `kube`, the cluster's Kubernetes API too (and what it cost)."""
    api = None
    with tempfile.TemporaryDirectory(prefix="podreach-live-") as directory:
        ready = os.path.join(directory, "port")
        fake = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_aws.py"), "--nodes", str(nodes), "--port", "0", "--ready-file", ready],
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
    enis = sum(c["enis"] for c in report["clusters"])
    operations = report["stats"]["operations"]
    aws_calls = sum(v["calls"] for k, v in operations.items() if not k.startswith("k8s:"))
    scenario = generate.Scenario(nodes).files()
    far_enis = len(scenario["ec2/peer-network-interfaces.json"]["NetworkInterfaces"])
    tgw = tgw_route_table_calls(scenario)
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
        "bound": math.ceil(enis / 1000) + math.ceil(nodes / 1000) + math.ceil(far_enis / 1000) + 13 + tgw["calls"],
        "tgw": tgw,
        "findings": len(report["findings"]),
    }


def function(binary: str, nodes: int, event: str, repeat: int = 1, kube: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "run_function.py"), "--binary", os.path.join(RELEASE, binary), "--nodes", str(nodes), "--event", event, "--repeat", str(repeat)]
        + (["--kube"] if kube else []),
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    if out.returncode != 0:
        raise SystemExit(f"{binary}: {json.dumps(result)[:2000]}")
    return result


BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


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
        "  routes), CNI v1.11.4 with",
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
        f" {live['tgw']['far']} far table(s)) is {live['bound']} ({live['far_enis']} far ENIs).",
        f"- Wall time {live['wall']:.1f} s (most of it the fake endpoint rendering XML), peak memory {mib(live['rss'])}, {live['findings']} findings.",
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
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
