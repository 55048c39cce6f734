#!/usr/bin/env python3
"""Checks the fake EC2 endpoint's transit gateway answers through botocore, the AWS CLI's parser.

Why it exists: `fake_aws.py` writes EC2's XML by hand, from element names taken from the EC2
model. A name that is wrong does not fail there: the SDK just parses an empty list, and the
collection then sees no route table, no association or no route. This script starts the fake
endpoint on 127.0.0.1 with a small scenario of `generate.py` (the way bench.py and
run_function.py start it), calls it through botocore's EC2 client, and compares what botocore
parsed with the scenario's own objects:
- `--throttle` (the fault injection's storm): the throttled answers are what botocore reads as
  RequestLimitExceeded, HTTP 503, which its standard retry mode treats as throttling;
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
- accounts (the peered `payments` VPC belongs to generate.PEER_ACCOUNT, written under
  `ec2/accounts/<account>/`): STS AssumeRole of `podreach-member` in that account answers
  credentials (`ASIA` + the account, a session token, the assumed role's ARN), and is refused
  (AccessDenied, HTTP 403, STS's error XML) for another role name and for an account without
  data, a malformed RoleArn a ValidationError; an ExternalId asked at startup must be given,
  and a session ends after --session-seconds (both in process); GetCallerIdentity names each credential's account; the assumed credentials see
  the peer account's VPC, subnets, route tables, security group, network ACL and ENIs (the
  collector's far batch there, filtered by vpc-id, MaxResults as it sends them) and none of
  the main account's, the main credentials the reverse; an assumed key without its session
  token is AuthFailure; the peering's accepter is owned by the peer account;
- the endpoint's per-action request counts (its --stats-file) equal the calls made here, and
  so do its counts per account (--account-stats-file);
- a transit gateway shared through RAM (`generate.py --tgw-account`, SHARED_TGW_ACCOUNT, a second
  endpoint started with `fake_aws.py --tgw-account`): the scenario's objects are those without
  the flag, only their owners differ (OwnerId, VpcOwnerId, the ARNs), and an id written twice (the
  gateway, the cluster's attachment) is the same object; the main account's files hold no TGW route
  table, its describe-transit-gateways names the owner, its attachments are its own VPCs'; the
  participant's view through botocore (the main credentials: the gateway with the owner's OwnerId,
  the cluster's attachment only, no route table, a table id NotFound, no shared-services) and the
  owner's (AssumeRole of `podreach-member` in SHARED_TGW_ACCOUNT: the gateway, both attachments,
  the 5 tables, each table's associations, propagations and whole routes, longest-prefix-match of
  the shared-services blocks, shared-services' far batch), the peer account seeing no gateway,
  and that endpoint's counts per action and per account.

Prints each check; exits 0 when all pass, 1 otherwise.

Usage:
    python3 tests/scale/check_fake_ec2.py [--nodes 20] [--routes 100] [--seed 1] [--tgw-account 333344445555]
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
import fakes  # noqa: E402  (the one way to start the fake endpoint)
import generate  # noqa: E402  (the scenario; same directory)
import fake_aws  # noqa: E402  (for the in-process check of the external id)

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


def start_fake(args, directory: str, extra=()):
    """The fake endpoint for `args`' scenario (`fakes.start_fake`)."""
    return fakes.start_fake(args.nodes, args.routes, args.seed, directory, extra)


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


# The far batch the collector reads in an account that owns far VPCs (crates/aws/src/collect/
# far.rs): (client method, answer key, id key, MaxResults it sends, the account's file name).
FAR_BATCH = (
    ("describe_vpcs", "Vpcs", "VpcId", 1000, "vpcs"),
    ("describe_subnets", "Subnets", "SubnetId", 1000, "subnets"),
    ("describe_route_tables", "RouteTables", "RouteTableId", 100, "route-tables"),
    ("describe_security_groups", "SecurityGroups", "GroupId", 1000, "security-groups"),
    ("describe_network_acls", "NetworkAcls", "NetworkAclId", 1000, "network-acls"),
    ("describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId", 1000, "network-interfaces"),
)
MEMBER_ROLE = "podreach-member"  # fake_aws.py's default --allow-role


def error_of(call) -> tuple[str | None, int | None, str | None, str]:
    """(error code, HTTP status, error type, message) of a call that fails, Nones if it does not."""
    try:
        call()
    except ClientError as e:
        error = e.response.get("Error", {})
        return (error.get("Code"), e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), error.get("Type"),
                error.get("Message", ""))
    return None, None, None, ""


def read_all(client, method: str, key: str, vpcs: list[str], page: int) -> tuple[list[dict], int]:
    """What the collector's paginated call answers (filtered by vpc-id, MaxResults `page`,
    NextToken until none): (the items, the pages)."""
    items, pages, token = [], 0, None
    while True:
        answer = getattr(client, method)(Filters=[{"Name": "vpc-id", "Values": vpcs}], MaxResults=page,
                                          **({"NextToken": token} if token else {}))
        items += answer.get(key, [])
        pages += 1
        token = answer.get("NextToken")
        if not token:
            return items, pages


def run_account_checks(client, scenario: dict, c: Checks) -> None:
    """The two accounts: STS AssumeRole, and each credential seeing its own account's objects.
    `client(service, account, **credentials)` makes a botocore client whose calls are counted
    for `account`."""
    main, peer = generate.ACCOUNT, generate.PEER_ACCOUNT
    static = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x"}
    ids = lambda items, key: sorted(o[key] for o in items)  # noqa: E731
    peer_file = lambda name: scenario.get(generate.account_file(peer, name), {})  # noqa: E731
    payments = [v["VpcId"] for v in peer_file("vpcs").get("Vpcs", [])]
    cluster = [v["VpcId"] for v in scenario["ec2/vpcs.json"]["Vpcs"]]
    shared = [v["VpcId"] for v in scenario["ec2/peer-vpcs.json"]["Vpcs"]]

    # --- the scenario: who owns what ---------------------------------------------------------
    owners = {}
    for path, obj in scenario.items():
        for key, value in obj.items() if isinstance(obj, dict) else ():
            if key in generate.ACCOUNT_FILES.values():
                for item in value:
                    owners.setdefault((generate.account_of(path), item.get("OwnerId")), 0)
                    owners[(generate.account_of(path), item.get("OwnerId"))] += 1
    c.check(set(owners) == {(main, main), (peer, peer)},
            f"the scenario: every object of ec2/accounts/{peer}/ is owned by {peer}, every other by {main} "
            f"({owners.get((peer, peer), 0)} and {owners.get((main, main), 0)})", owners)
    names = {v["Tags"][0]["Value"] for v in peer_file("vpcs").get("Vpcs", [])}
    c.check(names == {"payments"} and len(shared) == 1
            and scenario["ec2/peer-vpcs.json"]["Vpcs"][0]["Tags"][0]["Value"] == "shared-services",
            f"the scenario: payments is {peer}'s, shared-services (behind the TGW) {main}'s", (names, shared))

    # --- AssumeRole ----------------------------------------------------------------------------
    sts = client("sts", main, **static)
    role_arn = f"arn:aws:iam::{peer}:role/{MEMBER_ROLE}"
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName="podreach")
    creds = answer.get("Credentials", {})
    user = answer.get("AssumedRoleUser", {})
    expiration = creds.get("Expiration")
    c.check(creds.get("AccessKeyId", "").startswith("ASIA" + peer) and len(creds["AccessKeyId"]) == 20
            and len(creds.get("SecretAccessKey", "")) == 40 and creds.get("SessionToken")
            and isinstance(expiration, datetime) and expiration.timestamp() > time.time() + 3000
            and user.get("Arn") == f"arn:aws:sts::{peer}:assumed-role/{MEMBER_ROLE}/podreach"
            and user.get("AssumedRoleId", "").startswith("AROA") and user["AssumedRoleId"].endswith(":podreach"),
            f"AssumeRole {role_arn} (RoleSessionName podreach): credentials ASIA{peer}…, a session token, an "
            "expiration an hour on, the assumed role's ARN and id", answer)
    again = sts.assume_role(RoleArn=role_arn, RoleSessionName="podreach", ExternalId="anything")
    c.check(again.get("Credentials", {}).get("AccessKeyId") == creds.get("AccessKeyId"),
            "AssumeRole with an ExternalId, none asked at startup: answered (the same key for the same role and session)")
    for what, arn, want in (
        ("another role name", f"arn:aws:iam::{peer}:role/someone-else", ("AccessDenied", 403, "Sender")),
        ("an account without data", f"arn:aws:iam::333344445555:role/{MEMBER_ROLE}", ("AccessDenied", 403, "Sender")),
        ("a malformed RoleArn", f"arn:aws:iam::2222:role/{MEMBER_ROLE}", ("ValidationError", 400, "Sender")),
    ):
        code, status, kind, message = error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="podreach"))
        c.check((code, status, kind) == want and (want[0] != "AccessDenied" or arn in message),
                f"AssumeRole for {what}: {want[0]}, HTTP {want[1]}, type {want[2]}"
                + (" (the message names the role)" if want[0] == "AccessDenied" else ""), (code, status, kind, message))
    # The external id, in process (the endpoint started here asks none).
    state = fake_aws.State({}, external_id="abc")
    state.accounts[peer] = state.accounts[main]
    refused = state.assume_role(main, {"RoleArn": role_arn, "RoleSessionName": "podreach"})
    wrong = state.assume_role(main, {"RoleArn": role_arn, "RoleSessionName": "podreach", "ExternalId": "abd"})
    right = state.assume_role(main, {"RoleArn": role_arn, "RoleSessionName": "podreach", "ExternalId": "abc"})
    c.check(refused[:2] == (403, "AccessDenied") and wrong[:2] == (403, "AccessDenied") and right[:2] == (200, ""),
            "with --external-id: AssumeRole without it or with another is AccessDenied, with it answered",
            (refused[:2], wrong[:2], right[:2]))
    short = fake_aws.State({}, session_seconds=0)
    short.accounts[peer] = short.accounts[main]
    key = short.assume_role(main, {"RoleArn": role_arn, "RoleSessionName": "podreach"})[3]["AccessKeyId"]
    c.check(short.expired(key) and not state.expired(right[3]["AccessKeyId"]),
            "with --session-seconds 0: the assumed key has expired at once (EC2 answers RequestExpired); "
            "without it, not", key)

    assumed = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
               "aws_session_token": creds["SessionToken"]}
    who = client("sts", peer, **assumed).get_caller_identity()
    me = sts.get_caller_identity()
    c.check(who.get("Account") == peer and who.get("Arn") == user.get("Arn") and who.get("UserId") == user.get("AssumedRoleId")
            and me.get("Account") == main,
            f"GetCallerIdentity: the assumed credentials are {peer}'s (the assumed role), the static key {main}'s",
            (who, me))

    # --- each account sees its own -------------------------------------------------------------
    theirs, ours = client("ec2", peer, **assumed), client("ec2", main, **static)
    got = theirs.describe_vpcs().get("Vpcs", [])
    c.check(ids(got, "VpcId") == sorted(payments) and {v["OwnerId"] for v in got} == {peer},
            f"the assumed credentials' DescribeVpcs: only {peer}'s VPC (payments)", ids(got, "VpcId"))
    got = ours.describe_vpcs().get("Vpcs", [])
    c.check(ids(got, "VpcId") == sorted(cluster + shared) and {v["OwnerId"] for v in got} == {main},
            "the main credentials' DescribeVpcs: the cluster VPC and shared-services, not payments", ids(got, "VpcId"))
    code = error_code(lambda: theirs.describe_vpcs(VpcIds=cluster))
    other = error_code(lambda: ours.describe_vpcs(VpcIds=payments))
    c.check(code == "InvalidVpcID.NotFound" and other == "InvalidVpcID.NotFound",
            "the cluster VPC by id with the assumed credentials, payments by id with the main ones: InvalidVpcID.NotFound",
            (code, other))
    got = theirs.describe_instances().get("Reservations", [])
    c.check(got == [], f"the assumed credentials' DescribeInstances: none ({peer} runs no node)", len(got))
    # The collector's far batch in the peer account (far.rs, read_batch with no near VPCs), and
    # the same queries with the main credentials (which see none of it).
    pages = 0
    for method, key, id_key, page, name in FAR_BATCH:
        want = peer_file(name).get(key, [])
        got, n = read_all(theirs, method, key, payments, page)
        pages += n
        mine, _ = read_all(ours, method, key, payments, page)
        c.check(ids(got, id_key) == ids(want, id_key) and want and {o["OwnerId"] for o in got} == {peer} and mine == [],
                f"{method} vpc-id=payments, MaxResults={page}: with the assumed credentials its {len(want)} "
                f"({n} page), owned by {peer}; with the main ones none", (len(got), len(want), len(mine)))
    c.check(pages == len(FAR_BATCH), f"the far batch in {peer}: {pages} calls (1 AssumeRole before them)", pages)
    got, _ = read_all(theirs, "describe_subnets", "Subnets", cluster + shared, 1000)
    c.check(got == [], "the assumed credentials' DescribeSubnets of the cluster VPC and shared-services: none", len(got))
    # The main account's far batch (shared-services, its own; the cluster VPC near).
    for method, key, id_key, page, name in FAR_BATCH:
        main_file = {"vpcs": "ec2/peer-vpcs.json", "subnets": "ec2/peer-subnets.json",
                     "route-tables": "ec2/peer-route-tables.json", "security-groups": "ec2/security-groups.json",
                     "network-acls": "ec2/network-acls.json",
                     "network-interfaces": "ec2/peer-network-interfaces.json"}[name]
        want = [o for o in scenario[main_file][key] if o["VpcId"] in shared]
        got, _ = read_all(ours, method, key, shared, page)
        c.check(ids(got, id_key) == ids(want, id_key) and want,
                f"{method} vpc-id=shared-services with the main credentials: its {len(want)}", (len(got), len(want)))
    peering = ours.describe_vpc_peering_connections().get("VpcPeeringConnections", [])
    c.check(len(peering) == 1 and peering[0]["AccepterVpcInfo"]["OwnerId"] == peer
            and peering[0]["AccepterVpcInfo"]["VpcId"] in payments
            and peering[0]["RequesterVpcInfo"]["OwnerId"] == main and peering[0]["AccepterVpcInfo"].get("Region") == generate.REGION,
            f"DescribeVpcPeeringConnections: payments (the accepter) owned by {peer}, in {generate.REGION}; the "
            f"requester {main}", peering)
    tokenless = client("ec2", peer, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"])
    code, status, _, _ = error_of(lambda: tokenless.describe_vpcs())
    c.check((code, status) == ("AuthFailure", 401), "the assumed key without its session token: AuthFailure, HTTP 401",
            (code, status))


# The account owning the shared transit gateway in the RAM scenario (generate.py --tgw-account).
SHARED_TGW_ACCOUNT = "333344445555"
# List key -> the id key of its items, for comparing two scenarios object by object.
ID_KEYS = {
    "Vpcs": "VpcId", "Subnets": "SubnetId", "RouteTables": "RouteTableId", "SecurityGroups": "GroupId",
    "NetworkAcls": "NetworkAclId", "NetworkInterfaces": "NetworkInterfaceId", "Reservations": "ReservationId",
    "VpcPeeringConnections": "VpcPeeringConnectionId", "TransitGatewayVpcAttachments": "TransitGatewayAttachmentId",
    "TransitGateways": "TransitGatewayId", "TransitGatewayRouteTables": "TransitGatewayRouteTableId",
}
OWNER_KEYS = ("OwnerId", "VpcOwnerId")
ARN_KEYS = ("SubnetArn", "TransitGatewayArn")


def scenario_objects(scenario: dict) -> tuple[dict, list]:
    """{key: (object, owner fields)} of a scenario, every account's files together, as an offline
    reader merges them: an object of an id list by (list key, id), any other file (a TGW table's
    associations, propagations or routes; the EKS answers) whole, by its path inside its account's
    directory. Owner fields (OwnerId, VpcOwnerId; the account of SubnetArn/TransitGatewayArn) are
    taken out into the second item. Also [(key, path, path)] of an id written twice differently."""
    out, clashes, where = {}, [], {}
    for path, obj in scenario.items():
        account = generate.account_of(path)
        inner = path if account == generate.ACCOUNT else "ec2/" + path[len(f"{generate.ACCOUNTS_DIR}/{account}/"):]
        obj = generate.plain(obj)
        lists = [k for k in obj if k in ID_KEYS] if isinstance(obj, dict) else []
        entries = []
        if lists:
            for key in lists:
                entries += [((key, item[ID_KEYS[key]]), item) for item in obj[key]]
        else:
            entries.append(((inner,), obj))
        for key, item in entries:
            item = dict(item)
            owners = tuple((k, item.pop(k)) for k in OWNER_KEYS if k in item)
            owners += tuple((k, item[k].split(":")[4]) for k in ARN_KEYS if k in item)
            for k in ARN_KEYS:
                if k in item:
                    parts = item[k].split(":")
                    item[k] = ":".join(parts[:4] + ["<account>"] + parts[5:])
            if key in out and out[key] != (item, owners):
                clashes.append((key, where[key], path))
            out[key], where[key] = (item, owners), path
    return out, clashes


def run_shared_tgw_checks(client, shared: dict, plain_scenario: dict, c: Checks) -> None:
    """The RAM-shared transit gateway (generate.py --tgw-account SHARED_TGW_ACCOUNT): the scenario
    against the one without the flag, then the participant's and the owner's views."""
    main, owner, peer = generate.ACCOUNT, SHARED_TGW_ACCOUNT, generate.PEER_ACCOUNT
    static = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x"}
    ids = lambda items, key: sorted(o[key] for o in items)  # noqa: E731
    owned = lambda name: shared.get(generate.account_file(owner, name), {})  # noqa: E731

    # --- the scenario --------------------------------------------------------------------------
    with_flag, clashes = scenario_objects(shared)
    without, _ = scenario_objects(plain_scenario)
    c.check(not clashes, "--tgw-account: an id written in two accounts' files (the gateway, the cluster's "
            "attachment) is the same object in both", clashes[:3])
    same_keys = set(with_flag) == set(without)
    differing = [k for k in without if k in with_flag and with_flag[k][0] != without[k][0]]
    moved = {k: (without[k][1], with_flag[k][1]) for k in without if k in with_flag and with_flag[k][1] != without[k][1]}
    c.check(same_keys and not differing,
            f"--tgw-account: every account's files together hold the {len(without)} objects/files of the scenario "
            f"without it, equal but for their owners ({len(moved)} change owner)",
            (set(with_flag) ^ set(without), differing[:3]))
    new_owners = {dict(after).get("OwnerId", dict(after).get("VpcOwnerId")) for _, after in moved.values()}
    kinds = Counter(k[0] for k in moved)
    c.check(new_owners == {owner} and all(dict(before).get("OwnerId", dict(before).get("VpcOwnerId")) == main
                                          for before, _ in moved.values())
            and kinds["TransitGateways"] == 1 and kinds["TransitGatewayVpcAttachments"] == 1 and kinds["Vpcs"] == 1,
            f"--tgw-account: what changes owner goes from {main} to {owner}: the gateway, shared-services' attachment "
            f"and its objects ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})", (new_owners, kinds))
    main_tgw_files = [p for p in shared if generate.account_of(p) == main and "transit-gateway-route-table" in p]
    owner_tables = owned("transit-gateway-route-tables").get("TransitGatewayRouteTables", [])
    parts = [p for p in shared if p.startswith(f"{generate.ACCOUNTS_DIR}/{owner}/transit-gateway-route-tables/")]
    c.check(not main_tgw_files and len(owner_tables) == 5 and len(parts) == 15,
            f"--tgw-account: no TGW route table in {main}'s files; {owner}'s hold the 5 tables and their 15 "
            "associations/propagations/routes files", (main_tgw_files, len(owner_tables), len(parts)))
    gateway = shared["ec2/transit-gateways.json"]["TransitGateways"]
    atts_main = shared["ec2/transit-gateway-vpc-attachments.json"]["TransitGatewayVpcAttachments"]
    atts_owner = owned("transit-gateway-vpc-attachments").get("TransitGatewayVpcAttachments", [])
    shared_vpc = [v["VpcId"] for v in owned("vpcs").get("Vpcs", []) if v["Tags"][0]["Value"] == "shared-services"]
    cluster = [v["VpcId"] for v in shared["ec2/vpcs.json"]["Vpcs"]]
    c.check(len(gateway) == 1 and gateway[0]["OwnerId"] == owner
            and owned("transit-gateways").get("TransitGateways") == gateway
            and [a["VpcId"] for a in atts_main] == cluster and {a["VpcOwnerId"] for a in atts_main} == {main}
            and sorted(a["VpcId"] for a in atts_owner) == sorted(cluster + shared_vpc) and len(shared_vpc) == 1
            and shared["ec2/peer-vpcs.json"]["Vpcs"] == [],
            f"--tgw-account: {main}'s describe-transit-gateways names the owner {owner}, its attachments are the "
            f"cluster's only; {owner}'s list both and hold shared-services", (gateway, atts_main, atts_owner))

    tgw_id = gateway[0]["TransitGatewayId"]
    by_tgw = [{"Name": "transit-gateway-id", "Values": [tgw_id]}]
    whole = [{"Name": "state", "Values": ["active", "blackhole"]}]
    table_ids = [t["TransitGatewayRouteTableId"] for t in owner_tables]
    part = lambda table_id, name: owned(f"transit-gateway-route-tables/{table_id}.{name}")  # noqa: E731

    # --- the participant (the cluster's account) -----------------------------------------------
    ours = client("ec2", main, **static)
    got = ours.describe_transit_gateways().get("TransitGateways", [])
    c.check([(g["TransitGatewayId"], g["OwnerId"], g["TransitGatewayArn"].split(":")[4]) for g in got]
            == [(tgw_id, owner, owner)],
            f"participant ({main}): DescribeTransitGateways shows the shared gateway owned by {owner}", got)
    got = ours.describe_transit_gateway_vpc_attachments(Filters=by_tgw).get("TransitGatewayVpcAttachments", [])
    c.check([(a["VpcId"], a["VpcOwnerId"]) for a in got] == [(cluster[0], main)],
            "participant: DescribeTransitGatewayVpcAttachments (transit-gateway-id) is the cluster's attachment only",
            got)
    got = ours.describe_transit_gateway_route_tables(Filters=by_tgw, MaxResults=1000).get("TransitGatewayRouteTables")
    c.check(not got, "participant: DescribeTransitGatewayRouteTables (transit-gateway-id): none", got)
    codes = [error_code(lambda: ours.get_transit_gateway_route_table_associations(TransitGatewayRouteTableId=table_ids[0])),
             error_code(lambda: ours.get_transit_gateway_route_table_propagations(TransitGatewayRouteTableId=table_ids[0])),
             error_code(lambda: ours.search_transit_gateway_routes(TransitGatewayRouteTableId=table_ids[0], Filters=whole))]
    c.check(codes == ["InvalidTransitGatewayRouteTableID.NotFound"] * 3,
            "participant: the owner's table by id (associations, propagations, routes): "
            "InvalidTransitGatewayRouteTableID.NotFound", codes)
    got = ours.describe_vpcs().get("Vpcs", [])
    mine, _ = read_all(ours, "describe_network_interfaces", "NetworkInterfaces", shared_vpc, 1000)
    c.check(ids(got, "VpcId") == sorted(cluster) and mine == [],
            "participant: DescribeVpcs is the cluster VPC only; shared-services' ENIs: none", (ids(got, "VpcId"), len(mine)))

    # --- the owner, through the member role ----------------------------------------------------
    sts = client("sts", main, **static)
    code = error_code(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{owner}:role/someone-else",
                                              RoleSessionName="podreach"))
    c.check(code == "AccessDenied", f"AssumeRole of another role name in {owner}: AccessDenied", code)
    answer = sts.assume_role(RoleArn=f"arn:aws:iam::{owner}:role/{MEMBER_ROLE}", RoleSessionName="podreach")
    creds = answer.get("Credentials", {})
    assumed = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
               "aws_session_token": creds["SessionToken"]}
    who = client("sts", owner, **assumed).get_caller_identity()
    c.check(creds.get("AccessKeyId", "").startswith("ASIA" + owner) and who.get("Account") == owner,
            f"AssumeRole of {MEMBER_ROLE} in {owner} (the gateway's owner): credentials of {owner}", (creds, who))
    theirs = client("ec2", owner, **assumed)
    got = theirs.describe_transit_gateways(TransitGatewayIds=[tgw_id]).get("TransitGateways", [])
    c.check(len(got) == 1 and got[0]["OwnerId"] == owner
            and got[0]["Options"]["AssociationDefaultRouteTableId"] == gateway[0]["Options"]["AssociationDefaultRouteTableId"],
            f"owner ({owner}): DescribeTransitGateways by id, its default route table", got)
    got = theirs.describe_transit_gateway_vpc_attachments(Filters=by_tgw).get("TransitGatewayVpcAttachments", [])
    c.check(sorted((a["VpcId"], a["VpcOwnerId"]) for a in got) == sorted([(cluster[0], main), (shared_vpc[0], owner)]),
            "owner: DescribeTransitGatewayVpcAttachments (transit-gateway-id) lists every attachment, the cluster's "
            f"({main}) and shared-services' ({owner})", got)
    got = theirs.describe_transit_gateway_route_tables(Filters=by_tgw, MaxResults=1000).get("TransitGatewayRouteTables", [])
    c.check([t["TransitGatewayRouteTableId"] for t in got] == table_ids,
            "owner: DescribeTransitGatewayRouteTables (transit-gateway-id): the 5 tables", got)
    wrong = []
    for table_id in table_ids:
        for method, key, name in (("get_transit_gateway_route_table_associations", "Associations", "associations"),
                                  ("get_transit_gateway_route_table_propagations",
                                   "TransitGatewayRouteTablePropagations", "propagations")):
            got = [link_key(a) for p in theirs.get_paginator(method).paginate(TransitGatewayRouteTableId=table_id)
                   for a in p.get(key, [])]
            if got != [link_key(a) for a in part(table_id, name)[key]]:
                wrong.append((table_id, name))
        got = [route_key(r) for p in theirs.get_paginator("search_transit_gateway_routes").paginate(
            TransitGatewayRouteTableId=table_id, Filters=whole) for r in p.get("Routes", [])]
        if got != [route_key(r) for r in part(table_id, "routes")["Routes"]]:
            wrong.append((table_id, "routes"))
    total = sum(len(part(t, "routes")["Routes"]) for t in table_ids)
    c.check(not wrong, f"owner: every table's associations, propagations and whole routes ({total:,}) as written",
            wrong)
    spokes = next(t["TransitGatewayRouteTableId"] for t in owner_tables if t["Tags"][0]["Value"] == "network-hub-spokes")
    shared_att = next(a["TransitGatewayAttachmentId"] for a in atts_owner if a["VpcId"] == shared_vpc[0])
    got = [theirs.search_transit_gateway_routes(TransitGatewayRouteTableId=spokes, Filters=[
        {"Name": "route-search.longest-prefix-match", "Values": [b]}]).get("Routes", []) for b in generate.SHARED_BLOCKS]
    c.check(all(len(r) == 1 and r[0]["TransitGatewayAttachments"][0]["TransitGatewayAttachmentId"] == shared_att
                for r in got),
            "owner: longest-prefix-match of each shared-services block in spokes: its attachment", got)
    for method, key, id_key, page, name in FAR_BATCH:
        want = owned(name).get(key, [])
        got, n = read_all(theirs, method, key, shared_vpc, page)
        c.check(ids(got, id_key) == ids(want, id_key) and want and {o["OwnerId"] for o in got} == {owner},
                f"owner: {method} vpc-id=shared-services, MaxResults={page}: its {len(want)}, owned by {owner}",
                (len(got), len(want)))
    got, _ = read_all(theirs, "describe_subnets", "Subnets", cluster, 1000)
    c.check(got == [], "owner: the cluster VPC's subnets: none", len(got))

    # --- the peer account does not see the gateway --------------------------------------------
    answer = sts.assume_role(RoleArn=f"arn:aws:iam::{peer}:role/{MEMBER_ROLE}", RoleSessionName="podreach")
    pc = answer["Credentials"]
    payments = client("ec2", peer, aws_access_key_id=pc["AccessKeyId"], aws_secret_access_key=pc["SecretAccessKey"],
                      aws_session_token=pc["SessionToken"])
    got = payments.describe_transit_gateways().get("TransitGateways", [])
    att = payments.describe_transit_gateway_vpc_attachments().get("TransitGatewayVpcAttachments", [])
    c.check(got == [] and att == [], f"{peer} (payments): no transit gateway, no attachment", (got, att))


def serve_and_check(args, directory: str, extra, body, c: Checks) -> int:
    """Starts fake_aws.py (with `extra` arguments), runs `body(client)` against it (`client(service,
    account, region=..., **credentials)` makes a botocore client whose calls are counted for
    `account`), stops it, and checks its per-action and per-account counts against the calls made.
    Returns how many requests the endpoint throttled (`--throttle`), which it counts apart."""
    os.makedirs(directory, exist_ok=True)
    fake = stats_file = accounts_file = None
    throttled = 0
    sent, sent_by = Counter(), {}
    try:
        fake, port, stats_file, accounts_file = start_fake(args, directory, extra)
        print(f"fake_aws.py {' '.join(extra)}: {args.nodes} nodes, {args.routes} routes, seed {args.seed} "
              f"on 127.0.0.1:{port}".replace(".py :", ".py:"))
        session = botocore.session.get_session()

        def client(service: str, account: str, region: str = generate.REGION, **credentials):
            """A client of the endpoint whose calls count as `account`'s."""
            made = session.create_client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name=region,
                                         config=Config(retries={"total_max_attempts": 1}), **credentials)

            def count(event_name, **_):
                sent.update([event_name.split(".")[-1]])
                sent_by.setdefault(account, Counter()).update([event_name.split(".")[-1]])

            made.meta.events.register(f"before-send.{service}", count)
            return made

        try:
            body(client)
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
    if stats_file and os.path.exists(stats_file):
        with open(stats_file, encoding="utf-8") as f:
            counted = json.load(f)
        throttled = counted.pop("(throttled)", 0)
        c.check(counted == dict(sent),
                "the endpoint counted every request per action: "
                + ", ".join(f"{k} {v}" for k, v in sorted(counted.items())),
                (counted, dict(sent)))
    if accounts_file and os.path.exists(accounts_file):
        with open(accounts_file, encoding="utf-8") as f:
            by_account = json.load(f)
        expected = {account: dict(n) for account, n in sent_by.items()}
        c.check(by_account == expected,
                "the endpoint counted every request per account: " + "; ".join(
                    f"{account} {sum(n.values())} ({', '.join(f'{k} {v}' for k, v in n.items() if account != generate.ACCOUNT or k in ('AssumeRole', 'GetCallerIdentity'))})"
                    for account, n in sorted(by_account.items())),
                (by_account, expected))
    return throttled


def run_throttle_checks(ec2, c: Checks, answers: list) -> None:
    """`--throttle 30`: of 20 DescribeVpcs, 6 are answered as EC2 answers a request over the
    account's rate, which botocore reads as the error code RequestLimitExceeded, HTTP 503, and
    its standard retry mode treats as throttling (so the SDK retries it with backoff)."""
    from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

    checker = ThrottledRetryableChecker()
    for attempt in range(20):
        try:
            ec2.describe_vpcs()
            answers.append("ok")
        except ClientError as e:
            answers.append(e.response["Error"]["Code"])
            c.check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 503, "a throttled answer is HTTP 503",
                    e.response["ResponseMetadata"])
            context = RetryContext(attempt_number=1, operation_model=None, parsed_response=e.response,
                                   http_response=None, caught_exception=None)
            c.check(checker.is_retryable(context), "botocore's standard retry reads it as throttling",
                    e.response["Error"])
    c.check(answers.count("RequestLimitExceeded") == 6 and answers.count("ok") == 14,
            "30 % of 20 requests throttled, spread evenly (never two in a row): "
            + "".join("x" if a != "ok" else "." for a in answers), answers)
    c.check("xx" not in "".join("x" if a != "ok" else "." for a in answers), "no two throttled in a row", answers)


def main(argv=None) -> int:
    global SHARED_TGW_ACCOUNT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--routes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tgw-account", default=SHARED_TGW_ACCOUNT,
                        help=f"the gateway's owner in the RAM checks (default {SHARED_TGW_ACCOUNT})")
    args = parser.parse_args(argv)
    SHARED_TGW_ACCOUNT = args.tgw_account
    # The scenario the endpoint serves (the same objects: same arguments, same draws).
    scenario = generate.generate(args.nodes, args.routes, args.seed)
    c = Checks()
    with tempfile.TemporaryDirectory(prefix="podreach-check-ec2-") as directory:
        def plain_body(client):
            # Any key the endpoint does not know is the main account's (as before there were two).
            ec2 = client("ec2", generate.ACCOUNT, "us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
            run_checks(ec2, scenario, c, args)
            run_account_checks(client, scenario, c)

        serve_and_check(args, os.path.join(directory, "plain"), (), plain_body, c)
        # The same scenario with the transit gateway in another account, shared through RAM.
        shared = generate.generate(args.nodes, args.routes, args.seed, args.tgw_account)
        print(f"--- the transit gateway shared by {args.tgw_account} (--tgw-account)")
        serve_and_check(args, os.path.join(directory, "shared-tgw"), ("--tgw-account", args.tgw_account),
                        lambda client: run_shared_tgw_checks(client, shared, scenario, c), c)
        # A throttling storm (`--throttle`, tests/scale/fault_injection.py), as botocore reads it.
        print("--- a throttling storm (--throttle 30)")
        answers: list = []
        throttled = serve_and_check(
            args, os.path.join(directory, "throttle"), ("--throttle", "30"),
            lambda client: run_throttle_checks(
                client("ec2", generate.ACCOUNT, "us-east-1", aws_access_key_id="x", aws_secret_access_key="x"),
                c, answers),
            c)
        c.check(throttled == answers.count("RequestLimitExceeded"),
                f"the endpoint counted its {throttled} throttled answers", (throttled, answers))
    print(f"{c.passed} checks passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
