#!/usr/bin/env python3
"""A deterministic fake EC2 + EKS (+ SNS Publish) endpoint on 127.0.0.1 for large-cluster tests.

Why it exists: the benchmarks of the live collection and the peak-memory test of the Lambda
bootstrap binaries need an AWS endpoint holding a 1,000-5,000-node cluster. moto is too slow at
that size and does not paginate these calls with the real page sizes. This server answers with
the scenario of `tests/scale/generate.py` (same --nodes/--routes/--seed, same objects), spoken
over the real wire protocols, so the unmodified AWS SDK for Rust collects it: set
AWS_ENDPOINT_URL=http://127.0.0.1:PORT, AWS_REGION=eu-west-1 and any static credentials.

What it speaks:
- EC2, Query protocol (POST /, form-encoded `Action=...&Version=2016-11-15`): DescribeVpcs,
  DescribeSubnets, DescribeRouteTables, DescribeNetworkInterfaces, DescribeInstances,
  DescribeVpcPeeringConnections, DescribeTransitGatewayVpcAttachments, DescribeTransitGateways,
  DescribeSecurityGroups,
  DescribeNetworkAcls, answered in EC2's XML
  (`<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`, lists as `<item>`,
  element names from the EC2 model: `networkInterfaceSet`, `privateIpAddressesSet`, `groupSet`,
  `instanceState`, ...). `Filter.N.Name`/`Filter.N.Value.M` filters (AND across filters, OR
  across values, `*`/`?` wildcards) and the id parameters (`VpcId.N`, ...; an unknown id is the
  usual `Invalid...ID.NotFound`). `MaxResults`/`NextToken` pagination with EC2's page limits:
  MaxResults is honoured and capped at 1,000 (100 for route tables); without MaxResults every
  match comes in one page, as EC2 does. Other actions get EC2's `InvalidAction` error (HTTP 400).
- EC2's transit gateway route tables, likewise: DescribeTransitGatewayRouteTables
  (`transitGatewayRouteTables`; `TransitGatewayRouteTableIds.N`, filters `transit-gateway-id`,
  `transit-gateway-route-table-id`, `default-association-route-table`,
  `default-propagation-route-table`, `state`, tags), and for one table
  (`TransitGatewayRouteTableId`, required; unknown is `InvalidTransitGatewayRouteTableID.NotFound`)
  GetTransitGatewayRouteTableAssociations (`associations`), GetTransitGatewayRouteTablePropagations
  (`transitGatewayRouteTablePropagations`; both filter `resource-id`, `resource-type`,
  `transit-gateway-attachment-id`) and SearchTransitGatewayRoutes (`routeSet`,
  `additionalRoutesAvailable`; filters `route-search.exact-match`, `...longest-prefix-match`,
  `...subnet-of-match`, `...supernet-of-match`, `state`, `type`, `prefix-list-id`,
  `attachment.transit-gateway-attachment-id`, `attachment.resource-id`,
  `attachment.resource-type`; 1,000 routes a page by default). Their MaxResults must be 5-1,000,
  as the model says; `nextToken` pages them all.
- EKS, REST-JSON: GET /clusters (maxResults/nextToken), GET /clusters/{name},
  GET /clusters/{name}/addons/{addon}; unknown names are 404 ResourceNotFoundException.
- SNS Publish (POST / form, `Action=Publish&Version=2010-03-31`): a PublishResponse with a
  MessageId; messages are counted and the count is printed to stderr on exit.
- Throttling storms (`--throttle PERCENT`): that share of EC2 requests, spread evenly over the
  sequence of requests (never two in a row), is answered 503 `RequestLimitExceeded` as EC2 does
  when an account's request rate is exceeded; counted as `(throttled)` in the stats.
- STS, Query protocol (POST / form, `Version=2011-06-15`, or signed for the service `sts`):
  AssumeRole and GetCallerIdentity, in STS's XML. AssumeRole of
  `arn:aws:iam::<account>:role/<name>` answers credentials whose access key id is `ASIA` +
  the account + 4 characters (`ASIA2222333344441A2B`), with a session token bound to it; it is
  refused (HTTP 403, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>...`) for
  a role name not in --allow-role (default `podreach-member`), an account with no data, or an
  ExternalId other than --external-id (when given). A malformed RoleArn or RoleSessionName is
  a ValidationError (400). The session lasts DurationSeconds (1 hour by default), at most
  --session-seconds: an EC2 request with the key after that is `RequestExpired`.

Accounts: the scenario's objects belong to generate.ACCOUNT, except another account's files
(`ec2/accounts/<account>/…`, generate.account_file: the peered `payments` VPC of
generate.PEER_ACCOUNT; with --tgw-account, the transit gateway's owner: its gateway, every VPC
attachment, its 5 route tables with their associations, propagations and routes, and
shared-services, while the main account's DescribeTransitGateways shows the shared gateway with
that OwnerId, its DescribeTransitGatewayVpcAttachments only the cluster's attachment, and it has
no transit gateway route table, as for a RAM participant). Each request is served from the data of the account its SigV4
credential (the access key id in the Authorization header's `Credential=`) maps to: an assumed
key (above) sees only its account's objects, and needs its session token (else EC2's
`AuthFailure`, 401, or STS's `InvalidClientTokenId`); any other key, static (`AKIA...`) or
unknown, or none, is the main account's, which sees only the main account's objects.

Lifecycle: `--ready-file` receives the port once the socket listens (`--port 0` picks a free
one). The server exits on SIGTERM/SIGINT and by itself when its parent process dies, and then
writes the number of requests per action to `--stats-file` (JSON, {action: requests}, every
account together) and per account to `--account-stats-file` ({account: {action: requests}}; an
AssumeRole is the calling account's) if given. Rendering is the slow
part (about 0.5 s per page of 1,000 ENIs, 2 s per page of 1,000 instances on 2 cores):
`--cache-responses` keeps each EC2 page once rendered, for benchmarks that collect repeatedly.

Usage:
    python3 tests/scale/fake_aws.py --nodes 1000 [--routes 100] [--seed 1] [--tgw-account ACCOUNT] --port 0 \\
        --ready-file /tmp/port [--stats-file /tmp/stats.json] [--account-stats-file /tmp/accounts.json] \\
        [--allow-role podreach-member] [--external-id ID] [--session-seconds N] [--cache-responses]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter, OrderedDict
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

sys.dont_write_bytecode = True  # no __pycache__ left in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402  (the scenario; same directory)

# The transit gateway route tables' files (generate.py, podreach's layout).
TGW_ROUTE_TABLES_FILE = "ec2/transit-gateway-route-tables.json"
TGW_TABLE_DIR = "ec2/transit-gateway-route-tables"
TGW_ROUTE_TABLE_NOT_FOUND = "InvalidTransitGatewayRouteTableID.NotFound"

EC2_VERSION = "2016-11-15"
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
SNS_VERSION = "2010-03-31"
SNS_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
STS_VERSION = "2011-06-15"
STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
# The role names AssumeRole grants by default (--allow-role): the member role the benchmark
# passes to podreach (--member-role, MEMBER_ROLE_NAME).
DEFAULT_ALLOWED_ROLES = ("podreach-member",)

# ---------------------------------------------------------------------------------------------
# EC2 XML: AWS CLI key -> EC2 element name. The default is the key with a lower-case first
# letter (VpcId -> vpcId); these are the exceptions in the EC2 model (locationName / ec2Name).

XML_NAMES = {
    "Vpcs": "vpcSet",
    "Subnets": "subnetSet",
    "RouteTables": "routeTableSet",
    "Routes": "routeSet",
    "Associations": "associationSet",
    "PropagatingVgws": "propagatingVgwSet",
    "NetworkInterfaces": "networkInterfaceSet",
    "PrivateIpAddresses": "privateIpAddressesSet",
    "Groups": "groupSet",
    "SecurityGroups": "groupSet",
    "Tags": "tagSet",
    "TagSet": "tagSet",
    "Ipv6Addresses": "ipv6AddressesSet",
    "Ipv4Prefixes": "ipv4PrefixSet",
    "Ipv6Prefixes": "ipv6PrefixSet",
    "Reservations": "reservationSet",
    "Instances": "instancesSet",
    "BlockDeviceMappings": "blockDeviceMapping",
    "ProductCodeId": "productCode",
    "ProductCodeType": "type",
    "Licenses": "licenseSet",
    "VpcPeeringConnections": "vpcPeeringConnectionSet",
    "NetworkAcls": "networkAclSet",
    "TransitGateways": "transitGatewaySet",
}
# Members of Instance whose element names differ from other shapes' members of the same name.
INSTANCE_XML_NAMES = {
    **XML_NAMES,
    "State": "instanceState",
    "PublicDnsName": "dnsName",
    "StateTransitionReason": "reason",
    "PublicIpAddress": "ipAddress",
}
# Security group rules name their referenced groups `groups`; a group's description is
# `groupDescription`; a network ACL's IsDefault is `default` and its entries `entrySet`.
PERMISSION_XML_NAMES = {**XML_NAMES, "UserIdGroupPairs": "groups"}
SECURITY_GROUP_XML_NAMES = {**XML_NAMES, "Description": "groupDescription"}
NETWORK_ACL_XML_NAMES = {**XML_NAMES, "IsDefault": "default", "Entries": "entrySet"}
# GetTransitGatewayRouteTableAssociations names its list `associations`, not `associationSet`.
TGW_LINK_XML_NAMES = {**XML_NAMES, "Associations": "associations"}
# Items of these lists are rendered with these names (the list's own member shape).
ITEM_NAMES = {
    "Instances": INSTANCE_XML_NAMES,
    "SecurityGroupInfo": SECURITY_GROUP_XML_NAMES,
    "IpPermissions": PERMISSION_XML_NAMES,
    "IpPermissionsEgress": PERMISSION_XML_NAMES,
    "NetworkAcls": NETWORK_ACL_XML_NAMES,
}
# CLI keys holding timestamps (printed by CLI v2 as 2025-03-03T08:00:00+00:00).
TIMESTAMP_KEYS = frozenset({"AttachTime", "LaunchTime", "UsageOperationUpdateTime", "CreationTime",
                            "ExpirationTime", "createdAt", "modifiedAt"})


def lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def ec2_time(value: str) -> str:
    """2025-03-03T08:00:00+00:00 -> 2025-03-03T08:00:00.000Z (EC2's wire format)."""
    t = datetime.fromisoformat(value)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def render(key: str, value, out: list, names: dict) -> None:
    """Appends `value` (AWS CLI shape) as the EC2 element for `key`."""
    tag = names.get(key) or lower_first(key)
    if isinstance(value, dict):
        out.append(f"<{tag}>")
        for k, v in value.items():
            render(k, v, out, XML_NAMES)
        out.append(f"</{tag}>")
    elif isinstance(value, list):
        if not value:
            out.append(f"<{tag}/>")
            return
        out.append(f"<{tag}>")
        item_names = ITEM_NAMES.get(key, XML_NAMES)
        for item in value:
            if isinstance(item, dict):
                out.append("<item>")
                for k, v in item.items():
                    render(k, v, out, item_names)
                out.append("</item>")
            else:
                out.append(f"<item>{escape(str(item))}</item>")
        out.append(f"</{tag}>")
    elif value is True:
        out.append(f"<{tag}>true</{tag}>")
    elif value is False:
        out.append(f"<{tag}>false</{tag}>")
    elif value is None:
        pass
    elif isinstance(value, str):
        if key in TIMESTAMP_KEYS:
            value = ec2_time(value)
        out.append(f"<{tag}>{escape(value)}</{tag}>" if value else f"<{tag}/>")
    else:
        out.append(f"<{tag}>{value}</{tag}>")


# ---------------------------------------------------------------------------------------------
# EC2 collections, filters and pagination


def tag_values(item: dict, key: str):
    tags = item.get("Tags", item.get("TagSet", []))
    return [t["Value"] for t in tags if t["Key"] == key]


def dig(*path):
    """A filter value getter: item[path[0]][path[1]]..., as a string list ([] when absent)."""

    def get(item):
        value = item
        for p in path:
            if not isinstance(value, dict) or p not in value:
                return []
            value = value[p]
        return [as_filter_value(value)]

    return get


def each(list_key, *path):
    """A getter for a field of every item of a list member (e.g. every route's gateway)."""
    inner = dig(*path)

    def get(item):
        return [v for element in item.get(list_key, []) for v in inner(element)]

    return get


def as_filter_value(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def inst(*path):
    get = dig(*path)
    return lambda r: [v for i in r["Instances"] for v in get(i)]


VPC_FILTERS = {
    "vpc-id": dig("VpcId"),
    "cidr": dig("CidrBlock"),
    "cidr-block-association.cidr-block": each("CidrBlockAssociationSet", "CidrBlock"),
    "cidr-block-association.association-id": each("CidrBlockAssociationSet", "AssociationId"),
    "cidr-block-association.state": each("CidrBlockAssociationSet", "CidrBlockState", "State"),
    "dhcp-options-id": dig("DhcpOptionsId"),
    "is-default": dig("IsDefault"),
    "owner-id": dig("OwnerId"),
    "state": dig("State"),
}
SUBNET_FILTERS = {
    "vpc-id": dig("VpcId"),
    "subnet-id": dig("SubnetId"),
    "subnet-arn": dig("SubnetArn"),
    "availability-zone": dig("AvailabilityZone"),
    "availability-zone-id": dig("AvailabilityZoneId"),
    "cidr-block": dig("CidrBlock"),
    "cidr": dig("CidrBlock"),
    "cidrBlock": dig("CidrBlock"),
    "default-for-az": dig("DefaultForAz"),
    "map-public-ip-on-launch": dig("MapPublicIpOnLaunch"),
    "owner-id": dig("OwnerId"),
    "state": dig("State"),
}
ROUTE_TABLE_FILTERS = {
    "vpc-id": dig("VpcId"),
    "route-table-id": dig("RouteTableId"),
    "owner-id": dig("OwnerId"),
    "association.main": each("Associations", "Main"),
    "association.subnet-id": each("Associations", "SubnetId"),
    "association.route-table-association-id": each("Associations", "RouteTableAssociationId"),
    "association.route-table-id": each("Associations", "RouteTableId"),
    "route.destination-cidr-block": each("Routes", "DestinationCidrBlock"),
    "route.destination-prefix-list-id": each("Routes", "DestinationPrefixListId"),
    "route.gateway-id": each("Routes", "GatewayId"),
    "route.nat-gateway-id": each("Routes", "NatGatewayId"),
    "route.transit-gateway-id": each("Routes", "TransitGatewayId"),
    "route.vpc-peering-connection-id": each("Routes", "VpcPeeringConnectionId"),
    "route.origin": each("Routes", "Origin"),
    "route.state": each("Routes", "State"),
}
ENI_FILTERS = {
    "vpc-id": dig("VpcId"),
    "subnet-id": dig("SubnetId"),
    "network-interface-id": dig("NetworkInterfaceId"),
    "availability-zone": dig("AvailabilityZone"),
    "attachment.attachment-id": dig("Attachment", "AttachmentId"),
    "attachment.instance-id": dig("Attachment", "InstanceId"),
    "attachment.instance-owner-id": dig("Attachment", "InstanceOwnerId"),
    "attachment.device-index": dig("Attachment", "DeviceIndex"),
    "attachment.status": dig("Attachment", "Status"),
    "attachment.delete-on-termination": dig("Attachment", "DeleteOnTermination"),
    "description": dig("Description"),
    "group-id": each("Groups", "GroupId"),
    "group-name": each("Groups", "GroupName"),
    "interface-type": dig("InterfaceType"),
    "mac-address": dig("MacAddress"),
    "owner-id": dig("OwnerId"),
    "private-dns-name": dig("PrivateDnsName"),
    "requester-id": dig("RequesterId"),
    "requester-managed": dig("RequesterManaged"),
    "source-dest-check": dig("SourceDestCheck"),
    "status": dig("Status"),
    # These two look at every address, so they need the full item.
    "private-ip-address": each("PrivateIpAddresses", "PrivateIpAddress"),
    "addresses.private-ip-address": each("PrivateIpAddresses", "PrivateIpAddress"),
}
INSTANCE_FILTERS = {
    "vpc-id": inst("VpcId"),
    "subnet-id": inst("SubnetId"),
    "instance-id": inst("InstanceId"),
    "instance-state-name": inst("State", "Name"),
    "instance-state-code": inst("State", "Code"),
    "instance-type": inst("InstanceType"),
    "image-id": inst("ImageId"),
    "availability-zone": inst("Placement", "AvailabilityZone"),
    "private-ip-address": inst("PrivateIpAddress"),
    "private-dns-name": inst("PrivateDnsName"),
    "reservation-id": dig("ReservationId"),
    "owner-id": dig("OwnerId"),
    "requester-id": dig("RequesterId"),
    "network-interface.network-interface-id": lambda r: [
        n["NetworkInterfaceId"] for i in r["Instances"] for n in i.get("NetworkInterfaces", [])],
}
PEERING_FILTERS = {
    "vpc-peering-connection-id": dig("VpcPeeringConnectionId"),
    "requester-vpc-info.vpc-id": dig("RequesterVpcInfo", "VpcId"),
    "requester-vpc-info.cidr-block": dig("RequesterVpcInfo", "CidrBlock"),
    "requester-vpc-info.owner-id": dig("RequesterVpcInfo", "OwnerId"),
    "accepter-vpc-info.vpc-id": dig("AccepterVpcInfo", "VpcId"),
    "accepter-vpc-info.cidr-block": dig("AccepterVpcInfo", "CidrBlock"),
    "accepter-vpc-info.owner-id": dig("AccepterVpcInfo", "OwnerId"),
    "status-code": dig("Status", "Code"),
    "status-message": dig("Status", "Message"),
}
SECURITY_GROUP_FILTERS = {
    "vpc-id": dig("VpcId"),
    "group-id": dig("GroupId"),
    "group-name": dig("GroupName"),
    "owner-id": dig("OwnerId"),
}
NETWORK_ACL_FILTERS = {
    "vpc-id": dig("VpcId"),
    "network-acl-id": dig("NetworkAclId"),
    "default": lambda item: [str(item.get("IsDefault", False)).lower()],
    "association.subnet-id": each("Associations", "SubnetId"),
    "owner-id": dig("OwnerId"),
}
TGW_FILTERS = {
    "transit-gateway-id": dig("TransitGatewayId"),
    "owner-id": dig("OwnerId"),
    "state": dig("State"),
}
TGW_ATTACHMENT_FILTERS = {
    "transit-gateway-attachment-id": dig("TransitGatewayAttachmentId"),
    "transit-gateway-id": dig("TransitGatewayId"),
    "vpc-id": dig("VpcId"),
    "vpc-owner-id": dig("VpcOwnerId"),
    "state": dig("State"),
}
TGW_ROUTE_TABLE_FILTERS = {
    "transit-gateway-route-table-id": dig("TransitGatewayRouteTableId"),
    "transit-gateway-id": dig("TransitGatewayId"),
    "default-association-route-table": dig("DefaultAssociationRouteTable"),
    "default-propagation-route-table": dig("DefaultPropagationRouteTable"),
    "state": dig("State"),
}
# GetTransitGatewayRouteTableAssociations / ...Propagations.
TGW_LINK_FILTERS = {
    "resource-id": dig("ResourceId"),
    "resource-type": dig("ResourceType"),
    "transit-gateway-attachment-id": dig("TransitGatewayAttachmentId"),
}
# SearchTransitGatewayRoutes, besides the route-search.* filters (Ec2._route_search).
TGW_ROUTE_FILTERS = {
    "state": dig("State"),
    "type": dig("Type"),
    "prefix-list-id": dig("PrefixListId"),
    "attachment.transit-gateway-attachment-id": each("TransitGatewayAttachments", "TransitGatewayAttachmentId"),
    "attachment.resource-id": each("TransitGatewayAttachments", "ResourceId"),
    "attachment.resource-type": each("TransitGatewayAttachments", "ResourceType"),
}
ROUTE_SEARCHES = ("route-search.exact-match", "route-search.longest-prefix-match",
                  "route-search.subnet-of-match", "route-search.supernet-of-match")
# The transit gateway actions' MaxResults (the model's TransitGatewayMaxResults).
TGW_MAX_RESULTS = (5, 1000)


class Collection:
    """One Describe* call's objects: the concatenation of some CLI arrays (plain lists or
    generate.LazyList), with its filters, page limit and id parameter."""

    def __init__(self, element, sources, filters, id_param, id_filter, not_found, page_limit=1000,
                 full_filters=(), results_range=None):
        self.element = element
        self.sources = []
        for source in sources:
            self.sources.extend((source, k) for k in range(len(source)))
        self.filters = filters
        self.id_param = id_param
        self.id_filter = id_filter
        self.not_found = not_found
        self.page_limit = page_limit
        # (min, max) MaxResults must lie in, for the actions whose model says so (a value out of
        # it is an error); otherwise MaxResults is at least 1 and capped at page_limit.
        self.results_range = results_range
        self.full_filters = frozenset(full_filters)
        self.by_id = {}
        for index in range(len(self.sources)):
            for value in filters[id_filter](self.light(index)):
                self.by_id[value] = index

    def __len__(self):
        return len(self.sources)

    def item(self, index):
        source, k = self.sources[index]
        return source[k]

    def light(self, index):
        source, k = self.sources[index]
        return source.light(k) if isinstance(source, generate.LazyList) else source[k]


class Ec2Error(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def numbered(params: dict, prefix: str) -> list[str]:
    """Values of `prefix.1`, `prefix.2`, ... in index order."""
    found = []
    for key, value in params.items():
        if key.startswith(prefix + ".") and key[len(prefix) + 1:].isdigit():
            found.append((int(key[len(prefix) + 1:]), value))
    return [v for _, v in sorted(found)]


def parse_filters(params: dict) -> list[tuple[str, tuple[str, ...]]]:
    filters = {}
    for key, value in params.items():
        m = re.fullmatch(r"Filter\.(\d+)\.Name", key)
        if m:
            filters[int(m.group(1))] = (value, tuple(numbered(params, f"Filter.{m.group(1)}.Value")))
    return [filters[k] for k in sorted(filters)]


def matches(values, wanted) -> bool:
    for w in wanted:
        if "*" in w or "?" in w:
            if any(fnmatchcase(v, w) for v in values):
                return True
        elif w in values:
            return True
    return False


class Ec2:
    def __init__(self, files: dict, cache_responses: bool = False):
        def arrays(key, *paths):
            # An account without a file (another account has no instances) has none of its objects.
            return [files.get(p, {}).get(key, []) for p in paths]

        self.collections = {
            "DescribeVpcs": Collection(
                "Vpcs", arrays("Vpcs", "ec2/vpcs.json", "ec2/peer-vpcs.json"), VPC_FILTERS,
                "VpcId", "vpc-id", "InvalidVpcID.NotFound"),
            "DescribeSubnets": Collection(
                "Subnets", arrays("Subnets", "ec2/subnets.json", "ec2/peer-subnets.json"), SUBNET_FILTERS,
                "SubnetId", "subnet-id", "InvalidSubnetID.NotFound"),
            "DescribeRouteTables": Collection(
                "RouteTables", arrays("RouteTables", "ec2/route-tables.json", "ec2/peer-route-tables.json"),
                ROUTE_TABLE_FILTERS, "RouteTableId", "route-table-id", "InvalidRouteTableID.NotFound",
                page_limit=100),
            "DescribeSecurityGroups": Collection(
                "SecurityGroupInfo", arrays("SecurityGroups", "ec2/security-groups.json"), SECURITY_GROUP_FILTERS,
                "GroupId", "group-id", "InvalidGroup.NotFound"),
            "DescribeNetworkAcls": Collection(
                "NetworkAcls", arrays("NetworkAcls", "ec2/network-acls.json"), NETWORK_ACL_FILTERS,
                "NetworkAclId", "network-acl-id", "InvalidNetworkAclID.NotFound"),
            "DescribeNetworkInterfaces": Collection(
                "NetworkInterfaces",
                arrays("NetworkInterfaces", "ec2/network-interfaces.json", "ec2/peer-network-interfaces.json"),
                ENI_FILTERS,
                "NetworkInterfaceId", "network-interface-id", "InvalidNetworkInterfaceID.NotFound",
                full_filters=("private-ip-address", "addresses.private-ip-address")),
            "DescribeInstances": Collection(
                "Reservations", arrays("Reservations", "ec2/instances.json"), INSTANCE_FILTERS,
                "InstanceId", "instance-id", "InvalidInstanceID.NotFound"),
            "DescribeVpcPeeringConnections": Collection(
                "VpcPeeringConnections", arrays("VpcPeeringConnections", "ec2/vpc-peering-connections.json"),
                PEERING_FILTERS, "VpcPeeringConnectionId", "vpc-peering-connection-id",
                "InvalidVpcPeeringConnectionID.NotFound"),
            "DescribeTransitGatewayVpcAttachments": Collection(
                "TransitGatewayVpcAttachments",
                arrays("TransitGatewayVpcAttachments", "ec2/transit-gateway-vpc-attachments.json"),
                TGW_ATTACHMENT_FILTERS, "TransitGatewayAttachmentIds", "transit-gateway-attachment-id",
                "InvalidTransitGatewayAttachmentID.NotFound"),
            "DescribeTransitGateways": Collection(
                "TransitGateways",
                arrays("TransitGateways", "ec2/transit-gateways.json"),
                TGW_FILTERS, "TransitGatewayIds", "transit-gateway-id",
                "InvalidTransitGatewayID.NotFound"),
            "DescribeTransitGatewayRouteTables": Collection(
                "TransitGatewayRouteTables",
                arrays("TransitGatewayRouteTables", TGW_ROUTE_TABLES_FILE),
                TGW_ROUTE_TABLE_FILTERS, "TransitGatewayRouteTableIds", "transit-gateway-route-table-id",
                TGW_ROUTE_TABLE_NOT_FOUND, results_range=TGW_MAX_RESULTS),
        }
        # Each transit gateway route table's associations, propagations and routes (the whole
        # table), from the per-table files; served by the three actions below, for one table each.
        self.tgw_tables = {}
        for table in files.get(TGW_ROUTE_TABLES_FILE, {}).get("TransitGatewayRouteTables", []):
            table_id = table["TransitGatewayRouteTableId"]
            part = lambda name, key: files.get(f"{TGW_TABLE_DIR}/{table_id}.{name}.json", {}).get(key, [])  # noqa: E731
            self.tgw_tables[table_id] = {
                "Associations": part("associations", "Associations"),
                "TransitGatewayRouteTablePropagations": part("propagations", "TransitGatewayRouteTablePropagations"),
                "Routes": part("routes", "Routes"),
            }
        self.table_actions = {
            "GetTransitGatewayRouteTableAssociations": lambda p, r: self._links(
                "GetTransitGatewayRouteTableAssociations", "Associations", p, r),
            "GetTransitGatewayRouteTablePropagations": lambda p, r: self._links(
                "GetTransitGatewayRouteTablePropagations", "TransitGatewayRouteTablePropagations", p, r),
            "SearchTransitGatewayRoutes": self._search_routes,
        }
        self.actions = frozenset(self.collections) | frozenset(self.table_actions)
        self._matches = OrderedDict()  # (action, filters) -> matching indices, a small LRU
        self._lock = threading.Lock()
        # (action, filters, start, page) -> the response after its requestId, when enabled
        self._responses = {} if cache_responses else None

    def handle(self, action: str, params: dict, request_id: str) -> bytes:
        if action in self.table_actions:
            return self.table_actions[action](params, request_id)
        coll = self.collections.get(action)
        if coll is None:
            raise Ec2Error("InvalidAction", f"The action {action} is not valid for this web service.")
        filters = parse_filters(params)
        for name, _ in filters:
            if name not in coll.filters and not name.startswith("tag:") and name != "tag-key":
                raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        ids = numbered(params, coll.id_param)
        if action == "DescribeInstances" and ids and "MaxResults" in params:
            raise Ec2Error("InvalidParameterCombination",
                           "The parameter instancesSet cannot be used with the parameter maxResults")
        missing = [i for i in ids if i not in coll.by_id]
        if missing:
            raise Ec2Error(coll.not_found, f"The ID '{missing[0]}' does not exist")
        if ids:
            filters.append((coll.id_filter, tuple(ids)))
        key = (action, tuple(sorted(filters)))
        indices = self._select(coll, key, filters)

        return self._page(action, coll.element, XML_NAMES, coll.item, indices, params, key, request_id,
                          page_limit=coll.page_limit, results_range=coll.results_range)

    def _page(self, action: str, element: str, names: dict, item, indices: list[int], params: dict, key,
              request_id: str, page_limit: int = 1000, results_range=None, default_page=None,
              more_flag: bool = False) -> bytes:
        """One page of `indices` (items by `item(i)`) as `<{action}Response>`: the list element,
        `additionalRoutesAvailable` with `more_flag` (true when a next page follows), and a
        `nextToken` bound to the query `key`. Without MaxResults the page is `default_page`, or
        every match. MaxResults must lie in `results_range` when given; else at least 1 and capped
        at `page_limit`."""
        page = len(indices) if default_page is None else default_page
        if "MaxResults" in params:
            try:
                page = int(params["MaxResults"])
            except ValueError:
                raise Ec2Error("InvalidParameterValue", f"Invalid value '{params['MaxResults']}' for maxResults")
            if results_range is not None:
                low, high = results_range
                if not low <= page <= high:
                    raise Ec2Error("InvalidParameterValue",
                                   f"Value ( {page} ) for parameter maxResults is invalid. "
                                   f"Parameter must be between {low} and {high}.")
            else:
                if page < 1:
                    raise Ec2Error("InvalidParameterValue", f"Value ( {page} ) for parameter maxResults is invalid.")
                page = min(page, page_limit)
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        start = 0
        if params.get("NextToken"):
            start = self._token_offset(params["NextToken"], action, digest)
        head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_XMLNS}">'
                f"<requestId>{request_id}</requestId>").encode()
        cache_key = (key, start, page)
        if self._responses is not None and cache_key in self._responses:
            return head + self._responses[cache_key]
        out = []
        render(element, [item(i) for i in indices[start:start + page]], out, names)
        more = start + page < len(indices)
        if more_flag:
            render("AdditionalRoutesAvailable", more, out, names)
        if more:
            token = base64.urlsafe_b64encode(json.dumps([action, digest, start + page]).encode()).decode()
            out.append(f"<nextToken>{token}</nextToken>")
        out.append(f"</{action}Response>")
        rest = "".join(out).encode()
        if self._responses is not None:
            with self._lock:
                self._responses[cache_key] = rest
        return head + rest

    # --- transit gateway route tables: the actions that answer for one table -------------------

    def _table(self, params: dict) -> str:
        table_id = params.get("TransitGatewayRouteTableId")
        if not table_id:
            raise Ec2Error("MissingParameter", "The request must contain the parameter TransitGatewayRouteTableId")
        if table_id not in self.tgw_tables:
            raise Ec2Error(TGW_ROUTE_TABLE_NOT_FOUND, f"The ID '{table_id}' does not exist")
        return table_id

    @staticmethod
    def _known_filters(filters, known) -> None:
        for name, _ in filters:
            if name not in known:
                raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")

    def _links(self, action: str, key: str, params: dict, request_id: str) -> bytes:
        """GetTransitGatewayRouteTableAssociations / ...Propagations: the table's `key` list
        (`associations` / `transitGatewayRouteTablePropagations` in the XML), filtered, paged."""
        table_id = self._table(params)
        items = self.tgw_tables[table_id][key]
        filters = parse_filters(params)
        self._known_filters(filters, TGW_LINK_FILTERS)
        indices = [i for i, item in enumerate(items)
                   if all(matches(TGW_LINK_FILTERS[name](item), wanted) for name, wanted in filters)]
        query = (action, table_id, tuple(sorted(filters)))
        return self._page(action, key, TGW_LINK_XML_NAMES, items.__getitem__, indices, params, query, request_id,
                          results_range=TGW_MAX_RESULTS)

    def _search_routes(self, params: dict, request_id: str) -> bytes:
        """SearchTransitGatewayRoutes: the table's routes that pass every filter (the values of
        one filter OR together), in pages of MaxResults (default 1,000), `additionalRoutesAvailable`
        true while a `nextToken` follows."""
        action = "SearchTransitGatewayRoutes"
        table_id = self._table(params)
        routes = self.tgw_tables[table_id]["Routes"]
        filters = parse_filters(params)
        if not filters:
            raise Ec2Error("MissingParameter", "The request must contain the parameter Filters")
        self._known_filters(filters, (*TGW_ROUTE_FILTERS, *ROUTE_SEARCHES))
        selected = set(range(len(routes)))
        for name, values in filters:
            if name in ROUTE_SEARCHES:
                selected &= self._route_search(routes, name, values)
            else:
                get = TGW_ROUTE_FILTERS[name]
                selected = {i for i in selected if matches(get(routes[i]), values)}
        query = (action, table_id, tuple(sorted(filters)))
        return self._page(action, "Routes", XML_NAMES, routes.__getitem__, sorted(selected), params, query,
                          request_id, results_range=TGW_MAX_RESULTS, default_page=TGW_MAX_RESULTS[1],
                          more_flag=True)

    @staticmethod
    def _route_search(routes: list, name: str, values) -> set[int]:
        """The routes (indices) a `route-search.*` filter keeps, any of its CIDRs: exact-match the
        same prefix; subnet-of-match a destination inside the CIDR, supernet-of-match one that
        contains it (both including an equal one); longest-prefix-match the one most specific
        route that contains the CIDR (an equal one included), a static route winning over a
        propagated one of the same prefix. A route to a prefix list matches none of them."""
        wanted = []
        for value in values:
            try:
                wanted.append(ipaddress.IPv4Network(value, strict=False))
            except ValueError:
                raise Ec2Error("InvalidParameterValue", f"The value '{value}' for filter {name} is not a valid CIDR")
        nets = []
        for route in routes:
            try:
                nets.append(ipaddress.IPv4Network(route["DestinationCidrBlock"]))
            except (KeyError, ValueError):
                nets.append(None)
        keep = set()
        for q in wanted:
            inside_q = [i for i, n in enumerate(nets) if n is not None and n.subnet_of(q)]
            holding_q = [i for i, n in enumerate(nets) if n is not None and n.supernet_of(q)]
            if name == "route-search.exact-match":
                keep.update(i for i in inside_q if nets[i] == q)
            elif name == "route-search.subnet-of-match":
                keep.update(inside_q)
            elif name == "route-search.supernet-of-match":
                keep.update(holding_q)
            elif holding_q:  # longest-prefix-match
                keep.add(max(holding_q, key=lambda i: (nets[i].prefixlen, routes[i].get("Type") == "static", -i)))
        return keep

    def _select(self, coll: Collection, key, filters) -> list[int]:
        with self._lock:
            if key in self._matches:
                self._matches.move_to_end(key)
                return self._matches[key]
        # An exact id filter narrows the candidates without looking at every item.
        candidates = range(len(coll))
        for name, values in filters:
            if name == coll.id_filter and not any("*" in v or "?" in v for v in values):
                candidates = sorted({coll.by_id[v] for v in values if v in coll.by_id})
                break
        full = any(name in coll.full_filters for name, _ in filters)
        selected = []
        for index in candidates:
            item = coll.item(index) if full else coll.light(index)
            if all(matches(self._values(coll, item, name), wanted) for name, wanted in filters):
                selected.append(index)
        with self._lock:
            self._matches[key] = selected
            while len(self._matches) > 64:
                self._matches.popitem(last=False)
        return selected

    @staticmethod
    def _values(coll: Collection, item: dict, name: str) -> list[str]:
        if name.startswith("tag:"):
            target = item["Instances"][0] if "Instances" in item else item
            return tag_values(target, name[4:])
        if name == "tag-key":
            target = item["Instances"][0] if "Instances" in item else item
            return [t["Key"] for t in target.get("Tags", target.get("TagSet", []))]
        return coll.filters[name](item)

    @staticmethod
    def _token_offset(token: str, action: str, digest: str) -> int:
        try:
            got_action, got_digest, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
            if got_action == action and got_digest == digest and isinstance(offset, int):
                return offset
        except (ValueError, TypeError):
            pass
        raise Ec2Error("InvalidParameterValue", f"Invalid value '{token}' for nextToken")


def ec2_error(error: Ec2Error, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    ).encode()


# ---------------------------------------------------------------------------------------------
# EKS (REST-JSON): the CLI shapes with timestamps as epoch seconds, as the API sends them


def eks_json(value):
    if isinstance(value, dict):
        return {k: (datetime.fromisoformat(v).timestamp() if k in TIMESTAMP_KEYS and isinstance(v, str)
                    else eks_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [eks_json(v) for v in value]
    return value


class Eks:
    def __init__(self, files: dict):
        self.clusters = {}
        self.addons = {}
        for path, obj in files.items():
            if "cluster" in obj:
                c = eks_json(obj)
                self.clusters[c["cluster"]["name"]] = c
            elif "addon" in obj:
                a = eks_json(obj)
                self.addons[(a["addon"]["clusterName"], a["addon"]["addonName"])] = a

    def handle(self, method: str, path: str, query: dict):
        """-> (operation, status, body dict, error type or None)."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method != "GET" or not parts or parts[0] != "clusters":
            return "Unknown", 404, {"message": f"No operation for {method} {path}"}, "UnknownOperationException"
        if len(parts) == 1:
            try:
                limit = int(query.get("maxResults", ["100"])[0])
                start = int(query.get("nextToken", ["0"])[0] or 0)
            except ValueError:
                return "ListClusters", 400, {"message": "invalid maxResults or nextToken"}, "InvalidParameterException"
            if not 1 <= limit <= 100:
                return "ListClusters", 400, {"message": "maxResults must be between 1 and 100"}, "InvalidParameterException"
            names = sorted(self.clusters)
            body = {"clusters": names[start:start + limit]}
            if start + limit < len(names):
                body["nextToken"] = str(start + limit)
            return "ListClusters", 200, body, None
        name = parts[1]
        if len(parts) == 2:
            if name not in self.clusters:
                return "DescribeCluster", 404, {"clusterName": name, "message": f"No cluster found for name: {name}."}, \
                    "ResourceNotFoundException"
            return "DescribeCluster", 200, self.clusters[name], None
        if len(parts) == 4 and parts[2] == "addons":
            addon = parts[3]
            if name not in self.clusters:
                return "DescribeAddon", 404, {"clusterName": name, "message": f"No cluster found for name: {name}."}, \
                    "ResourceNotFoundException"
            if (name, addon) not in self.addons:
                return "DescribeAddon", 404, {"addonName": addon, "clusterName": name,
                                              "message": f"No addon: {addon} found in cluster: {name}"}, \
                    "ResourceNotFoundException"
            return "DescribeAddon", 200, self.addons[(name, addon)], None
        return "Unknown", 404, {"message": f"No operation for {method} {path}"}, "UnknownOperationException"


# ---------------------------------------------------------------------------------------------
# The server


class Account:
    """One account's data: its EC2 and EKS answers."""

    def __init__(self, files: dict, cache_responses: bool = False):
        self.ec2 = Ec2(files, cache_responses)
        self.eks = Eks(files)


def account_views(files: dict) -> dict[str, dict]:
    """{account: its files under the paths of the main account's}: the main account's files as
    they are, and another account's `ec2/accounts/<account>/<rest>` (generate.account_file) as
    `ec2/<rest>` (`ec2/accounts/<tgw account>/transit-gateway-route-tables/<id>.routes.json` as
    `ec2/transit-gateway-route-tables/<id>.routes.json`), so one `Ec2` serves either. The main
    account is always there."""
    views = {generate.ACCOUNT: {}}
    for path, obj in files.items():
        account = generate.account_of(path)
        if account == generate.ACCOUNT:
            views[account][path] = obj
        else:
            rest = path[len(f"{generate.ACCOUNTS_DIR}/{account}/"):]
            views.setdefault(account, {})[f"ec2/{rest}"] = obj
    return views


def session_token(access_key_id: str) -> str:
    """The session token issued with an assumed access key id (deterministic, so a request's
    token can be checked against its key without remembering what was issued)."""
    return base64.b64encode(f"fake-aws/session/{access_key_id}/".encode() * 4).decode()


class State:
    def __init__(self, files: dict, cache_responses: bool = False, allowed_roles=DEFAULT_ALLOWED_ROLES,
                 external_id: str | None = None, session_seconds: int | None = None):
        self.main = generate.ACCOUNT
        self.accounts = {account: Account(view, cache_responses) for account, view in account_views(files).items()}
        # The main account's, for callers that knew one account only.
        self.ec2 = self.accounts[self.main].ec2
        self.eks = self.accounts[self.main].eks
        self.allowed_roles = frozenset(allowed_roles)
        self.external_id = external_id
        self.issued: dict[str, tuple[str, str]] = {}  # assumed key -> (AssumedRoleId, Arn)
        # The longest an assumed session lasts (--session-seconds; None: as asked, 1 hour by
        # default), and when each assumed key expires (the latest AssumeRole's).
        self.session_seconds = session_seconds
        self.expires: dict[str, float] = {}
        self.requests = Counter()
        self.by_account: dict[str, Counter] = {}
        self.sns_messages = 0
        self.lock = threading.Lock()
        self.sequence = 0
        self.ec2_sequence = 0
        self.throttle_percent = 0

    def request_id(self) -> str:
        with self.lock:
            self.sequence += 1
            return str(uuid.UUID(int=(0x5CA1E << 100) | self.sequence))

    def throttled(self) -> bool:
        """Whether this EC2 request is one of the `--throttle` share: request n is throttled
        when floor(n * p / 100) steps up, which spreads p % evenly and, below 50 %, never
        throttles two requests in a row."""
        with self.lock:
            self.ec2_sequence += 1
            n, p = self.ec2_sequence, self.throttle_percent
            hit = p > 0 and (n * p) // 100 != ((n - 1) * p) // 100
            if hit:
                self.requests["(throttled)"] += 1
            return hit

    def count(self, action: str, sns: bool = False, account: str | None = None):
        with self.lock:
            self.requests[action] += 1
            self.by_account.setdefault(account or self.main, Counter())[action] += 1
            if sns:
                self.sns_messages += 1

    def caller(self, access_key_id: str | None, token: str | None) -> tuple[str, bool]:
        """(the account a request's access key id maps to, whether its credentials are valid):
        an assumed key (`ASIA` + an account with data + 4 characters) is that account's and
        needs its session token; any other key, or none, is the main account's (as before
        there were accounts)."""
        m = re.fullmatch(r"ASIA(\d{12})[0-9A-Z]{4}", access_key_id or "")
        if m and m.group(1) in self.accounts:
            return m.group(1), token == session_token(access_key_id)
        return self.main, True

    def expired(self, access_key_id: str | None) -> bool:
        """Whether an assumed key's session has ended (a key this process did not issue has not)."""
        with self.lock:
            ends = self.expires.get(access_key_id or "")
        return ends is not None and time.time() >= ends

    def assume_role(self, caller: str, params: dict) -> tuple[int, str, str, dict]:
        """STS AssumeRole by `caller` (an account): (HTTP status, error code or "", message,
        the result's fields). Refused (AccessDenied) for a role name not allowed, an account
        without data, or a wrong external id."""
        arn = params.get("RoleArn", "")
        session = params.get("RoleSessionName", "")
        m = re.fullmatch(r"arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})", arn)
        if not m:
            return 400, "ValidationError", f"{arn!r} is not a valid role ARN (RoleArn)", {}
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", session):
            return 400, "ValidationError", (
                f"1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"), {}
        try:
            duration = int(params.get("DurationSeconds", "3600"))
        except ValueError:
            duration = -1
        if not 900 <= duration <= 43200:
            return 400, "ValidationError", "DurationSeconds must be between 900 and 43200", {}
        if self.session_seconds is not None:
            duration = min(duration, self.session_seconds)
        partition, account, name = m.groups()
        user = f"arn:{partition}:iam::{caller}:user/podreach-bench"
        if (name not in self.allowed_roles or account not in self.accounts
                or (self.external_id is not None and params.get("ExternalId") != self.external_id)):
            return 403, "AccessDenied", f"User: {user} is not authorized to perform: sts:AssumeRole on resource: {arn}", {}
        suffix = hashlib.sha256(f"{arn}/{session}".encode()).hexdigest()[:4].upper()
        key = f"ASIA{account}{suffix}"
        role_id = "AROA" + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()
        ends = time.time() + duration
        expires = datetime.fromtimestamp(ends, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        user_id, assumed = f"{role_id}:{session}", f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}"
        with self.lock:
            self.issued[key] = (user_id, assumed)
            self.expires[key] = ends
        return 200, "", "", {
            "AssumedRoleId": user_id,
            "Arn": assumed,
            "AccessKeyId": key,
            "SecretAccessKey": base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()[:40],
            "SessionToken": session_token(key),
            "Expiration": expires,
        }


# The SigV4 credential scope: Credential=<access key id>/<date>/<region>/<service>/aws4_request.
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/[^/]+/([^/]+)/aws4_request")


def sts_error(status: int, code: str, message: str, request_id: str) -> bytes:
    kind = "Receiver" if status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{STS_XMLNS}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body are two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers, about 40 ms a request on Linux.
    disable_nagle_algorithm = True
    server_version = "fake-aws"
    state: State  # set on the class by serve()

    def log_message(self, format, *args):  # quiet
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _credential(self) -> tuple[str | None, str | None, str, bool]:
        """(access key id, signing service, account, whether the credentials are valid) of this
        request, from its SigV4 Authorization header (or a presigned URL's X-Amz-Credential)."""
        m = CREDENTIAL.search(self.headers.get("Authorization", ""))
        key = service = None
        if m:
            key, service = m.group(1), m.group(2)
        else:
            query = parse_qs(urlsplit(self.path).query)
            scope = query.get("X-Amz-Credential", [""])[0].split("/")
            if len(scope) == 5:
                key, service = scope[0], scope[3]
        token = self.headers.get("X-Amz-Security-Token") \
            or parse_qs(urlsplit(self.path).query).get("X-Amz-Security-Token", [None])[0]
        account, valid = self.state.caller(key, token)
        return key, service, account, valid

    def do_POST(self):
        state = self.state
        body = self._body()
        request_id = state.request_id()
        if urlsplit(self.path).path.startswith("/clusters"):
            return self._eks("POST")
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        action = params.get("Action", "")
        key, service, account, valid = self._credential()
        if params.get("Version") == STS_VERSION or service == "sts":
            return self._sts(action, params, account, valid, request_id)
        if params.get("Version") == SNS_VERSION:
            return self._sns(action, params, request_id, account)
        state.count(action or "(no action)", account=account)
        try:
            if state.throttled():
                raise Ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503)
            if not valid:
                raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
            if state.expired(key):
                raise Ec2Error("RequestExpired", "Request has expired.")
            if params.get("Version") != EC2_VERSION and action in state.ec2.actions:
                raise Ec2Error("InvalidParameterValue", f"Unsupported Version '{params.get('Version')}'")
            payload = state.accounts[account].ec2.handle(action, params, request_id)
            self._send(200, payload, "text/xml;charset=UTF-8", [("x-amzn-RequestId", request_id)])
        except Ec2Error as error:
            self._send(error.status, ec2_error(error, request_id), "text/xml;charset=UTF-8",
                       [("x-amzn-RequestId", request_id)])

    def _sts(self, action: str, params: dict, account: str, valid: bool, request_id: str):
        """STS (Query protocol, `Version=2011-06-15`): AssumeRole and GetCallerIdentity."""
        state = self.state
        state.count(action or "(no action)", account=account)
        headers = [("x-amzn-RequestId", request_id)]
        if not valid:
            return self._send(403, sts_error(403, "InvalidClientTokenId", "The security token included in the request "
                                             "is invalid.", request_id), "text/xml", headers)
        if action == "AssumeRole":
            status, code, message, result = state.assume_role(account, params)
            if code:
                return self._send(status, sts_error(status, code, message, request_id), "text/xml", headers)
            payload = (
                f'<AssumeRoleResponse xmlns="{STS_XMLNS}"><AssumeRoleResult>'
                f"<AssumedRoleUser><AssumedRoleId>{escape(result['AssumedRoleId'])}</AssumedRoleId>"
                f"<Arn>{escape(result['Arn'])}</Arn></AssumedRoleUser>"
                f"<Credentials><AccessKeyId>{result['AccessKeyId']}</AccessKeyId>"
                f"<SecretAccessKey>{escape(result['SecretAccessKey'])}</SecretAccessKey>"
                f"<SessionToken>{escape(result['SessionToken'])}</SessionToken>"
                f"<Expiration>{result['Expiration']}</Expiration></Credentials>"
                f"</AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                "</AssumeRoleResponse>"
            )
            return self._send(200, payload.encode(), "text/xml", headers)
        if action == "GetCallerIdentity":
            key, _, _, _ = self._credential()
            with state.lock:
                user_id, arn = state.issued.get(key or "", (key or "", f"arn:aws:iam::{account}:user/podreach-bench"))
            payload = (
                f'<GetCallerIdentityResponse xmlns="{STS_XMLNS}"><GetCallerIdentityResult>'
                f"<Arn>{escape(arn)}</Arn><UserId>{escape(user_id)}</UserId><Account>{account}</Account>"
                f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId>"
                "</ResponseMetadata></GetCallerIdentityResponse>"
            )
            return self._send(200, payload.encode(), "text/xml", headers)
        return self._send(400, sts_error(400, "InvalidAction", f"Could not find operation {action} for version "
                                         f"{STS_VERSION}", request_id), "text/xml", headers)

    def _sns(self, action: str, params: dict, request_id: str, account: str | None = None):
        if action == "Publish" and (params.get("TopicArn") or params.get("TargetArn")) and "Message" in params:
            self.state.count("Publish", sns=True, account=account)
            message_id = str(uuid.UUID(int=(0x5E5 << 100) | self.state.sequence))
            payload = (
                f'<PublishResponse xmlns="{SNS_XMLNS}"><PublishResult><MessageId>{message_id}</MessageId>'
                f"</PublishResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                "</PublishResponse>"
            )
            return self._send(200, payload.encode(), "text/xml")
        self.state.count(action or "(no action)", account=account)
        code, message = ("InvalidParameter", "Invalid parameter: TopicArn or Message") if action == "Publish" \
            else ("InvalidAction", f"The action {action} is not valid for this endpoint.")
        payload = (
            f'<ErrorResponse xmlns="{SNS_XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        self._send(400, payload.encode(), "text/xml")

    def do_GET(self):
        self._body()
        self._eks("GET")

    def _eks(self, method: str):
        url = urlsplit(self.path)
        _, _, account, valid = self._credential()
        if valid:
            operation, status, body, error = self.state.accounts[account].eks.handle(method, url.path, parse_qs(url.query))
        else:
            operation, status, error = "Unknown", 403, "UnrecognizedClientException"
            body = {"message": "The security token included in the request is invalid."}
        self.state.count(operation, account=account)
        headers = [("x-amzn-RequestId", self.state.request_id())]
        if error:
            headers.append(("x-amzn-ErrorType", error))
        self._send(status, json.dumps(body).encode(), "application/json", headers)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # One line instead of a traceback: a client that hangs up mid-response is no news.
        print(f"fake_aws: request from {client_address[0]}:{client_address[1]} failed: "
              f"{sys.exc_info()[1]!r}", file=sys.stderr, flush=True)


def serve(args, files: dict, parent: int, started: float) -> int:
    Handler.state = state = State(files, args.cache_responses, args.allow_role or DEFAULT_ALLOWED_ROLES,
                                  args.external_id, args.session_seconds)
    state.throttle_percent = args.throttle
    server = QuietServer(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.ready_file)
    print(f"fake_aws: {args.nodes} nodes on http://127.0.0.1:{port} (ready in "
          f"{time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def watch_parent():
        while not stop.is_set():
            if os.getppid() != parent:
                stop.set()
            time.sleep(0.2)

    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    threading.Thread(target=watch_parent, daemon=True).start()
    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    with state.lock:
        counts = dict(sorted(state.requests.items()))
        by_account = {account: dict(sorted(c.items())) for account, c in sorted(state.by_account.items())}
        messages = state.sns_messages
    for path, value in ((args.stats_file, counts), (args.account_stats_file, by_account)):
        if path:
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w") as f:
                json.dump(value, f, indent=2)
                f.write("\n")
            os.replace(tmp, path)
    print(f"fake_aws: {messages} SNS messages published; requests: {json.dumps(counts)}; per account: "
          f"{json.dumps(by_account)}", file=sys.stderr, flush=True)
    return 0


def main(argv=None) -> int:
    parent = os.getppid()  # first thing: the parent may die while the scenario is generated
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--routes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tgw-account", metavar="ACCOUNT",
                        help="the account that owns the transit gateway and shared-services (generate.py "
                             "--tgw-account): its route tables and every attachment are served to that account's "
                             "assumed credentials only; default: the cluster's account")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", help="receives the port once listening")
    parser.add_argument("--stats-file", help="receives {action: requests} as JSON on exit")
    parser.add_argument("--account-stats-file",
                        help="receives {account: {action: requests}} as JSON on exit (the account of the "
                             "request's access key id; AssumeRole is the caller's)")
    parser.add_argument("--allow-role", action="append", metavar="NAME",
                        help="a role name AssumeRole grants, in any account with data (repeatable; default "
                             f"{', '.join(DEFAULT_ALLOWED_ROLES)})")
    parser.add_argument("--external-id", help="the ExternalId AssumeRole must be given (default: none asked)")
    parser.add_argument("--session-seconds", type=int,
                        help="the longest an assumed session lasts (default: DurationSeconds, 1 hour); an EC2 "
                             "request with an assumed key past it is RequestExpired")
    parser.add_argument("--throttle", type=int, default=0, metavar="PERCENT",
                        help="answer this share of EC2 requests (spread evenly) with 503 RequestLimitExceeded")
    parser.add_argument("--cache-responses", action="store_true",
                        help="keep every EC2 page rendered once, so repeated collections (benchmark "
                             "runs) measure the client, not this server (~550 MB RSS at 5,000 nodes)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        files = generate.generate(args.nodes, args.routes, args.seed, args.tgw_account)
    except ValueError as e:  # a scenario generate.py cannot make (too many nodes or routes)
        parser.error(str(e))
    return serve(args, files, parent, started)


if __name__ == "__main__":
    sys.exit(main())
