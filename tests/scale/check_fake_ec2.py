#!/usr/bin/env python3
"""Checks the fake EC2 endpoint's transit gateway answers through botocore, the AWS CLI's parser.

Why it exists: `fake_aws.py` writes EC2's XML by hand, from element names taken from the EC2
model. A name that is wrong does not fail there: the SDK just parses an empty list, and the
collection then sees no route table, no association or no route. This script starts the fake
endpoint on 127.0.0.1 with a small scenario of `generate.py` (the way bench.py and
run_function.py start it), calls it through botocore's EC2 client, and compares what botocore
parsed with the scenario's own objects:
- DescribeTransitGateways and DescribeNetworkInterfaces (a known-good action, as a control);
- DescribeTransitGatewayRouteTables: the tables, their filters and ids, unknown ids and filters,
  pages of 5;
- GetTransitGatewayRouteTableAssociations / ...Propagations: every table's, in pages of 5, each
  item exactly once; an unknown table;
- SearchTransitGatewayRoutes: every table whole (`state` active, blackhole), in pages of 5 by
  NextToken (each route exactly once, `AdditionalRoutesAvailable` true until the last page) and
  through botocore's paginator; `route-search.longest-prefix-match` for every destination the
  cluster routes to the gateway (the right route and attachment), a static route winning over a
  propagated one of the same prefix, a more specific route winning over a wider blackhole;
  `subnet-of-match`, `supernet-of-match` and `exact-match` against sets computed here;
  filters ANDed; errors;
- the scenario's TGW routes total generate.TGW_ROUTES, and no route other than the cluster's,
  shared-services' and the VPN's overlaps a destination the cluster routes to the gateway or a
  cluster VPC CIDR;
- the endpoint's per-action request counts (its --stats-file) equal the calls made here.

Prints each check; exits 0 when all pass, 1 otherwise.

Usage:
    python3 tests/scale/check_fake_ec2.py [--nodes 20] [--routes 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ left in the repository
sys.path.insert(0, HERE)
import generate  # noqa: E402  (the scenario; same directory)

import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, condition: bool, what: str, detail="") -> bool:
        if condition:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed.append(what)
            print(f"FAIL  {what}" + (f": {detail}" if detail != "" else ""))
        return condition


def start_fake(args, directory: str):
    ready = os.path.join(directory, "port")
    stats = os.path.join(directory, "stats.json")
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fake_aws.py"), "--nodes", str(args.nodes), "--routes", str(args.routes),
         "--seed", str(args.seed), "--port", "0", "--ready-file", ready, "--stats-file", stats],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(directory, "fake.err"), "wb"),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"fake_aws.py exited with {process.returncode}: "
                             f"{open(os.path.join(directory, 'fake.err')).read()}")
        if os.path.exists(ready) and open(ready).read().strip():
            return process, int(open(ready).read().strip()), stats
        time.sleep(0.05)
    process.kill()
    raise SystemExit("fake_aws.py did not start within 300 s")


def error_code(call) -> str | None:
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def net(c: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(c)


def route_key(r: dict) -> tuple:
    """A route as comparable data (the fields the CLI prints)."""
    return (
        r.get("DestinationCidrBlock"),
        tuple((a.get("ResourceId"), a["TransitGatewayAttachmentId"], a.get("ResourceType"))
              for a in r.get("TransitGatewayAttachments", [])),
        r.get("Type"),
        r.get("State"),
    )


def link_key(a: dict) -> tuple:
    return (a["TransitGatewayAttachmentId"], a.get("ResourceId"), a.get("ResourceType"), a.get("State"))


def lpm(routes: list[dict], q: ipaddress.IPv4Network) -> dict | None:
    """The most specific route containing `q`, static before propagated (computed here)."""
    best = None
    for r in routes:
        n = net(r["DestinationCidrBlock"])
        if q.subnet_of(n):
            rank = (n.prefixlen, r["Type"] == "static")
            if best is None or rank > best[0]:
                best = (rank, r)
    return best[1] if best else None


def run_checks(ec2, scenario: dict, c: Checks, args) -> None:
    tgw = scenario["ec2/transit-gateways.json"]["TransitGateways"][0]
    tables = scenario["ec2/transit-gateway-route-tables.json"]["TransitGatewayRouteTables"]
    by_name = {t["Tags"][0]["Value"].removeprefix("network-hub-"): t for t in tables}
    part = lambda table_id, name: scenario[f"ec2/transit-gateway-route-tables/{table_id}.{name}.json"]  # noqa: E731
    routes_of = {t["TransitGatewayRouteTableId"]: part(t["TransitGatewayRouteTableId"], "routes")["Routes"]
                 for t in tables}
    cluster_vpc = scenario["ec2/vpcs.json"]["Vpcs"][0]
    attachments = {a["Tags"][0]["Value"]: a["TransitGatewayAttachmentId"]
                   for a in scenario["ec2/transit-gateway-vpc-attachments.json"]["TransitGatewayVpcAttachments"]}
    cluster_att, shared_att = attachments[generate.CLUSTER + "-vpc"], attachments["shared-services"]
    private = scenario["ec2/route-tables.json"]["RouteTables"][0]["Routes"]
    destinations = [r["DestinationCidrBlock"] for r in private if "TransitGatewayId" in r]
    vpc_cidrs = [a["CidrBlock"] for a in cluster_vpc["CidrBlockAssociationSet"]]

    # --- the scenario itself ----------------------------------------------------------------
    total = sum(len(r) for r in routes_of.values())
    counts = ", ".join(f"{n} {len(routes_of[t['TransitGatewayRouteTableId']])}" for n, t in by_name.items())
    c.check(len(tables) == 5 and total == generate.TGW_ROUTES,
            f"the scenario has 5 TGW route tables and {generate.TGW_ROUTES:,} routes ({counts})",
            f"{len(tables)} tables, {total} routes")
    vpn_att = next(a for a in part(by_name["vpn"]["TransitGatewayRouteTableId"], "associations")["Associations"])
    decisive = {cluster_att, shared_att, vpn_att["TransitGatewayAttachmentId"]}
    guarded = [net(d) for d in destinations + vpc_cidrs]
    overlapping = [
        (name, r["DestinationCidrBlock"])
        for name, t in by_name.items()
        for r in routes_of[t["TransitGatewayRouteTableId"]]
        if not ({a["TransitGatewayAttachmentId"] for a in r.get("TransitGatewayAttachments", [])} & decisive)
        and any(net(r["DestinationCidrBlock"]).overlaps(g) for g in guarded)
    ]
    c.check(not overlapping,
            f"no filler route overlaps the {len(destinations)} destinations routed to the TGW or the "
            f"{len(vpc_cidrs)} cluster VPC CIDRs", overlapping[:5])
    for name, t in by_name.items():
        propagated = {a["TransitGatewayAttachmentId"] for r in routes_of[t["TransitGatewayRouteTableId"]]
                      if r["Type"] == "propagated" for a in r["TransitGatewayAttachments"]}
        enabled = {p["TransitGatewayAttachmentId"] for p in part(t["TransitGatewayRouteTableId"], "propagations")[
            "TransitGatewayRouteTablePropagations"] if p["State"] == "enabled"}
        c.check(propagated == enabled, f"{name}: the propagated routes' attachments are its enabled propagations "
                f"({len(enabled)})", (len(propagated), len(enabled)))

    # --- DescribeTransitGateways and DescribeNetworkInterfaces --------------------------------
    got = ec2.describe_transit_gateways(TransitGatewayIds=[tgw["TransitGatewayId"]]).get("TransitGateways", [])
    c.check(len(got) == 1 and got[0]["TransitGatewayId"] == tgw["TransitGatewayId"]
            and got[0]["Options"]["SecurityGroupReferencingSupport"] == "disable"
            and got[0]["Options"]["AssociationDefaultRouteTableId"] == by_name["dev"]["TransitGatewayRouteTableId"]
            and got[0]["Options"]["PropagationDefaultRouteTableId"] == by_name["dev"]["TransitGatewayRouteTableId"],
            "DescribeTransitGateways: the gateway, its referencing option and its default route table", got)
    enis = [e for page in ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "vpc-id", "Values": [cluster_vpc["VpcId"]]}], PaginationConfig={"PageSize": 25})
        for e in page.get("NetworkInterfaces", [])]
    expected = [e["NetworkInterfaceId"] for e in scenario["ec2/network-interfaces.json"]["NetworkInterfaces"]]
    c.check(sorted(e["NetworkInterfaceId"] for e in enis) == sorted(expected),
            f"DescribeNetworkInterfaces: the cluster VPC's {len(expected)} ENIs in pages of 25, each once")
    first = scenario["ec2/network-interfaces.json"]["NetworkInterfaces"][1]
    got = ec2.describe_network_interfaces(NetworkInterfaceIds=[first["NetworkInterfaceId"]]).get("NetworkInterfaces", [])
    c.check(len(got) == 1
            and [a["PrivateIpAddress"] for a in got[0]["PrivateIpAddresses"]]
            == [a["PrivateIpAddress"] for a in first["PrivateIpAddresses"]]
            and got[0]["Attachment"]["DeviceIndex"] == 1 and got[0]["TagSet"] == first["TagSet"],
            f"DescribeNetworkInterfaces: an ENI by id, its {len(first['PrivateIpAddresses'])} addresses, "
            "attachment and tags")

    # --- DescribeTransitGatewayRouteTables ------------------------------------------------------
    got = ec2.describe_transit_gateway_route_tables(
        Filters=[{"Name": "transit-gateway-id", "Values": [tgw["TransitGatewayId"]]}], MaxResults=1000)
    parsed = got.get("TransitGatewayRouteTables", [])
    c.check([t["TransitGatewayRouteTableId"] for t in parsed] == [t["TransitGatewayRouteTableId"] for t in tables]
            and all(p["TransitGatewayId"] == t["TransitGatewayId"] and p["State"] == t["State"]
                    and p["DefaultAssociationRouteTable"] == t["DefaultAssociationRouteTable"]
                    and p["DefaultPropagationRouteTable"] == t["DefaultPropagationRouteTable"]
                    and p["CreationTime"] == datetime.fromisoformat(t["CreationTime"])
                    and p["Tags"] == t["Tags"] for p, t in zip(parsed, tables))
            and "NextToken" not in got,
            "DescribeTransitGatewayRouteTables (transit-gateway-id): 5 tables, ids, state, default flags, "
            "creation time, tags")
    pages = list(ec2.get_paginator("describe_transit_gateway_route_tables").paginate(
        PaginationConfig={"PageSize": 5}))
    c.check(len(pages) == 1 and len(pages[0].get("TransitGatewayRouteTables", [])) == 5,
            "DescribeTransitGatewayRouteTables, MaxResults=5: one page of 5")
    one = by_name["shared"]["TransitGatewayRouteTableId"]
    by_id = ec2.describe_transit_gateway_route_tables(TransitGatewayRouteTableIds=[one]).get("TransitGatewayRouteTables", [])
    by_filter = ec2.describe_transit_gateway_route_tables(
        Filters=[{"Name": "transit-gateway-route-table-id", "Values": [one]}]).get("TransitGatewayRouteTables", [])
    default = ec2.describe_transit_gateway_route_tables(
        Filters=[{"Name": "default-association-route-table", "Values": ["true"]}]).get("TransitGatewayRouteTables", [])
    c.check([t["TransitGatewayRouteTableId"] for t in by_id] == [one]
            and [t["TransitGatewayRouteTableId"] for t in by_filter] == [one]
            and [t["TransitGatewayRouteTableId"] for t in default] == [by_name["dev"]["TransitGatewayRouteTableId"]],
            "DescribeTransitGatewayRouteTables by TransitGatewayRouteTableIds, by the id filter, by default-association")
    other = ec2.describe_transit_gateway_route_tables(
        Filters=[{"Name": "transit-gateway-id", "Values": ["tgw-0000000000000000a"]}]).get("TransitGatewayRouteTables", [])
    c.check(other == [], "DescribeTransitGatewayRouteTables for another gateway: none")
    code = error_code(lambda: ec2.describe_transit_gateway_route_tables(
        TransitGatewayRouteTableIds=["tgw-rtb-0000000000000000a"]))
    c.check(code == "InvalidTransitGatewayRouteTableID.NotFound", "an unknown table id is "
            "InvalidTransitGatewayRouteTableID.NotFound", code)
    code = error_code(lambda: ec2.describe_transit_gateway_route_tables(Filters=[{"Name": "vpc-id", "Values": ["x"]}]))
    c.check(code == "InvalidParameterValue", "an unknown filter is InvalidParameterValue", code)
    code = error_code(lambda: ec2.describe_transit_gateway_route_tables(MaxResults=1001))
    c.check(code == "InvalidParameterValue", "MaxResults=1001 is InvalidParameterValue", code)

    # --- associations and propagations ---------------------------------------------------------
    for action, key, name in (("get_transit_gateway_route_table_associations", "Associations", "associations"),
                              ("get_transit_gateway_route_table_propagations",
                               "TransitGatewayRouteTablePropagations", "propagations")):
        for table_name, t in by_name.items():
            table_id = t["TransitGatewayRouteTableId"]
            wanted = [link_key(a) for a in part(table_id, name)[key]]
            pages = list(ec2.get_paginator(action).paginate(
                TransitGatewayRouteTableId=table_id, PaginationConfig={"PageSize": 5}))
            got = [link_key(a) for p in pages for a in p.get(key, [])]
            c.check(got == wanted and len(pages) == max(1, -(-len(wanted) // 5)),
                    f"{action}: {table_name}, {len(wanted)} in {len(pages)} pages of 5, each once, fields equal",
                    (len(got), len(wanted), len(pages)))
        cluster_links = getattr(ec2, action)(
            TransitGatewayRouteTableId=by_name["shared" if name == "propagations" else "spokes"]["TransitGatewayRouteTableId"],
            Filters=[{"Name": "transit-gateway-attachment-id", "Values": [cluster_att]}]).get(key, [])
        c.check([(a["ResourceId"], a["ResourceType"]) for a in cluster_links] == [(cluster_vpc["VpcId"], "vpc")],
                f"{action}: the cluster attachment by the transit-gateway-attachment-id filter", cluster_links)
        code = error_code(lambda: getattr(ec2, action)(TransitGatewayRouteTableId="tgw-rtb-0000000000000000a"))
        c.check(code == "InvalidTransitGatewayRouteTableID.NotFound",
                f"{action}: an unknown table is InvalidTransitGatewayRouteTableID.NotFound", code)
    vpn_links = ec2.get_transit_gateway_route_table_associations(
        TransitGatewayRouteTableId=by_name["vpn"]["TransitGatewayRouteTableId"],
        Filters=[{"Name": "resource-type", "Values": ["vpn"]}]).get("Associations", [])
    c.check(len(vpn_links) == 1 and vpn_links[0]["ResourceId"].startswith("vpn-"),
            "the vpn table is associated with the VPN attachment (resource-type filter)", vpn_links)

    # --- SearchTransitGatewayRoutes --------------------------------------------------------------
    def search(**kwargs) -> dict:
        # botocore leaves out a list it found no element for: an element misnamed is an empty list here.
        answer = ec2.search_transit_gateway_routes(**kwargs)
        answer.setdefault("Routes", [])
        return answer

    whole = [{"Name": "state", "Values": ["active", "blackhole"]}]
    for table_name, t in by_name.items():
        table_id = t["TransitGatewayRouteTableId"]
        wanted = [route_key(r) for r in routes_of[table_id]]
        got = search(TransitGatewayRouteTableId=table_id, Filters=whole)
        c.check([route_key(r) for r in got["Routes"]] == wanted and got["AdditionalRoutesAvailable"] is False
                and "NextToken" not in got,
                f"SearchTransitGatewayRoutes: {table_name}, the whole table ({len(wanted)} routes) in one page, "
                "AdditionalRoutesAvailable false", (len(got["Routes"]), len(wanted)))
        # By hand, as the Rust SDK pages: NextToken until there is none.
        seen, flags, token = [], [], None
        while True:
            page = search(TransitGatewayRouteTableId=table_id, Filters=whole, MaxResults=5,
                          **({"NextToken": token} if token else {}))
            seen += [route_key(r) for r in page["Routes"]]
            flags.append(page["AdditionalRoutesAvailable"])
            token = page.get("NextToken")
            if not token:
                break
        c.check(seen == wanted and len(set(seen)) == len(seen) and flags == [True] * (len(flags) - 1) + [False]
                and len(flags) == -(-len(wanted) // 5),
                f"SearchTransitGatewayRoutes: {table_name}, MaxResults=5: {len(flags)} pages by NextToken, every "
                "route exactly once, AdditionalRoutesAvailable true until the last", (len(seen), len(flags)))
    spokes = by_name["spokes"]["TransitGatewayRouteTableId"]
    spoke_routes = routes_of[spokes]
    pages = list(ec2.get_paginator("search_transit_gateway_routes").paginate(
        TransitGatewayRouteTableId=spokes, Filters=whole, PaginationConfig={"PageSize": 5}))
    c.check([route_key(r) for p in pages for r in p.get("Routes", [])] == [route_key(r) for r in spoke_routes],
            f"SearchTransitGatewayRoutes through botocore's paginator (more_results AdditionalRoutesAvailable): "
            f"spokes in {len(pages)} pages of 5")

    # longest-prefix-match: every destination the cluster routes to the gateway.
    wrong = []
    for d in destinations:
        got = search(TransitGatewayRouteTableId=spokes,
                     Filters=[{"Name": "route-search.longest-prefix-match", "Values": [d]}])["Routes"]
        expect = lpm(spoke_routes, net(d))
        on_prem = any(net(d).subnet_of(net(a)) for a in generate.ON_PREM_AGGREGATES)
        target = vpn_att["TransitGatewayAttachmentId"] if on_prem else shared_att
        if ([route_key(r) for r in got] != [route_key(expect)]
                or got[0]["TransitGatewayAttachments"][0]["TransitGatewayAttachmentId"] != target):
            wrong.append((d, got))
    c.check(not wrong, f"longest-prefix-match in spokes for the {len(destinations)} destinations routed to the TGW: "
            "one route each, shared-services blocks to its attachment, on premises to the VPN", wrong[:3])
    for d in destinations[:1]:
        n = net(d)
        got = search(TransitGatewayRouteTableId=spokes,
                     Filters=[{"Name": "route-search.longest-prefix-match",
                               "Values": [str(next(n.hosts())) + "/32"]}])["Routes"]
        c.check([route_key(r) for r in got] == [route_key(lpm(spoke_routes, n))],
                f"longest-prefix-match of one address of {d}: the same route")
    dev = by_name["dev"]["TransitGatewayRouteTableId"]
    dev_routes = routes_of[dev]
    kinds = {}
    for r in dev_routes:
        kinds.setdefault(r["DestinationCidrBlock"], set()).add(r["Type"])
    tie = next(p for p, k in kinds.items() if k == {"static", "propagated"})
    got = search(TransitGatewayRouteTableId=dev,
                 Filters=[{"Name": "route-search.longest-prefix-match", "Values": [tie]}])["Routes"]
    c.check(len(got) == 1 and got[0]["Type"] == "static" and got[0]["DestinationCidrBlock"] == tie,
            f"longest-prefix-match in dev for {tie} (static and propagated): the static route", got)
    exception = next(r for r in dev_routes if r["Type"] == "static" and r["State"] == "active"
                     and r["DestinationCidrBlock"] != tie)
    got = search(TransitGatewayRouteTableId=dev,
                 Filters=[{"Name": "route-search.longest-prefix-match",
                           "Values": [exception["DestinationCidrBlock"]]}])["Routes"]
    holding = search(TransitGatewayRouteTableId=dev,
                     Filters=[{"Name": "route-search.supernet-of-match",
                               "Values": [exception["DestinationCidrBlock"]]}])["Routes"]
    expected_holding = [route_key(r) for r in dev_routes
                        if net(exception["DestinationCidrBlock"]).subnet_of(net(r["DestinationCidrBlock"]))]
    c.check([route_key(r) for r in got] == [route_key(exception)]
            and [route_key(r) for r in holding] == expected_holding
            and any(r["State"] == "blackhole" for r in holding),
            f"in dev, {exception['DestinationCidrBlock']}: longest-prefix-match is the static route, not the wider "
            f"blackhole; supernet-of-match is both ({len(holding)})", (got, holding))
    blackhole = next(r for r in dev_routes if r["State"] == "blackhole")
    free = next(a for a in net(blackhole["DestinationCidrBlock"]).subnets(new_prefix=24)
                if not any(net(r["DestinationCidrBlock"]).overlaps(a) for r in dev_routes if r is not blackhole))
    got = search(TransitGatewayRouteTableId=dev,
                 Filters=[{"Name": "route-search.longest-prefix-match", "Values": [str(free)]}])["Routes"]
    c.check([route_key(r) for r in got] == [route_key(blackhole)],
            f"longest-prefix-match in dev for {free}, covered by nothing more specific: the blackhole", got)
    got = search(TransitGatewayRouteTableId=spokes,
                 Filters=[{"Name": "route-search.longest-prefix-match", "Values": ["203.0.113.0/24"]}])
    c.check(got["Routes"] == [] and got["AdditionalRoutesAvailable"] is False,
            "longest-prefix-match of a prefix no route holds: none")

    # subnet-of-match, exact-match, and filters ANDed.
    for q in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", generate.SHARED_BLOCKS[0]):
        got = search(TransitGatewayRouteTableId=spokes,
                     Filters=[{"Name": "route-search.subnet-of-match", "Values": [q]}])["Routes"]
        expected = [route_key(r) for r in spoke_routes if net(r["DestinationCidrBlock"]).subnet_of(net(q))]
        c.check([route_key(r) for r in got] == expected and expected,
                f"subnet-of-match {q} in spokes: the {len(expected)} routes inside it (an equal one included)",
                (len(got), len(expected)))
    both = search(TransitGatewayRouteTableId=spokes, Filters=[
        {"Name": "route-search.subnet-of-match", "Values": list(generate.SHARED_BLOCKS[:2])}])["Routes"]
    c.check([r["DestinationCidrBlock"] for r in both] == list(generate.SHARED_BLOCKS[:2]),
            "subnet-of-match with two CIDRs: either (values OR together)", both)
    got = search(TransitGatewayRouteTableId=spokes, Filters=[
        {"Name": "route-search.subnet-of-match", "Values": ["10.0.0.0/8"]},
        {"Name": "type", "Values": ["propagated"]},
        {"Name": "attachment.resource-id", "Values": [cluster_vpc["VpcId"]]}])["Routes"]
    c.check(sorted(r["DestinationCidrBlock"] for r in got) == sorted(vpc_cidrs),
            "subnet-of-match 10.0.0.0/8 AND type=propagated AND attachment.resource-id=the cluster VPC: its CIDRs")
    shared_table = by_name["shared"]["TransitGatewayRouteTableId"]
    got = search(TransitGatewayRouteTableId=shared_table, Filters=[
        {"Name": "attachment.transit-gateway-attachment-id", "Values": [cluster_att]}])["Routes"]
    c.check(sorted(r["DestinationCidrBlock"] for r in got) == sorted(vpc_cidrs)
            and all(r["Type"] == "propagated" and r["State"] == "active" for r in got),
            "shared routes every cluster VPC CIDR to the cluster attachment (the return leg)")
    got = search(TransitGatewayRouteTableId=spokes, Filters=[
        {"Name": "route-search.exact-match", "Values": [generate.ON_PREM_AGGREGATES[-1]]},
        {"Name": "attachment.resource-type", "Values": ["vpn"]}])["Routes"]
    c.check([r["DestinationCidrBlock"] for r in got] == [generate.ON_PREM_AGGREGATES[-1]],
            f"exact-match {generate.ON_PREM_AGGREGATES[-1]} AND attachment.resource-type=vpn in spokes", got)
    got = search(TransitGatewayRouteTableId=dev, Filters=[{"Name": "state", "Values": ["blackhole"]},
                                                          {"Name": "type", "Values": ["static"]}])["Routes"]
    c.check(sorted(r["DestinationCidrBlock"] for r in got) == sorted(generate.TGW_SPOKE_BLOCKS),
            "state=blackhole AND type=static in dev: a blackhole per spoke range")

    # Errors.
    for what, call, want in (
        ("an unknown table", lambda: search(TransitGatewayRouteTableId="tgw-rtb-0000000000000000a", Filters=whole),
         "InvalidTransitGatewayRouteTableID.NotFound"),
        ("an unknown filter", lambda: search(TransitGatewayRouteTableId=spokes,
                                             Filters=[{"Name": "vpc-id", "Values": ["x"]}]), "InvalidParameterValue"),
        ("a value that is no CIDR", lambda: search(TransitGatewayRouteTableId=spokes, Filters=[
            {"Name": "route-search.subnet-of-match", "Values": ["10.0.0.0/33"]}]), "InvalidParameterValue"),
        ("MaxResults=1001", lambda: search(TransitGatewayRouteTableId=spokes, Filters=whole, MaxResults=1001),
         "InvalidParameterValue"),
        ("a NextToken of another query", lambda: search(
            TransitGatewayRouteTableId=dev, Filters=whole, MaxResults=5,
            NextToken=search(TransitGatewayRouteTableId=spokes, Filters=whole, MaxResults=5)["NextToken"]),
         "InvalidParameterValue"),
    ):
        code = error_code(call)
        c.check(code == want, f"SearchTransitGatewayRoutes with {what}: {want}", code)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--routes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    # The scenario the endpoint serves (the same objects: same arguments, same draws).
    scenario = generate.generate(args.nodes, args.routes, args.seed)
    c = Checks()
    fake = None
    with tempfile.TemporaryDirectory(prefix="podreach-check-ec2-") as directory:
        try:
            fake, port, stats_file = start_fake(args, directory)
            print(f"fake_aws.py: {args.nodes} nodes, {args.routes} routes, seed {args.seed} on 127.0.0.1:{port}")
            session = botocore.session.get_session()
            ec2 = session.create_client(
                "ec2", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                aws_access_key_id="x", aws_secret_access_key="x",
                config=Config(retries={"total_max_attempts": 1}),
            )
            sent = Counter()
            ec2.meta.events.register("before-send.ec2", lambda event_name, **_: sent.update([event_name.split(".")[-1]]))
            try:
                run_checks(ec2, scenario, c, args)
            except Exception as e:  # an answer botocore parsed into something unexpected
                traceback.print_exc()
                c.check(False, "the checks ran to the end", repr(e))
        finally:
            if fake is not None:
                fake.send_signal(signal.SIGTERM)
                try:
                    fake.wait(30)
                except subprocess.TimeoutExpired:
                    fake.kill()
        if fake is not None and os.path.exists(stats_file):
            with open(stats_file, encoding="utf-8") as f:
                counted = json.load(f)
            c.check(counted == dict(sent),
                    "the endpoint counted every request per action: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(counted.items())),
                    (counted, dict(sent)))
    print(f"{c.passed} checks passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
