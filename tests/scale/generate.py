#!/usr/bin/env python3
"""Seeded generator of large, realistic podreach snapshots, in the exact shape AWS CLI v2 prints.

Why it exists: podreach's benchmarks and the peak-memory test of the Lambda bootstrap binaries
need clusters of 1,000-5,000 nodes whose EC2/EKS answers look like the real thing: every field the
CLI prints (not only the few podreach reads), real id formats, tags as EKS managed node groups and
the VPC CNI set them, and secondary addresses allocated the way EC2 hands them out in a busy
subnet. moto cannot serve that (too slow at this size, and without the real page sizes), so this
module builds the scenario once, deterministically from a seed, and either writes it as snapshot
files (this script) or feeds `tests/scale/fake_aws.py`, which serves the same objects over the
real EC2 Query/XML and EKS REST-JSON wire protocols.

The scenario (all of it a function of --nodes, --routes and --seed):
- eu-west-1, account 111122223333, EKS cluster `big` (1.30, ipv4) with the `vpc-cni` add-on
  v1.11.4-eksbuild.1 configured with AWS_VPC_CNI_NODE_PORT_SUPPORT=false (the README's #2025
  case: pods on secondary ENIs fail towards the peer).
- Every node is an m6i.16xlarge of an EKS managed node group (at most 450 nodes per group) with a
  primary ENI and two CNI-created secondary ENIs (device 0, 1, 2 on card 0), each with a primary
  and 49 secondary IPv4 addresses: 150 addresses per node.
- The cluster VPC has as many /16 blocks as it needs (10.0.0.0/16 plus associated 10.1.0.0/16,
  ...: a VPC with a raised CIDR quota) and private /18 subnets over eu-west-1a/b/c with about 20%
  headroom; public /24 subnets (NAT gateways) and /28 transit gateway attachment subnets sit in
  the first /18. Addresses are allocated mostly ascending, in runs of 1-12 interleaved between
  the ENIs being filled at the time, with a few holes refilled later, so an ENI's address list
  only partly compresses into ranges.
- Route tables: one private table per AZ (local routes for every VPC CIDR, the S3 gateway
  endpoint, 0.0.0.0/0 to that AZ's NAT gateway, and --routes private routes: about 20% to the
  peering connection with the `payments` VPC, the rest to a transit gateway: on-premises
  prefixes and the CIDRs of a `shared-services` VPC), a public table and the main table.
- The far side: `payments` and `shared-services` with their subnets and route tables (return
  routes for every cluster VPC CIDR over the pcx / the tgw), the active peering connection and
  both transit gateway VPC attachments. Two accounts: `payments` belongs to PEER_ACCOUNT
  (222233334444; the peering's accepter, `AccepterVpcInfo.OwnerId`), and its VPC, subnets,
  route tables, security group, network ACL and ENIs carry that OwnerId and are written apart,
  as that account's AWS CLI prints them: `ec2/accounts/222233334444/{vpcs,subnets,route-tables,
  security-groups,network-acls,network-interfaces}.json` (`account_file`; ACCOUNT_FILES).
  Everything else is ACCOUNT's, `shared-services` (behind the transit gateway) too, in
  `ec2/peer-*.json` and the files of both sides (`ec2/security-groups.json`, ...). podreach reads
  a snapshot by content and merges objects by id, so the split changes no verdict; the objects
  are the ones a single account had before, only their owner (and a subnet's ARN) differ.
  `fake_aws.py` serves each account's files to that account's credentials only.
- The transit gateway's route tables, TGW_ROUTES (2,000) routes in 5 tables: `spokes`
  (associated with the cluster VPC's attachment and the prod spoke VPCs'; the shared-services
  blocks to its attachment, the on-premises aggregates to a VPN attachment, the cluster VPC's
  CIDRs, the prod spokes), `shared` (associated with the shared-services attachment; the cluster
  VPC's CIDRs back to the cluster's attachment, the on-premises aggregates, every spoke), `vpn`
  (associated with the VPN; the cluster, shared-services and the prod spokes), `inspection`
  (an inspection VPC; every spoke) and `dev` (the dev spoke VPCs, also the default association
  and propagation table; the dev spokes, a blackhole for each spoke range and a few static routes
  through the inspection VPC). Every route is propagated, with the propagation enabled in its
  table, except dev's static ones. The spoke VPCs exist only in these tables, in ranges no other
  object uses (TGW_SPOKE_BLOCKS), so no spoke route touches a destination the cluster routes to
  the gateway or the cluster VPC's CIDRs (checked): the verdicts stay what they were before the
  tables (shared services reachable per the filters, on premises beyond the VPN, so the return is
  unknown). Drawn after everything else, so adding them
  changed no other object of a seed (`describe-transit-gateways` names the default tables now).
  Written as `ec2/transit-gateway-route-tables.json` and per table
  `ec2/transit-gateway-route-tables/<tgw-rtb-id>.{associations,propagations,routes}.json` (the
  routes file a whole table, as `search-transit-gateway-routes --filters
  Name=state,Values=active,blackhole` prints it).

With --tgw-account ACCOUNT (off by default; nothing above changes without it) the transit
gateway is another account's, shared with the cluster's through RAM, as in the usual enterprise
layout (a network account owns it), and shared-services (its VPC, subnets, route tables, security
group, network ACL and ENIs) is that account's too. The owner's files, under
`ec2/accounts/<ACCOUNT>/`: `transit-gateways.json`, `transit-gateway-vpc-attachments.json` (every
attachment, the cluster's and shared-services'), `transit-gateway-route-tables.json` and
`transit-gateway-route-tables/<tgw-rtb-id>.{associations,propagations,routes}.json`, besides
shared-services' objects. The cluster's account sees what a RAM participant sees:
`ec2/transit-gateways.json` names the gateway with `OwnerId` ACCOUNT, and
`ec2/transit-gateway-vpc-attachments.json` lists only the attachments of its own VPCs
(`VpcOwnerId`: the cluster's); it has no transit gateway route table. The objects are the ones
without the flag (same draws), only their owners (`OwnerId`, `VpcOwnerId`, the ARNs) differ, so
an offline audit of every file of the snapshot gives the same verdicts.

Output conventions: `json.dumps(obj, indent=4, ensure_ascii=False) + "\\n"` exactly as AWS CLI v2
prints `--output json`, keys in the order the CLI prints them (the member order of the service
model, botocore 1.43: note that recent models list Instance's `InstanceId`, `State`, ... after
`Operator`, unlike older CLI versions), timestamps as CLI v2 prints them
(`2025-03-03T08:00:00+00:00`). The two big arrays (ENIs, reservations) are written item by item, so
5,000 nodes (~440 MB) need little memory.

Usage:
    python3 tests/scale/generate.py --nodes 1000 [--routes 100] [--seed 1] [--tgw-account ACCOUNT] --out DIR

As a module: `generate(nodes, routes, seed)` returns {relative path: the object the CLI prints}.
The big arrays in it are `LazyList`s (read-only sequences that build each item on access, so the
whole thing stays small); `plain(obj)` turns an object into ordinary lists and dicts, and
`write_snapshot(files, out_dir)` writes the files as this script does.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import re
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

REGION = "eu-west-1"
ACCOUNT = "111122223333"
# The account that owns the peered `payments` VPC (its VPC, subnets, route tables, security
# group, network ACL and ENIs); the collector reads it through a role there (--member-role).
PEER_ACCOUNT = "222233334444"
# Where another account's objects are written: `ec2/accounts/<account>/<name>.json`, one file per
# `describe-*` call as that account's AWS CLI prints it (ACCOUNT_FILES); see `account_file`.
ACCOUNTS_DIR = "ec2/accounts"
ACCOUNT_FILES = {
    "vpcs": "Vpcs",
    "subnets": "Subnets",
    "route-tables": "RouteTables",
    "security-groups": "SecurityGroups",
    "network-acls": "NetworkAcls",
    "network-interfaces": "NetworkInterfaces",
}
CLUSTER = "big"
KUBERNETES_VERSION = "1.30"
PLATFORM_VERSION = "eks.23"
CNI_ADDON_VERSION = "v1.11.4-eksbuild.1"
CNI_CONFIGURATION = '{"env":{"AWS_VPC_CNI_NODE_PORT_SUPPORT":"false"}}'
SERVICE_CIDR = "10.100.0.0/16"
AZS = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
# The AZ name -> id mapping is per account; this is one plausible mapping.
AZ_IDS = {"eu-west-1a": "euw1-az2", "eu-west-1b": "euw1-az3", "eu-west-1c": "euw1-az1"}
# An instance type with at least 3 ENIs of 50 IPv4 addresses (15 x 50).
INSTANCE_TYPE = "m6i.16xlarge"
CORE_COUNT, THREADS_PER_CORE = 32, 2
ENIS_PER_NODE = 3
ADDRESSES_PER_ENI = 50
MAX_NODES_PER_NODEGROUP = 450  # EKS managed node group quota
PRIVATE_SUBNET_PREFIX = 18
HEADROOM = 1.2
MAX_VPC_CIDR_BLOCKS = 50  # the highest the VPC quota goes
MAX_ROUTES = 1000  # the highest the routes-per-table quota goes
S3_PREFIX_LIST = "pl-6da54004"  # com.amazonaws.eu-west-1.s3
# The Auto Scaling service is the requester of the reservations it launches.
AUTOSCALING_REQUESTER = "226008221399"
PAYMENTS_BLOCKS = tuple(f"172.{16 + k}.0.0/16" for k in range(5))
SHARED_BLOCKS = tuple(f"172.{24 + k}.0.0/16" for k in range(3))
ON_PREM_BLOCKS = ("10.128.0.0/9",)
# What the VPN to the data centres announces: the on-premises blocks and 192.168.0.0/16, the two
# ranges the cluster's on-premises routes are drawn from (`_plan_routes`).
ON_PREM_AGGREGATES = (*ON_PREM_BLOCKS, "192.168.0.0/16")
# The transit gateway's route tables: every route of its 5 tables, together.
TGW_ROUTES = 2000
# The other spoke VPCs behind the transit gateway (their CIDRs are the tables' filler routes):
# ranges the rest of the scenario does not use (checked), cut into /20 slots, one CIDR of
# /20-/24 in each slot taken.
TGW_SPOKE_BLOCKS = ("10.64.0.0/11", "100.64.0.0/10", "172.28.0.0/14")
TGW_SPOKE_SLOT = 20
TGW_SPOKE_LENGTHS = (20, 21, 22, 22, 23, 24, 24)
# Static routes of the dev table that send a few prefixes through the inspection VPC (at least
# this many; up to 3 more make the total exactly TGW_ROUTES).
TGW_DEV_EXCEPTIONS = 4
# Scenario clock: the VPCs exist before the cluster, the cluster before its nodes.
T_VPC = 1_730_000_000  # 2024-10-27
T_CLUSTER = 1_738_000_000  # 2025-01-27
T_NODES = 1_741_000_000  # 2025-03-03


# ---------------------------------------------------------------------------------------------
# Small helpers


def ip(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def parse_cidr(cidr: str) -> tuple[int, int]:
    addr, plen = cidr.split("/")
    a, b, c, d = (int(x) for x in addr.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d, int(plen)


def cidr(base: int, plen: int) -> str:
    return f"{ip(base)}/{plen}"


def dns(n: int) -> str:
    return f"ip-{n >> 24}-{(n >> 16) & 255}-{(n >> 8) & 255}-{n & 255}.{REGION}.compute.internal"


def cli_time(epoch: float) -> str:
    """A timestamp as AWS CLI v2 prints it (ISO 8601, microseconds only when non-zero)."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def tags(pairs) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in pairs]


class Ids:
    """EC2-style identifiers from the scenario's random stream."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def ec2(self, prefix: str) -> str:
        return f"{prefix}-0{self.rng.getrandbits(64):016x}"

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def upper(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}X}"

    def role_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return "AROA" + "".join(self.rng.choice(alphabet) for _ in range(17))

    def mac(self) -> str:
        return "06:" + ":".join(f"{self.rng.getrandbits(8):02x}" for _ in range(5))


class LazyList(Sequence):
    """A read-only list whose items are built on access (`build(i)`), so a 5,000-node scenario
    needs megabytes, not gigabytes. `light(i)` builds the item without its bulky address lists
    (same top-level fields), for filtering without paying for the addresses."""

    def __init__(self, length: int, build: Callable[[int], dict], light: Callable[[int], dict]):
        self._length = length
        self._build = build
        self._light = light

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._build(i) for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._build(index)

    def light(self, index: int) -> dict:
        return self._light(index)


def plain(obj):
    """`obj` with every LazyList turned into a list (for json.dumps or comparisons)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, LazyList)):
        return [plain(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# The scenario


class Node:
    __slots__ = (
        "index", "subnet", "az", "nodegroup", "instance_id", "reservation_id", "launch",
        "client_token", "volume_id", "role_id", "eni_ids", "attachment_ids", "macs",
        "attach_times",
    )


class Scenario:
    def __init__(self, nodes: int, routes: int = 100, seed: int = 1, tgw_account: str | None = None):
        if nodes < 1:
            raise ValueError("--nodes must be at least 1")
        if not 0 <= routes <= MAX_ROUTES:
            raise ValueError(f"--routes must be between 0 and {MAX_ROUTES} (the route table quota)")
        if tgw_account is not None and (not re.fullmatch(r"\d{12}", tgw_account)
                                        or tgw_account in (ACCOUNT, PEER_ACCOUNT)):
            raise ValueError(f"--tgw-account must be a 12-digit account other than {ACCOUNT} and {PEER_ACCOUNT}")
        self.nodes_count = nodes
        self.routes_count = routes
        # The account that owns the transit gateway (and shared-services), when not this one
        # (--tgw-account; see the module docstring). The owner changes no draw.
        self.tgw_account = tgw_account
        self.tgw_owner = tgw_account or ACCOUNT
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self._plan_cluster_vpc()
        self._plan_nodes()
        self._allocate_addresses()
        self._plan_far_side()
        self._plan_routes()

    # --- cluster VPC: CIDR blocks and subnets -------------------------------------------------

    def _plan_cluster_vpc(self):
        ids = self.ids
        usable = (1 << (32 - PRIVATE_SUBNET_PREFIX)) - 5
        need = self.nodes_count * ENIS_PER_NODE * ADDRESSES_PER_ENI * HEADROOM
        n_private = max(3, math.ceil(need / usable))
        n_private += -n_private % 3
        quarters = 1 << (PRIVATE_SUBNET_PREFIX - 16)
        n_blocks = math.ceil((n_private + 1) / quarters)  # slot 0 holds the small subnets
        if n_blocks > MAX_VPC_CIDR_BLOCKS:
            raise ValueError(
                f"{self.nodes_count} nodes need {n_blocks} /16 blocks, more than a VPC can have "
                f"({MAX_VPC_CIDR_BLOCKS})"
            )
        self.vpc_id = ids.ec2("vpc")
        self.vpc_cidrs = [f"10.{k}.0.0/16" for k in range(n_blocks)]
        self.vpc_cidr_assocs = [ids.ec2("vpc-cidr-assoc") for _ in self.vpc_cidrs]
        self.dhcp_options = ids.ec2("dopt")
        self.igw = ids.ec2("igw")
        self.s3_endpoint = ids.ec2("vpce")
        self.cluster_sg = ids.ec2("sg")
        self.cluster_sg_name = f"eks-cluster-sg-{CLUSTER}-{self.rng.randrange(10**9, 10**10)}"
        self.control_plane_sg = ids.ec2("sg")
        # Subnets: (id, base, prefix, az, kind, name)
        self.subnets = []
        for k, az in enumerate(AZS):
            self.subnets.append(
                (ids.ec2("subnet"), (10 << 24) | (k << 8), 24, az, "public", f"{CLUSTER}-public-{az}")
            )
        for k, az in enumerate(AZS):
            self.subnets.append(
                (ids.ec2("subnet"), (10 << 24) | (3 << 8) | (16 * k), 28, az, "tgw", f"{CLUSTER}-tgw-{az}")
            )
        self.private = []  # indices into self.subnets
        for j in range(n_private):
            slot = j + 1
            base = (10 << 24) | ((slot // quarters) << 16) | ((slot % quarters) << (32 - PRIVATE_SUBNET_PREFIX))
            az = AZS[j % 3]
            self.private.append(len(self.subnets))
            self.subnets.append(
                (ids.ec2("subnet"), base, PRIVATE_SUBNET_PREFIX, az, "private",
                 f"{CLUSTER}-private-{az}-{j // 3 + 1}")
            )
        self.nat = {az: ids.ec2("nat") for az in AZS}
        self.used = {s[0]: 0 for s in self.subnets}
        for s in self.subnets:
            if s[4] in ("public", "tgw"):
                self.used[s[0]] = 1  # the NAT gateway's / the attachment's ENI

    # --- nodes -------------------------------------------------------------------------------

    def _plan_nodes(self):
        ids, rng = self.ids, self.rng
        n_groups = math.ceil(self.nodes_count / MAX_NODES_PER_NODEGROUP)
        self.nodegroups = []
        for g in range(n_groups):
            name = f"ng-{g + 1:02d}"
            self.nodegroups.append({
                "name": name,
                "asg": f"eks-{name}-{ids.uuid()}",
                "fleet": f"fleet-{ids.uuid()}",
                "launch_template": ids.ec2("lt"),
                "profile": f"eks-{ids.uuid()}",
                "profile_id": "AIPA" + ids.upper(17),
            })
        self.image_id = ids.ec2("ami")
        self.nodes = []
        t = T_NODES
        for i in range(self.nodes_count):
            n = Node()
            n.index = i
            n.subnet = self.private[i % len(self.private)]
            n.az = self.subnets[n.subnet][3]
            n.nodegroup = i % n_groups
            n.instance_id = ids.ec2("i")
            n.reservation_id = ids.ec2("r")
            t += rng.randint(5, 60)
            n.launch = t
            n.client_token = f"fleet-{ids.uuid()}"
            n.volume_id = ids.ec2("vol")
            n.role_id = ids.role_id()
            n.eni_ids = tuple(ids.ec2("eni") for _ in range(ENIS_PER_NODE))
            n.attachment_ids = tuple(ids.ec2("eni-attach") for _ in range(ENIS_PER_NODE))
            n.macs = tuple(ids.mac() for _ in range(ENIS_PER_NODE))
            first = t + rng.randint(20, 90)
            n.attach_times = (t, first, first + rng.randint(30, 900))
            self.nodes.append(n)

    # --- addresses ---------------------------------------------------------------------------

    def _allocate_addresses(self):
        """Fill each private subnet the way EC2 does when a node group scales: the ENIs being
        filled at a time take runs of 1-12 addresses, mostly ascending, sometimes leaving a hole
        that a later run refills."""
        rng = self.rng
        self.addresses = [None] * (self.nodes_count * ENIS_PER_NODE)
        by_subnet = {}
        for n in self.nodes:
            by_subnet.setdefault(n.subnet, []).append(n.index)
        for subnet_index, node_indices in by_subnet.items():
            subnet_id, base, plen = self.subnets[subnet_index][:3]
            cursor, end = base + 4, base + (1 << (32 - plen)) - 1  # 4 reserved, broadcast last
            holes: deque[int] = deque()
            pending = deque(i * ENIS_PER_NODE + d for i in node_indices for d in range(ENIS_PER_NODE))
            active: list[int] = []
            window = rng.randint(3, 8)
            remaining = {}
            while pending or active:
                while len(active) < window and pending:
                    # A new ENI gets its primary address when it is created.
                    e = pending.popleft()
                    active.append(e)
                    self.addresses[e] = array("I", (cursor,))
                    cursor += 1
                    remaining[e] = ADDRESSES_PER_ENI - 1
                # Older ENIs are more likely to be served: the window drains roughly in order.
                e = active[min(int(rng.expovariate(0.7)), len(active) - 1)]
                run = min(rng.randint(1, 12), remaining[e])
                out = self.addresses[e]
                if holes and rng.random() < 0.06:
                    for _ in range(min(run, len(holes))):
                        out.append(holes.popleft())
                        remaining[e] -= 1
                else:
                    if rng.random() < 0.05:
                        for _ in range(rng.randint(1, 4)):
                            holes.append(cursor)
                            cursor += 1
                    if cursor + run > end:
                        raise RuntimeError(f"subnet {subnet_id} is full; raise HEADROOM")
                    out.extend(range(cursor, cursor + run))
                    cursor += run
                    remaining[e] -= run
                if remaining[e] == 0:
                    active.remove(e)
            self.used[subnet_id] += len(node_indices) * ENIS_PER_NODE * ADDRESSES_PER_ENI

    # --- far side: payments (peered) and shared-services (behind the TGW) --------------------

    def _plan_far_side(self):
        ids, rng = self.ids, self.rng
        self.tgw = ids.ec2("tgw")
        self.pcx = ids.ec2("pcx")
        self.n_pcx = round(self.routes_count * 0.2)
        self.n_shared = min(len(SHARED_BLOCKS), self.routes_count - self.n_pcx)
        # payments belongs to the second account (PEER_ACCOUNT); shared-services to this one, or
        # with --tgw-account to the transit gateway's owner.
        self.payments = self._far_vpc("payments", PAYMENTS_BLOCKS, PEER_ACCOUNT)
        self.shared = self._far_vpc("shared-services", SHARED_BLOCKS, self.tgw_owner)
        # payments: its subnets are the /18-/20 destinations the cluster routes to the pcx.
        blocks = [parse_cidr(c) for c in PAYMENTS_BLOCKS]
        count = max(self.n_pcx, 3)
        lengths = (18, 20)
        while count * sum(1 << (lengths[1] - ln) for ln in lengths) / 2 > 0.7 * (len(blocks) << (lengths[1] - 16)):
            lengths = (lengths[0] + 2, lengths[1] + 2)  # many peered routes: smaller prefixes
        self.payments["subnets"] = [
            (ids.ec2("subnet"), base, plen, AZS[k % 3], f"payments-{AZS[k % 3]}-{k // 3 + 1}")
            for k, (base, plen) in enumerate(pick_prefixes(rng, blocks, lengths, count, []))
        ]
        # shared-services: one /20 per AZ in each block; the first block's carry the attachment.
        self.shared["subnets"] = [
            (ids.ec2("subnet"), parse_cidr(block)[0] + (k << 12), 20, az, f"shared-services-{az}-{b + 1}")
            for b, block in enumerate(SHARED_BLOCKS)
            for k, az in enumerate(AZS)
        ]
        self.tgw_attachment = ids.ec2("tgw-attach")
        self.shared_attachment = ids.ec2("tgw-attach")

    def _far_vpc(self, name: str, blocks, owner: str) -> dict:
        ids = self.ids
        return {
            "name": name,
            "owner": owner,
            "vpc_id": ids.ec2("vpc"),
            "cidrs": list(blocks),
            "assocs": [ids.ec2("vpc-cidr-assoc") for _ in blocks],
            "dhcp": ids.ec2("dopt"),
            "nat": ids.ec2("nat"),
        }

    # --- routes ------------------------------------------------------------------------------

    def _plan_routes(self):
        rng = self.rng
        used = [parse_cidr(c) for c in self.vpc_cidrs]
        used = [(b, b + (1 << (32 - p))) for b, p in used]
        routes = []
        for _, base, plen, _, _ in self.payments["subnets"][: self.n_pcx]:
            routes.append((cidr(base, plen), "pcx"))
        for block in SHARED_BLOCKS[: self.n_shared]:
            routes.append((block, "tgw"))
        n_on_prem = self.routes_count - self.n_pcx - self.n_shared
        n_192 = min(n_on_prem // 2, 200)
        for base, plen in pick_prefixes(rng, [parse_cidr("192.168.0.0/16")], (24,), n_192, []):
            routes.append((cidr(base, plen), "tgw"))
        ten = [parse_cidr(c) for c in ON_PREM_BLOCKS]
        for base, plen in pick_prefixes(rng, ten, (16, 18, 20, 22, 24), n_on_prem - n_192, used):
            routes.append((cidr(base, plen), "tgw"))
        rng.shuffle(routes)
        self.private_routes = routes

    # --- EC2 objects ---------------------------------------------------------------------------

    def vpc(self, vpc_id, cidrs, assocs, dhcp, name, owner=ACCOUNT) -> dict:
        return {
            "OwnerId": owner,
            "InstanceTenancy": "default",
            "CidrBlockAssociationSet": [
                {"AssociationId": a, "CidrBlock": c, "CidrBlockState": {"State": "associated"}}
                for c, a in zip(cidrs, assocs)
            ],
            "IsDefault": False,
            "Tags": tags([("Name", name)]),
            "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
            "VpcId": vpc_id,
            "State": "available",
            "CidrBlock": cidrs[0],
            "DhcpOptionsId": dhcp,
        }

    def subnet(self, subnet_id, vpc_id, base, plen, az, name, extra_tags=(), used=0, public=False,
               owner=ACCOUNT) -> dict:
        return {
            "AvailabilityZoneId": AZ_IDS[az],
            "MapCustomerOwnedIpOnLaunch": False,
            "OwnerId": owner,
            "AssignIpv6AddressOnCreation": False,
            "Ipv6CidrBlockAssociationSet": [],
            "Tags": tags([("Name", name), *extra_tags]),
            "SubnetArn": f"arn:aws:ec2:{REGION}:{owner}:subnet/{subnet_id}",
            "EnableDns64": False,
            "Ipv6Native": False,
            "PrivateDnsNameOptionsOnLaunch": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": False,
                "EnableResourceNameDnsAAAARecord": False,
            },
            "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
            "SubnetId": subnet_id,
            "State": "available",
            "VpcId": vpc_id,
            "CidrBlock": cidr(base, plen),
            "AvailableIpAddressCount": (1 << (32 - plen)) - 5 - used,
            "AvailabilityZone": az,
            "DefaultForAz": False,
            "MapPublicIpOnLaunch": public,
        }

    def cluster_subnets(self) -> list[dict]:
        out = []
        for subnet_id, base, plen, az, kind, name in self.subnets:
            extra = {
                "public": [("kubernetes.io/role/elb", "1")],
                "private": [("kubernetes.io/role/internal-elb", "1"), (f"kubernetes.io/cluster/{CLUSTER}", "shared")],
                "tgw": [],
            }[kind]
            out.append(self.subnet(subnet_id, self.vpc_id, base, plen, az, name, extra,
                                   self.used[subnet_id], kind == "public"))
        return out

    @staticmethod
    def route(destination, target_key=None, target=None, origin="CreateRoute") -> dict:
        r = {"DestinationCidrBlock": destination}
        if target_key in ("GatewayId", "NatGatewayId", "TransitGatewayId"):
            r[target_key] = target
        r["Origin"] = origin
        r["State"] = "active"
        if target_key == "VpcPeeringConnectionId":
            r[target_key] = target
        return r

    def local_routes(self, cidrs) -> list[dict]:
        return [self.route(c, "GatewayId", "local", "CreateRouteTable") for c in cidrs]

    def route_table(self, rtb_id, vpc_id, name, routes, subnet_ids=(), main=False, owner=ACCOUNT) -> dict:
        associations = []
        if main:
            associations.append({
                "Main": True,
                "RouteTableAssociationId": self.ids.ec2("rtbassoc"),
                "RouteTableId": rtb_id,
                "AssociationState": {"State": "associated"},
            })
        for subnet_id in subnet_ids:
            associations.append({
                "Main": False,
                "RouteTableAssociationId": self.ids.ec2("rtbassoc"),
                "RouteTableId": rtb_id,
                "SubnetId": subnet_id,
                "AssociationState": {"State": "associated"},
            })
        return {
            "Associations": associations,
            "PropagatingVgws": [],
            "RouteTableId": rtb_id,
            "Routes": routes,
            "Tags": tags([("Name", name)]),
            "VpcId": vpc_id,
            "OwnerId": owner,
        }

    def cluster_route_tables(self) -> list[dict]:
        tables = []
        local = self.local_routes(self.vpc_cidrs)
        s3 = {
            "DestinationPrefixListId": S3_PREFIX_LIST,
            "GatewayId": self.s3_endpoint,
            "Origin": "CreateRoute",
            "State": "active",
        }
        private = [
            self.route(dest, "VpcPeeringConnectionId", self.pcx) if via == "pcx"
            else self.route(dest, "TransitGatewayId", self.tgw)
            for dest, via in self.private_routes
        ]
        for az in AZS:
            members = [s[0] for s in self.subnets if s[3] == az and s[4] in ("private", "tgw")]
            routes = local + [s3, self.route("0.0.0.0/0", "NatGatewayId", self.nat[az])] + private
            tables.append(self.route_table(self.ids.ec2("rtb"), self.vpc_id, f"{CLUSTER}-private-{az}", routes, members))
        public = [s[0] for s in self.subnets if s[4] == "public"]
        tables.append(self.route_table(
            self.ids.ec2("rtb"), self.vpc_id, f"{CLUSTER}-public",
            local + [self.route("0.0.0.0/0", "GatewayId", self.igw)], public))
        tables.append(self.route_table(self.ids.ec2("rtb"), self.vpc_id, f"{CLUSTER}-main", list(local), main=True))
        return tables

    def far_objects(self):
        vpcs, subnets, tables = [], [], []
        for far, via_key, via in (
            (self.payments, "VpcPeeringConnectionId", self.pcx),
            (self.shared, "TransitGatewayId", self.tgw),
        ):
            owner = far["owner"]
            vpcs.append(self.vpc(far["vpc_id"], far["cidrs"], far["assocs"], far["dhcp"], far["name"], owner))
            for subnet_id, base, plen, az, name in far["subnets"]:
                subnets.append(self.subnet(subnet_id, far["vpc_id"], base, plen, az, name,
                                           used=self.rng.randint(8, 400), owner=owner))
            local = self.local_routes(far["cidrs"])
            back = [self.route(c, via_key, via) for c in self.vpc_cidrs]
            if far is self.shared:
                back += [self.route(c, "TransitGatewayId", self.tgw) for c in ON_PREM_AGGREGATES]
            for az in AZS:
                members = [s[0] for s in far["subnets"] if s[3] == az]
                routes = local + [self.route("0.0.0.0/0", "NatGatewayId", far["nat"])] + back
                tables.append(self.route_table(self.ids.ec2("rtb"), far["vpc_id"], f"{far['name']}-{az}", routes, members,
                                               owner=owner))
            tables.append(self.route_table(self.ids.ec2("rtb"), far["vpc_id"], f"{far['name']}-main", list(local), main=True,
                                           owner=owner))
        return vpcs, subnets, tables

    def peering(self) -> dict:
        """The cluster VPC's (requester, this account) peering with payments (accepter, in
        PEER_ACCOUNT), as the requester's `describe-vpc-peering-connections` prints it."""
        def side(vpc_id, cidrs, owner):
            return {
                "CidrBlock": cidrs[0],
                "CidrBlockSet": [{"CidrBlock": c} for c in cidrs],
                "OwnerId": owner,
                "PeeringOptions": {
                    "AllowDnsResolutionFromRemoteVpc": False,
                    "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
                    "AllowEgressFromLocalVpcToRemoteClassicLink": False,
                },
                "VpcId": vpc_id,
                "Region": REGION,
            }

        return {
            "AccepterVpcInfo": side(self.payments["vpc_id"], self.payments["cidrs"], self.payments["owner"]),
            "RequesterVpcInfo": side(self.vpc_id, self.vpc_cidrs, ACCOUNT),
            "Status": {"Code": "active", "Message": "Active"},
            "Tags": tags([("Name", f"{CLUSTER}-to-payments")]),
            "VpcPeeringConnectionId": self.pcx,
        }

    def transit_gateways(self, default_table: str | None = None) -> list[dict]:
        # As `aws ec2 describe-transit-gateways` prints it; referencing off, AWS's default. With
        # default association and propagation enabled, the CLI names the default table.
        options = {
            "AmazonSideAsn": 64512,
            "AutoAcceptSharedAttachments": "disable",
            "DefaultRouteTableAssociation": "enable",
        }
        if default_table:
            options["AssociationDefaultRouteTableId"] = default_table
        options["DefaultRouteTablePropagation"] = "enable"
        if default_table:
            options["PropagationDefaultRouteTableId"] = default_table
        options.update({
            "VpnEcmpSupport": "enable",
            "DnsSupport": "enable",
            "SecurityGroupReferencingSupport": "disable",
            "MulticastSupport": "disable",
        })
        return [{
            "TransitGatewayId": self.tgw,
            "TransitGatewayArn": f"arn:aws:ec2:{REGION}:{self.tgw_owner}:transit-gateway/{self.tgw}",
            "State": "available",
            "OwnerId": self.tgw_owner,
            "Description": "shared network hub",
            "CreationTime": cli_time(T_VPC),
            "Options": options,
            "Tags": tags([("Name", "network-hub")]),
        }]

    def tgw_attachments(self) -> list[dict]:
        """Every VPC attachment of the gateway, as its owner's `describe-transit-gateway-vpc-
        attachments` prints it (a participant sees only those of its own VPCs: `VpcOwnerId`)."""
        def attachment(attachment_id, vpc_id, subnet_ids, created, name, owner=ACCOUNT):
            return {
                "TransitGatewayAttachmentId": attachment_id,
                "TransitGatewayId": self.tgw,
                "VpcId": vpc_id,
                "VpcOwnerId": owner,
                "State": "available",
                "SubnetIds": subnet_ids,
                "CreationTime": cli_time(created),
                "Options": {
                    "DnsSupport": "enable",
                    "SecurityGroupReferencingSupport": "disable",
                    "Ipv6Support": "disable",
                    "ApplianceModeSupport": "disable",
                },
                "Tags": tags([("Name", name)]),
            }

        return [
            attachment(self.tgw_attachment, self.vpc_id, [s[0] for s in self.subnets if s[4] == "tgw"],
                       T_VPC + 3_600, f"{CLUSTER}-vpc"),
            attachment(self.shared_attachment, self.shared["vpc_id"], [s[0] for s in self.shared["subnets"][:3]],
                       T_VPC - 86_400 * 200, "shared-services", self.shared["owner"]),
        ]

    # --- ENIs and instances (built per item, on demand) ----------------------------------------

    def _group(self) -> list[dict]:
        return [{"GroupId": self.cluster_sg, "GroupName": self.cluster_sg_name}]

    def _addresses(self, e: int) -> list[dict]:
        addrs = self.addresses[e]
        return [
            {"Primary": k == 0, "PrivateDnsName": dns(a), "PrivateIpAddress": ip(a)}
            for k, a in enumerate(addrs)
        ]

    def eni(self, e: int, light: bool = False) -> dict:
        node = self.nodes[e // ENIS_PER_NODE]
        d = e % ENIS_PER_NODE
        subnet_id = self.subnets[node.subnet][0]
        primary = self.addresses[e][0]
        item = {
            "Attachment": {
                "AttachTime": cli_time(node.attach_times[d]),
                "AttachmentId": node.attachment_ids[d],
                "DeleteOnTermination": True,
                "DeviceIndex": d,
                "NetworkCardIndex": 0,
                "InstanceId": node.instance_id,
                "InstanceOwnerId": ACCOUNT,
                "Status": "attached",
            },
            "AvailabilityZone": node.az,
            "Description": f"aws-K8S-{node.instance_id}" if d else "",
            "Groups": self._group(),
            "InterfaceType": "interface",
            "Ipv6Addresses": [],
            "MacAddress": node.macs[d],
            "NetworkInterfaceId": node.eni_ids[d],
            "OwnerId": ACCOUNT,
            "PrivateDnsName": dns(primary),
            "PrivateIpAddress": ip(primary),
            "PrivateIpAddresses": [] if light else self._addresses(e),
        }
        if d:
            item["RequesterId"] = f"{node.role_id}:{node.instance_id}"
        item["RequesterManaged"] = False
        item["SourceDestCheck"] = True
        item["Status"] = "in-use"
        item["SubnetId"] = subnet_id
        item["TagSet"] = tags([
            ("node.k8s.amazonaws.com/createdAt", datetime.fromtimestamp(node.attach_times[d] - 2, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("cluster.k8s.amazonaws.com/name", CLUSTER),
            ("node.k8s.amazonaws.com/instance_id", node.instance_id),
        ]) if d else []
        item["VpcId"] = self.vpc_id
        item["Operator"] = {"Managed": False}
        return item

    def reservation(self, i: int, light: bool = False) -> dict:
        node = self.nodes[i]
        ng = self.nodegroups[node.nodegroup]
        subnet_id = self.subnets[node.subnet][0]
        primary = self.addresses[i * ENIS_PER_NODE][0]
        launch = cli_time(node.launch)
        interfaces = []
        for d in range(ENIS_PER_NODE):
            e = i * ENIS_PER_NODE + d
            first = self.addresses[e][0]
            interfaces.append({
                "Attachment": {
                    "AttachTime": cli_time(node.attach_times[d]),
                    "AttachmentId": node.attachment_ids[d],
                    "DeleteOnTermination": True,
                    "DeviceIndex": d,
                    "Status": "attached",
                    "NetworkCardIndex": 0,
                },
                "Description": f"aws-K8S-{node.instance_id}" if d else "",
                "Groups": self._group(),
                "Ipv6Addresses": [],
                "MacAddress": node.macs[d],
                "NetworkInterfaceId": node.eni_ids[d],
                "OwnerId": ACCOUNT,
                "PrivateDnsName": dns(first),
                "PrivateIpAddress": ip(first),
                "PrivateIpAddresses": [] if light else self._addresses(e),
                "SourceDestCheck": True,
                "Status": "in-use",
                "SubnetId": subnet_id,
                "VpcId": self.vpc_id,
                "InterfaceType": "interface",
                "Operator": {"Managed": False},
            })
        instance = {
            "Architecture": "x86_64",
            "BlockDeviceMappings": [{
                "DeviceName": "/dev/xvda",
                "Ebs": {
                    "AttachTime": cli_time(node.launch + 1),
                    "DeleteOnTermination": True,
                    "Status": "attached",
                    "VolumeId": node.volume_id,
                },
            }],
            "ClientToken": node.client_token,
            "EbsOptimized": True,
            "EnaSupport": True,
            "Hypervisor": "xen",
            "IamInstanceProfile": {
                "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{ng['profile']}",
                "Id": ng["profile_id"],
            },
            "NetworkInterfaces": interfaces,
            "RootDeviceName": "/dev/xvda",
            "RootDeviceType": "ebs",
            "SecurityGroups": self._group(),
            "SourceDestCheck": True,
            "Tags": tags([
                ("aws:ec2:fleet-id", ng["fleet"]),
                ("k8s.io/cluster-autoscaler/enabled", "true"),
                ("eks:nodegroup-name", ng["name"]),
                (f"kubernetes.io/cluster/{CLUSTER}", "owned"),
                ("aws:ec2launchtemplate:version", "1"),
                ("aws:autoscaling:groupName", ng["asg"]),
                ("aws:ec2launchtemplate:id", ng["launch_template"]),
                (f"k8s.io/cluster-autoscaler/{CLUSTER}", "owned"),
                ("eks:cluster-name", CLUSTER),
            ]),
            "VirtualizationType": "hvm",
            "CpuOptions": {"CoreCount": CORE_COUNT, "ThreadsPerCore": THREADS_PER_CORE},
            "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
            "HibernationOptions": {"Configured": False},
            "MetadataOptions": {
                "State": "applied",
                "HttpTokens": "required",
                "HttpPutResponseHopLimit": 2,
                "HttpEndpoint": "enabled",
                "HttpProtocolIpv6": "disabled",
                "InstanceMetadataTags": "disabled",
            },
            "EnclaveOptions": {"Enabled": False},
            "BootMode": "uefi-preferred",
            "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances",
            "UsageOperationUpdateTime": launch,
            "PrivateDnsNameOptions": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": False,
                "EnableResourceNameDnsAAAARecord": False,
            },
            "MaintenanceOptions": {"AutoRecovery": "default"},
            "CurrentInstanceBootMode": "uefi",
            "NetworkPerformanceOptions": {"BandwidthWeighting": "default"},
            "Operator": {"Managed": False},
            "InstanceId": node.instance_id,
            "ImageId": self.image_id,
            "State": {"Code": 16, "Name": "running"},
            "PrivateDnsName": dns(primary),
            "PublicDnsName": "",
            "StateTransitionReason": "",
            "AmiLaunchIndex": 0,
            "ProductCodes": [],
            "InstanceType": INSTANCE_TYPE,
            "LaunchTime": launch,
            "Placement": {
                "AvailabilityZoneId": AZ_IDS[node.az],
                "GroupName": "",
                "Tenancy": "default",
                "AvailabilityZone": node.az,
            },
            "Monitoring": {"State": "disabled"},
            "SubnetId": subnet_id,
            "VpcId": self.vpc_id,
            "PrivateIpAddress": ip(primary),
        }
        return {
            "ReservationId": node.reservation_id,
            "OwnerId": ACCOUNT,
            "RequesterId": AUTOSCALING_REQUESTER,
            "Groups": [],
            "Instances": [instance],
        }

    # --- EKS -----------------------------------------------------------------------------------

    def cluster(self) -> dict:
        ids = self.ids
        der = bytes(self.rng.getrandbits(8) for _ in range(1066))
        body = base64.b64encode(der).decode()
        pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(
            body[k:k + 64] for k in range(0, len(body), 64)) + "\n-----END CERTIFICATE-----\n"
        private = [self.subnets[j][0] for j in self.private[:6]]
        return {
            "cluster": {
                "name": CLUSTER,
                "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
                "createdAt": cli_time(T_CLUSTER + 0.417),
                "version": KUBERNETES_VERSION,
                "endpoint": f"https://{ids.upper(32)}.gr7.{REGION}.eks.amazonaws.com",
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{CLUSTER}-cluster-role",
                "resourcesVpcConfig": {
                    "subnetIds": private,
                    "securityGroupIds": [self.control_plane_sg],
                    "clusterSecurityGroupId": self.cluster_sg,
                    "vpcId": self.vpc_id,
                    "endpointPublicAccess": True,
                    "endpointPrivateAccess": True,
                    "publicAccessCidrs": ["0.0.0.0/0"],
                },
                "kubernetesNetworkConfig": {
                    "serviceIpv4Cidr": SERVICE_CIDR,
                    "ipFamily": "ipv4",
                    "elasticLoadBalancing": {"enabled": False},
                },
                "logging": {
                    "clusterLogging": [{
                        "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                        "enabled": False,
                    }]
                },
                "identity": {"oidc": {"issuer": f"https://oidc.eks.{REGION}.amazonaws.com/id/{ids.upper(32)}"}},
                "status": "ACTIVE",
                "certificateAuthority": {"data": base64.b64encode(pem.encode()).decode()},
                "platformVersion": PLATFORM_VERSION,
                "tags": {},
                "health": {"issues": []},
                "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
                "upgradePolicy": {"supportType": "EXTENDED"},
            }
        }

    def addon(self) -> dict:
        return {
            "addon": {
                "addonName": "vpc-cni",
                "clusterName": CLUSTER,
                "status": "ACTIVE",
                "addonVersion": CNI_ADDON_VERSION,
                "health": {"issues": []},
                "addonArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/{CLUSTER}/vpc-cni/{self.ids.uuid()}",
                "createdAt": cli_time(T_CLUSTER + 900.25),
                "modifiedAt": cli_time(T_CLUSTER + 86_400 * 20 + 0.731),
                "serviceAccountRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{CLUSTER}-vpc-cni",
                "tags": {},
                "configurationValues": CNI_CONFIGURATION,
            }
        }

    # --- the filters: security groups, network ACLs, and the far side's ENIs --------------------
    # Drawn after everything else, so adding them changed no other object of a seed.

    @staticmethod
    def permission(protocol, ports=None, cidrs=(), groups=()) -> dict:
        p = {"IpProtocol": protocol}
        if ports:
            p["FromPort"], p["ToPort"] = ports
        p["IpRanges"] = [{"CidrIp": c} for c in cidrs]
        p["Ipv6Ranges"] = []
        p["PrefixListIds"] = []
        p["UserIdGroupPairs"] = [{"GroupId": g, "UserId": ACCOUNT} for g in groups]
        return p

    def security_group(self, group_id, name, vpc_id, inbound, owner=ACCOUNT) -> dict:
        return {
            "Description": name,
            "GroupName": name,
            "IpPermissions": inbound,
            "OwnerId": owner,
            "GroupId": group_id,
            "IpPermissionsEgress": [self.permission("-1", cidrs=["0.0.0.0/0"])],
            "Tags": tags([("Name", name)]),
            "VpcId": vpc_id,
        }

    def filters(self, far_subnets) -> tuple[list, list, list]:
        """The groups of both sides, each VPC's default network ACL (everything allowed, as
        EKS VPCs usually keep it), and a few ENIs in every far subnet: the payments databases
        (tcp/5432 from the cluster VPC) and the shared services (tcp/443 from 10.0.0.0/8)."""
        ids = self.ids
        db_sg, shared_sg = ids.ec2("sg"), ids.ec2("sg")
        far_cidrs = list(self.payments["cidrs"]) + list(self.shared["cidrs"])
        groups = [
            self.security_group(self.cluster_sg, self.cluster_sg_name, self.vpc_id, [
                self.permission("-1", groups=[self.cluster_sg]),
                self.permission("-1", cidrs=far_cidrs),
                # The corporate networks reach the cluster's services on 443 only.
                self.permission("tcp", (443, 443), cidrs=["10.0.0.0/8", "192.168.0.0/16"]),
            ]),
            self.security_group(self.control_plane_sg, f"eks-control-plane-{CLUSTER}", self.vpc_id, [
                self.permission("tcp", (443, 443), groups=[self.cluster_sg]),
            ]),
            self.security_group(db_sg, "payments-db", self.payments["vpc_id"], [
                self.permission("tcp", (5432, 5432), cidrs=self.vpc_cidrs),
            ], self.payments["owner"]),
            self.security_group(shared_sg, "shared-services", self.shared["vpc_id"], [
                self.permission("tcp", (443, 443), cidrs=["10.0.0.0/8"]),
            ], self.shared["owner"]),
        ]

        def acl(vpc_id, subnet_ids, owner=ACCOUNT):
            acl_id = ids.ec2("acl")
            entries = [
                {"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": action,
                 "RuleNumber": number}
                for egress in (True, False)
                for number, action in ((100, "allow"), (32767, "deny"))
            ]
            return {
                "Associations": [
                    {"NetworkAclAssociationId": ids.ec2("aclassoc"), "NetworkAclId": acl_id, "SubnetId": s}
                    for s in subnet_ids
                ],
                "Entries": entries,
                "IsDefault": True,
                "NetworkAclId": acl_id,
                "Tags": [],
                "VpcId": vpc_id,
                "OwnerId": owner,
            }

        acls = [acl(self.vpc_id, [s[0] for s in self.subnets])]
        for far in (self.payments, self.shared):
            acls.append(acl(far["vpc_id"], [s[0] for s in far["subnets"]], far["owner"]))
        enis = []
        for far, group, count in ((self.payments, (db_sg, "payments-db"), 2), (self.shared, (shared_sg, "shared-services"), 1)):
            for subnet_id, base, plen, az, _ in far["subnets"]:
                for k in range(count):
                    address = ip(base + 10 + k)
                    enis.append({
                        "AvailabilityZone": az,
                        "Description": f"{far['name']} endpoint",
                        "Groups": [{"GroupId": group[0], "GroupName": group[1]}],
                        "InterfaceType": "interface",
                        "Ipv6Addresses": [],
                        "MacAddress": self.ids.mac(),
                        "NetworkInterfaceId": ids.ec2("eni"),
                        "OwnerId": far["owner"],
                        "PrivateDnsName": dns(base + 10 + k),
                        "PrivateIpAddress": address,
                        "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": dns(base + 10 + k),
                                                "PrivateIpAddress": address}],
                        "RequesterManaged": False,
                        "SourceDestCheck": True,
                        "Status": "in-use",
                        "SubnetId": subnet_id,
                        "TagSet": [],
                        "VpcId": far["vpc_id"],
                    })
        return groups, acls, enis

    # --- the transit gateway's route tables -------------------------------------------------------
    # Drawn after everything else (files() draws them last), so adding them changed no other
    # object of a seed.

    def _tgw_spoke_prefixes(self, count: int) -> list[tuple[int, int]]:
        """`count` CIDRs of other spoke VPCs: one /20-/24 in each of `count` distinct /20 slots of
        TGW_SPOKE_BLOCKS, taking no slot that overlaps a CIDR of the rest of the scenario."""
        rng = self.rng
        taken = [parse_cidr(c) for c in (*self.vpc_cidrs, SERVICE_CIDR, *PAYMENTS_BLOCKS, *SHARED_BLOCKS,
                                         *ON_PREM_AGGREGATES)]
        taken += [parse_cidr(dest) for dest, _ in self.private_routes]
        spans = [(base, base + (1 << (32 - plen))) for base, plen in taken]
        size = 1 << (32 - TGW_SPOKE_SLOT)
        slots = []
        for block in TGW_SPOKE_BLOCKS:
            base, plen = parse_cidr(block)
            for k in range(1 << (TGW_SPOKE_SLOT - plen)):
                start = base + k * size
                if not any(start < end and begin < start + size for begin, end in spans):
                    slots.append(start)
        if count > len(slots):
            raise ValueError(f"{count} spoke CIDRs do not fit in {TGW_SPOKE_BLOCKS}")
        out = []
        for start in rng.sample(slots, count):
            length = rng.choice(TGW_SPOKE_LENGTHS)
            out.append((start + (rng.randrange(1 << (length - TGW_SPOKE_SLOT)) << (32 - length)), length))
        return out

    def tgw_route_tables(self) -> tuple[str, dict[str, object]]:
        """The transit gateway's 5 route tables and TGW_ROUTES routes, as the AWS CLI prints them:
        (the default association/propagation table's id, {path: object}) for
        `describe-transit-gateway-route-tables` and each table's associations, propagations and
        routes (the whole table). See the module docstring for the layout."""
        ids, rng = self.ids, self.rng
        n = len(self.vpc_cidrs)
        # The routes that decide the cluster's paths: spokes (shared-services, on premises, the
        # cluster), shared (the cluster, on premises) and vpn (the cluster, shared-services).
        relevant = (len(SHARED_BLOCKS) + len(ON_PREM_AGGREGATES) + n) + (n + len(ON_PREM_AGGREGATES)) \
            + (n + len(SHARED_BLOCKS))
        # The rest: each prod spoke CIDR is in 4 tables (spokes, shared, vpn, inspection), each dev
        # one in 3 (shared, inspection, dev), and dev's static routes make up the remainder.
        rest = TGW_ROUTES - relevant - len(TGW_SPOKE_BLOCKS) - TGW_DEV_EXCEPTIONS
        n_dev = rest // 12
        extra = (rest - 3 * n_dev) % 4
        n_prod = (rest - 3 * n_dev - extra) // 4
        if n_prod < TGW_DEV_EXCEPTIONS + extra or n_dev < 1:
            raise ValueError(f"{TGW_ROUTES} transit gateway routes are too few for {n} VPC CIDRs")

        names = ("spokes", "shared", "vpn", "inspection", "dev")
        table_ids = {name: ids.ec2("tgw-rtb") for name in names}
        # Attachments: (attachment id, resource id, resource type).
        cluster = (self.tgw_attachment, self.vpc_id, "vpc")
        shared = (self.shared_attachment, self.shared["vpc_id"], "vpc")
        vpn = (ids.ec2("tgw-attach"), ids.ec2("vpn"), "vpn")
        inspection = (ids.ec2("tgw-attach"), ids.ec2("vpc"), "vpc")
        prefixes = [cidr(base, plen) for base, plen in self._tgw_spoke_prefixes(n_prod + n_dev)]

        def spoke_vpcs(cidrs) -> list[tuple[tuple, list[str]]]:
            """Spoke VPCs of one CIDR, or two (a quarter of them): [(attachment, CIDRs)]."""
            out, k = [], 0
            while k < len(cidrs):
                take = 2 if rng.random() < 0.25 else 1
                out.append(((ids.ec2("tgw-attach"), ids.ec2("vpc"), "vpc"), cidrs[k:k + take]))
                k += take
            return out

        prod = spoke_vpcs(prefixes[:n_prod])
        dev = spoke_vpcs(prefixes[n_prod:])
        exceptions = [rng.choice(prefixes[n_prod:])] + rng.sample(prefixes[:n_prod], TGW_DEV_EXCEPTIONS + extra - 1)

        def route(destination, attachment=None, kind="propagated", state="active") -> dict:
            r = {"DestinationCidrBlock": destination}
            if attachment is not None:
                r["TransitGatewayAttachments"] = [{
                    "ResourceId": attachment[1],
                    "TransitGatewayAttachmentId": attachment[0],
                    "ResourceType": attachment[2],
                }]
            r["Type"] = kind
            r["State"] = state
            return r

        def link(attachment, state) -> dict:
            return {
                "TransitGatewayAttachmentId": attachment[0],
                "ResourceId": attachment[1],
                "ResourceType": attachment[2],
                "State": state,
            }

        # name: (associated attachments, propagated (attachment, CIDRs), static routes)
        layout = {
            "spokes": ([cluster] + [a for a, _ in prod],
                       [(shared, SHARED_BLOCKS), (vpn, ON_PREM_AGGREGATES), (cluster, self.vpc_cidrs), *prod], []),
            "shared": ([shared], [(cluster, self.vpc_cidrs), (vpn, ON_PREM_AGGREGATES), *prod, *dev], []),
            "vpn": ([vpn], [(cluster, self.vpc_cidrs), (shared, SHARED_BLOCKS), *prod], []),
            "inspection": ([inspection], [*prod, *dev], []),
            "dev": ([a for a, _ in dev], dev,
                    [route(b, kind="static", state="blackhole") for b in TGW_SPOKE_BLOCKS]
                    + [route(c, inspection, "static") for c in exceptions]),
        }
        default = table_ids["dev"]
        described, files, total = [], {}, 0
        for k, name in enumerate(names):
            table_id = table_ids[name]
            associated, propagated, static = layout[name]
            described.append({
                "TransitGatewayRouteTableId": table_id,
                "TransitGatewayId": self.tgw,
                "State": "available",
                "DefaultAssociationRouteTable": table_id == default,
                "DefaultPropagationRouteTable": table_id == default,
                "CreationTime": cli_time(T_VPC - 86_400 * 210 + 600 * k),
                "Tags": tags([("Name", f"network-hub-{name}")]),
            })
            routes = [route(c, a) for a, cidrs in propagated for c in cidrs] + static
            routes.sort(key=lambda r: (parse_cidr(r["DestinationCidrBlock"]), r["Type"] != "static"))
            total += len(routes)
            base = f"ec2/transit-gateway-route-tables/{table_id}"
            files[f"{base}.associations.json"] = {"Associations": [link(a, "associated") for a in associated]}
            files[f"{base}.propagations.json"] = {
                "TransitGatewayRouteTablePropagations": [link(a, "enabled") for a, _ in propagated],
            }
            files[f"{base}.routes.json"] = {"Routes": routes, "AdditionalRoutesAvailable": False}
        if total != TGW_ROUTES:
            raise RuntimeError(f"planned {total} transit gateway routes, not {TGW_ROUTES}")
        # No filler route (a spoke's, or dev's statics) may touch what the cluster routes to the
        # gateway, nor the cluster VPC's CIDRs: the cluster's verdicts must not change.
        guarded = [parse_cidr(c) for c in self.vpc_cidrs]
        guarded += [parse_cidr(dest) for dest, via in self.private_routes if via == "tgw"]
        guarded = [(b, b + (1 << (32 - p))) for b, p in guarded]
        filler = list(TGW_SPOKE_BLOCKS) + prefixes
        for c in filler:
            b, p = parse_cidr(c)
            if any(b < end and begin < b + (1 << (32 - p)) for begin, end in guarded):
                raise RuntimeError(f"the spoke route {c} overlaps a cluster destination or VPC CIDR")
        return default, {"ec2/transit-gateway-route-tables.json": {"TransitGatewayRouteTables": described}, **files}

    # --- the snapshot ----------------------------------------------------------------------------

    def files(self) -> dict[str, object]:
        far_vpcs, far_subnets, far_tables = self.far_objects()
        groups, acls, far_enis = self.filters(far_subnets)
        cluster_vpc = self.vpc(self.vpc_id, self.vpc_cidrs, self.vpc_cidr_assocs, self.dhcp_options, f"{CLUSTER}-vpc")
        n_enis = self.nodes_count * ENIS_PER_NODE
        # Each account's objects in its own files: this account's where they always were, another
        # account's (payments, PEER_ACCOUNT) under `ec2/accounts/<account>/` (account_file).
        mine = lambda items: [o for o in items if o["OwnerId"] == ACCOUNT]  # noqa: E731
        others = {}
        for name, key, items in (
            ("vpcs", "Vpcs", far_vpcs), ("subnets", "Subnets", far_subnets), ("route-tables", "RouteTables", far_tables),
            ("security-groups", "SecurityGroups", groups), ("network-acls", "NetworkAcls", acls),
            ("network-interfaces", "NetworkInterfaces", far_enis),
        ):
            for o in items:
                if o["OwnerId"] != ACCOUNT:
                    others.setdefault(account_file(o["OwnerId"], name), {key: []})[key].append(o)
        files = {
            "ec2/security-groups.json": {"SecurityGroups": mine(groups)},
            "ec2/network-acls.json": {"NetworkAcls": mine(acls)},
            "ec2/peer-network-interfaces.json": {"NetworkInterfaces": mine(far_enis)},
            "ec2/vpcs.json": {"Vpcs": [cluster_vpc]},
            "ec2/subnets.json": {"Subnets": self.cluster_subnets()},
            "ec2/route-tables.json": {"RouteTables": self.cluster_route_tables()},
            "ec2/network-interfaces.json": {
                "NetworkInterfaces": LazyList(n_enis, self.eni, lambda e: self.eni(e, light=True)),
            },
            "ec2/instances.json": {
                "Reservations": LazyList(self.nodes_count, self.reservation, lambda i: self.reservation(i, light=True)),
            },
            "ec2/vpc-peering-connections.json": {"VpcPeeringConnections": [self.peering()]},
            "ec2/transit-gateway-vpc-attachments.json": {"TransitGatewayVpcAttachments": self.tgw_attachments()},
            "ec2/transit-gateways.json": {"TransitGateways": self.transit_gateways()},
            "ec2/peer-vpcs.json": {"Vpcs": mine(far_vpcs)},
            "ec2/peer-subnets.json": {"Subnets": mine(far_subnets)},
            "ec2/peer-route-tables.json": {"RouteTables": mine(far_tables)},
            **others,
            f"{CLUSTER}/cluster.json": self.cluster(),
            f"{CLUSTER}/addon.json": self.addon(),
        }
        # Drawn last; written after describe-transit-gateways, which names the default table.
        default_table, tgw_tables = self.tgw_route_tables()
        gateways = {"TransitGateways": self.transit_gateways(default_table)}
        out = {}
        for path, obj in files.items():
            out[path] = obj
            if path == "ec2/transit-gateways.json":
                out[path] = gateways
                if self.tgw_account is None:
                    out.update(tgw_tables)
        if self.tgw_account is not None:
            # The gateway is the TGW account's (shared through RAM): this account sees it in
            # describe-transit-gateways (OwnerId the owner) and the attachments of its own VPCs
            # only; the owner sees the gateway, every attachment and the route tables.
            attachments = files["ec2/transit-gateway-vpc-attachments.json"]["TransitGatewayVpcAttachments"]
            out["ec2/transit-gateway-vpc-attachments.json"] = {
                "TransitGatewayVpcAttachments": [a for a in attachments if a["VpcOwnerId"] == ACCOUNT],
            }
            owner = f"{ACCOUNTS_DIR}/{self.tgw_account}"
            out[f"{owner}/transit-gateways.json"] = gateways
            out[f"{owner}/transit-gateway-vpc-attachments.json"] = {"TransitGatewayVpcAttachments": attachments}
            out.update((f"{owner}/{path.removeprefix('ec2/')}", obj) for path, obj in tgw_tables.items())
        return out


def account_file(account: str, name: str) -> str:
    """The file of another account's `describe-<name>` output (`name` a key of ACCOUNT_FILES, or
    with --tgw-account the TGW files' names: `transit-gateways`, `transit-gateway-vpc-attachments`,
    `transit-gateway-route-tables`, `transit-gateway-route-tables/<tgw-rtb-id>.routes`, ...)."""
    return f"{ACCOUNTS_DIR}/{account}/{name}.json"


def account_of(path: str) -> str:
    """The account whose objects the file at `path` holds: the `<account>` of an
    `ec2/accounts/<account>/…` file, else ACCOUNT (every other file of the snapshot)."""
    prefix = ACCOUNTS_DIR + "/"
    if path.startswith(prefix):
        return path[len(prefix):].split("/", 1)[0]
    return ACCOUNT


def pick_prefixes(rng: random.Random, blocks, lengths, count: int, used: list) -> list[tuple[int, int]]:
    """`count` random prefixes of the given lengths inside `blocks`, overlapping neither each
    other nor the (start, end) ranges in `used` (which is extended)."""
    out = []
    tries = 0
    while len(out) < count:
        base, plen = rng.choice(blocks)
        length = rng.choice(lengths)
        if length < plen:
            continue
        start = base + (rng.randrange(1 << (length - plen)) << (32 - length))
        end = start + (1 << (32 - length))
        if any(start < u_end and u_start < end for u_start, u_end in used):
            tries += 1
            if tries > 200_000:
                raise RuntimeError("could not place the requested routes; use fewer --routes")
            continue
        used.append((start, end))
        out.append((start, length))
    return out


def generate(nodes: int, routes: int = 100, seed: int = 1, tgw_account: str | None = None) -> dict[str, object]:
    """{relative path: the object AWS CLI v2 prints} for the scenario; see the module docstring
    (`tgw_account`: --tgw-account)."""
    return Scenario(nodes, routes, seed, tgw_account).files()


# ---------------------------------------------------------------------------------------------
# Writing: json.dumps(obj, indent=4, ensure_ascii=False) + "\n", streamed


_encode_string = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False


class _Writer:
    """Pretty-prints exactly like json.dumps(indent=4, ensure_ascii=False), flushing to the file
    after each item of the top-level arrays so memory stays flat whatever the size."""

    FLUSH_AT = 1 << 16

    def __init__(self, stream):
        self.stream = stream
        self.out: list[str] = []

    def flush(self):
        self.stream.write("".join(self.out))
        self.out.clear()

    def dump(self, o, level: int = 0):
        out = self.out
        if isinstance(o, str):
            out.append(_encode_string(o))
        elif isinstance(o, dict):
            if not o:
                out.append("{}")
                return
            ind = "\n" + "    " * (level + 1)
            sep = "{" + ind
            for k, v in o.items():
                out.append(sep)
                out.append(_encode_string(k))
                out.append(": ")
                self.dump(v, level + 1)
                sep = "," + ind
            out.append("\n" + "    " * level + "}")
        elif isinstance(o, (list, LazyList)):
            if not len(o):
                out.append("[]")
                return
            ind = "\n" + "    " * (level + 1)
            sep = "[" + ind
            for v in o:
                out.append(sep)
                self.dump(v, level + 1)
                sep = "," + ind
                if level < 2 and len(out) > self.FLUSH_AT:
                    self.flush()
            out.append("\n" + "    " * level + "]")
        elif o is True:
            out.append("true")
        elif o is False:
            out.append("false")
        elif o is None:
            out.append("null")
        elif isinstance(o, int):
            out.append(int.__repr__(o))
        else:
            out.append(json.dumps(o))


def dump_to(stream, obj):
    """Writes `obj` as AWS CLI v2 prints it (with the final newline)."""
    writer = _Writer(stream)
    writer.dump(obj)
    writer.out.append("\n")
    writer.flush()


def write_snapshot(files: dict[str, object], out_dir: str) -> dict[str, int]:
    """Writes every file under `out_dir`; returns {path: bytes written}."""
    sizes = {}
    for path, obj in files.items():
        target = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            dump_to(f, obj)
        sizes[path] = os.path.getsize(target)
    return sizes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, required=True, help="nodes of cluster `big`")
    parser.add_argument("--routes", type=int, default=100,
                        help="private routes per private route table (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", required=True, help="snapshot directory to write")
    parser.add_argument("--tgw-account", metavar="ACCOUNT",
                        help="the account that owns the transit gateway (shared through RAM) and shared-services; "
                             "default: the cluster's account")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        files = generate(args.nodes, args.routes, args.seed, args.tgw_account)
    except ValueError as e:
        parser.error(str(e))
    planned = time.monotonic()
    sizes = write_snapshot(files, args.out)
    done = time.monotonic()
    total = sum(sizes.values())
    for path, size in sizes.items():
        print(f"{size:>13,}  {path}", file=sys.stderr)
    print(
        f"{total:>13,}  total: {args.nodes} nodes, {args.nodes * ENIS_PER_NODE} ENIs, "
        f"{args.nodes * ENIS_PER_NODE * ADDRESSES_PER_ENI} addresses, {total / args.nodes / 1000:.1f} kB/node; "
        f"planned in {planned - started:.1f} s, written in {done - planned:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
