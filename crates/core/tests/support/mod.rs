//! Fixtures for the behaviour tests: the demo snapshot's `shop` cluster, edited as JSON.
//!
//! Every fixture starts from the real AWS CLI / kubectl outputs embedded in
//! `podreach_core::demo::FILES` (the `ec2/*` and `shop/*` files; `legacy/*` is dropped), changes
//! what a case needs as `serde_json::Value`, and goes through the public API exactly as the CLI's
//! input would. Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use podreach_core::cni::Version;
use podreach_core::datapath::HostTable;
use podreach_core::report::{Cause, Direction, Finding, FindingKind, PathVerdict, Report, Verdict};
use podreach_core::{AnalyzeOptions, Overrides, SnapshotError, SourceFile};
use serde_json::{Value, json};

// Ids of the demo's `shop` cluster and its peer (crates/core/demo).
pub const CLUSTER: &str = "shop";
pub const CLUSTER_VPC: &str = "vpc-0a5e1d2c3b4a59601";
pub const INSTANCE: &str = "i-0a5f0e1d2c3b4a701";
pub const NODE_IP: &str = "10.0.1.10";
pub const NODE_SUBNET: &str = "subnet-0a10e5f1c2d3b4a01";
pub const NODE_ROUTE_TABLE: &str = "rtb-0a1e2d3c4b5a69701";
/// Device 0, card 0; holds pod addresses 10.0.1.11–13.
pub const PRIMARY_ENI: &str = "eni-0a01f1e2d3c4b5a61";
/// Device 1, card 0, same subnet; holds pod addresses 10.0.1.21–23.
pub const SECONDARY_ENI: &str = "eni-0a02f1e2d3c4b5a62";
pub const PEERING: &str = "pcx-0ab15c2d3e4f50801";
pub const PEER_VPC: &str = "vpc-0b6f3e2d1c0b59602";
pub const PEER_SUBNET_CIDR: &str = "10.1.0.0/24";
pub const PEER_ROUTE_TABLE: &str = "rtb-0b2e2d3c4b5a69702";

pub const EGRESS: Direction = Direction::PodToPeer;
pub const INGRESS: Direction = Direction::PeerToPod;

pub const ENIS_FILE: &str = "ec2/network-interfaces.json";
pub const SUBNETS_FILE: &str = "ec2/subnets.json";
pub const ROUTES_FILE: &str = "ec2/route-tables.json";
pub const PEER_ROUTES_FILE: &str = "ec2/peer-route-tables.json";
pub const PEERINGS_FILE: &str = "ec2/vpc-peering-connections.json";
pub const VPCS_FILE: &str = "ec2/vpcs.json";
pub const INSTANCES_FILE: &str = "ec2/instances.json";
pub const AWS_NODE_FILE: &str = "shop/aws-node.json";
pub const PODS_FILE: &str = "shop/pods.json";
pub const NODES_FILE: &str = "shop/nodes.json";

/// A snapshot as `(path, JSON)` pairs, in load order.
#[derive(Debug, Clone)]
pub struct Snapshot {
    files: Vec<(String, Value)>,
}

/// The demo's `shop` cluster and every EC2 document, unchanged (CNI v1.11.4, NODE_PORT_SUPPORT=false),
/// except the security groups and network ACLs: the routing topologies are judged without them
/// (their assumption), and `tests/filters.rs` adds the filters each case needs.
pub fn shop() -> Snapshot {
    let files = podreach_core::demo::FILES
        .iter()
        .filter(|(path, _)| !path.starts_with("legacy/"))
        .filter(|(path, _)| !matches!(*path, "ec2/security-groups.json" | "ec2/network-acls.json"))
        .map(|(path, text)| {
            let value: Value = serde_json::from_str(text).expect("demo files are valid JSON");
            ((*path).to_owned(), value)
        })
        .collect();
    Snapshot { files }
}

impl Snapshot {
    /// Sets the aws-node image tag to `version` and its literal environment to exactly `env`.
    /// Versions before v1.7.0 had no `aws-vpc-cni-init` init container, so it is removed for them.
    pub fn cni(mut self, version: &str, env: &[(&str, &str)]) -> Self {
        let parsed = Version::parse_loose(version).expect("a CNI version such as v1.11.4");
        let daemonset = self.json_mut(AWS_NODE_FILE);
        let spec = &mut daemonset["spec"]["template"]["spec"];
        let container = &mut spec["containers"][0];
        let image = container["image"]
            .as_str()
            .expect("aws-node image")
            .to_owned();
        let (repository, _) = image.rsplit_once(':').expect("the demo image has a tag");
        container["image"] = json!(format!("{repository}:{version}"));
        let mut vars: Vec<Value> = env
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        vars.push(json!({ "name": "MY_NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }));
        container["env"] = Value::Array(vars);
        if parsed < Version::new(1, 7, 0) {
            spec.as_object_mut()
                .expect("pod spec")
                .remove("initContainers");
        }
        self
    }

    pub fn json_mut(&mut self, path: &str) -> &mut Value {
        let (_, value) = self
            .files
            .iter_mut()
            .find(|(p, _)| p == path)
            .expect("the snapshot has this file");
        value
    }

    pub fn insert(&mut self, path: &str, value: Value) {
        self.remove(path);
        self.files.push((path.to_owned(), value));
    }

    pub fn remove(&mut self, path: &str) {
        self.files.retain(|(p, _)| p != path);
    }

    /// The entry of `array` (a top-level key of `file`) whose `id_key` is `id`.
    pub fn object_mut(&mut self, file: &str, array: &str, id_key: &str, id: &str) -> &mut Value {
        self.json_mut(file)[array]
            .as_array_mut()
            .expect("a describe-* list")
            .iter_mut()
            .find(|o| o[id_key] == id)
            .expect("the object is in the file")
    }

    pub fn push(&mut self, file: &str, array: &str, object: Value) {
        self.json_mut(file)[array]
            .as_array_mut()
            .expect("a describe-* list")
            .push(object);
    }

    pub fn eni_mut(&mut self, id: &str) -> &mut Value {
        self.object_mut(ENIS_FILE, "NetworkInterfaces", "NetworkInterfaceId", id)
    }

    pub fn remove_eni(&mut self, id: &str) {
        self.json_mut(ENIS_FILE)["NetworkInterfaces"]
            .as_array_mut()
            .expect("ENI list")
            .retain(|e| e["NetworkInterfaceId"] != id);
        for reservation in self.json_mut(INSTANCES_FILE)["Reservations"]
            .as_array_mut()
            .expect("reservations")
        {
            for instance in reservation["Instances"].as_array_mut().expect("instances") {
                if let Some(list) = instance["NetworkInterfaces"].as_array_mut() {
                    list.retain(|e| e["NetworkInterfaceId"] != id);
                }
            }
        }
    }

    /// Routes of route table `id` in `file`.
    pub fn routes_mut(&mut self, file: &str, id: &str) -> &mut Vec<Value> {
        self.object_mut(file, "RouteTables", "RouteTableId", id)["Routes"]
            .as_array_mut()
            .expect("routes")
    }

    /// The route of table `id` whose destination is `cidr`.
    pub fn route_mut(&mut self, file: &str, id: &str, cidr: &str) -> &mut Value {
        self.routes_mut(file, id)
            .iter_mut()
            .find(|r| r["DestinationCidrBlock"] == cidr)
            .expect("the route table has a route for this CIDR")
    }

    /// Moves the pod whose address is `from` to `to` (pods dump only).
    pub fn move_pod(&mut self, from: &str, to: &str) {
        for pod in self.json_mut(PODS_FILE)["items"]
            .as_array_mut()
            .expect("pod list")
        {
            if pod["status"]["podIP"] == from {
                pod["status"]["podIP"] = json!(to);
                pod["status"]["podIPs"] = json!([{ "ip": to }]);
            }
        }
    }

    /// Replaces `from` with `to` in every string of every file (ids are plain strings in dumps).
    pub fn rename(&mut self, from: &str, to: &str) {
        fn walk(value: &mut Value, from: &str, to: &str) {
            match value {
                Value::String(s) if s.contains(from) => *s = s.replace(from, to),
                Value::Array(items) => items.iter_mut().for_each(|v| walk(v, from, to)),
                Value::Object(map) => map.values_mut().for_each(|v| walk(v, from, to)),
                _ => {}
            }
        }
        for (_, value) in &mut self.files {
            walk(value, from, to);
        }
    }

    pub fn source_files(&self) -> Vec<SourceFile> {
        self.files
            .iter()
            .map(|(path, value)| SourceFile {
                path: path.clone(),
                text: serde_json::to_string_pretty(value).expect("JSON values serialise"),
            })
            .collect()
    }

    pub fn try_audit(&self, overrides: &Overrides) -> Result<Report, SnapshotError> {
        self.try_audit_asking(overrides, &[])
    }

    /// The audit of this snapshot asked about `tcp_ports` (empty: any TCP port), with every path.
    pub fn try_audit_asking(
        &self,
        overrides: &Overrides,
        tcp_ports: &[u16],
    ) -> Result<Report, SnapshotError> {
        podreach_core::audit(
            &self.source_files(),
            overrides,
            &AnalyzeOptions {
                include_paths: true,
                tcp_ports: tcp_ports.to_vec(),
            },
        )
    }

    /// [`Snapshot::audit`] on the TCP ports `tcp_ports`.
    pub fn audit_on_ports(&self, tcp_ports: &[u16]) -> Report {
        self.try_audit_asking(&Overrides::default(), tcp_ports)
            .expect("the fixture is a readable snapshot")
    }

    pub fn audit(&self) -> Report {
        self.audit_with(&Overrides::default())
    }

    pub fn audit_with(&self, overrides: &Overrides) -> Report {
        self.try_audit(overrides)
            .expect("the fixture is a readable snapshot")
    }
}

/// A secondary private IPv4 entry as `describe-network-interfaces` prints it.
pub fn private_ip(ip: &str, primary: bool) -> Value {
    let dns = format!("ip-{}.ec2.internal", ip.replace('.', "-"));
    json!({ "Primary": primary, "PrivateDnsName": dns, "PrivateIpAddress": ip })
}

/// An ENI document shaped like the demo's, attached to the demo node.
pub fn node_eni(
    id: &str,
    subnet: &str,
    device_index: u32,
    network_card_index: u32,
    ips: &[&str],
) -> Value {
    let addresses: Vec<Value> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| private_ip(ip, i == 0))
        .collect();
    json!({
        "Attachment": {
            "AttachmentId": format!("eni-attach-{}", &id[4..]),
            "DeleteOnTermination": true,
            "DeviceIndex": device_index,
            "NetworkCardIndex": network_card_index,
            "InstanceId": INSTANCE,
            "InstanceOwnerId": "111122223333",
            "Status": "attached"
        },
        "AvailabilityZone": "us-east-1a",
        "Description": format!("aws-K8S-{INSTANCE}"),
        "Groups": [ { "GroupName": "eks-cluster-sg-shop", "GroupId": "sg-0a7d1e2f3a4b5c601" } ],
        "InterfaceType": "interface",
        "Ipv6Addresses": [],
        "NetworkInterfaceId": id,
        "OwnerId": "111122223333",
        "PrivateIpAddress": ips[0],
        "PrivateIpAddresses": addresses,
        "Ipv4Prefixes": [],
        "Ipv6Prefixes": [],
        "RequesterManaged": false,
        "SourceDestCheck": true,
        "Status": "in-use",
        "SubnetId": subnet,
        "TagSet": [
            { "Key": "cluster.k8s.amazonaws.com/name", "Value": CLUSTER },
            { "Key": "node.k8s.amazonaws.com/instance_id", "Value": INSTANCE }
        ],
        "VpcId": CLUSTER_VPC
    })
}

/// A subnet as `describe-subnets` prints it.
pub fn subnet(id: &str, vpc: &str, cidr: &str, az: &str) -> Value {
    json!({
        "AvailabilityZone": az,
        "AvailableIpAddressCount": 8000,
        "CidrBlock": cidr,
        "DefaultForAz": false,
        "MapPublicIpOnLaunch": false,
        "State": "available",
        "SubnetId": id,
        "VpcId": vpc,
        "OwnerId": "111122223333",
        "Ipv6CidrBlockAssociationSet": [],
        "Tags": []
    })
}

/// A route table with an explicit association to `subnet` and the given routes.
pub fn route_table(id: &str, vpc: &str, subnet: &str, routes: Vec<Value>) -> Value {
    json!({
        "Associations": [ {
            "Main": false,
            "RouteTableAssociationId": format!("rtbassoc-{}", &id[4..]),
            "RouteTableId": id,
            "SubnetId": subnet,
            "AssociationState": { "State": "associated" }
        } ],
        "PropagatingVgws": [],
        "RouteTableId": id,
        "Routes": routes,
        "Tags": [],
        "VpcId": vpc,
        "OwnerId": "111122223333"
    })
}

pub fn local_route(cidr: &str) -> Value {
    json!({ "DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active" })
}

pub fn peering_route(cidr: &str, pcx: &str) -> Value {
    json!({ "DestinationCidrBlock": cidr, "Origin": "CreateRoute", "State": "active", "VpcPeeringConnectionId": pcx })
}

pub fn nat_route() -> Value {
    json!({ "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0a1b2c3d4e5f60901", "Origin": "CreateRoute", "State": "active" })
}

// ---- Reading the report ----------------------------------------------------------------------

/// The paths of one ENI in one direction.
pub fn paths_of<'r>(report: &'r Report, eni: &str, direction: Direction) -> Vec<&'r PathVerdict> {
    report
        .paths
        .as_deref()
        .expect("paths were requested")
        .iter()
        .filter(|p| p.eni_id == eni && p.direction == direction)
        .collect()
}

/// Fluent assertions on the single path of one ENI in one direction.
#[derive(Debug)]
pub struct PathCheck<'r> {
    pub path: &'r PathVerdict,
}

/// The only path of `eni` in `direction` (the demo has one destination block, 10.1.0.0/24).
pub fn check<'r>(report: &'r Report, eni: &str, direction: Direction) -> PathCheck<'r> {
    let found = paths_of(report, eni, direction);
    assert_eq!(
        found.len(),
        1,
        "expected one {} path for {eni}, found {}: {:#?}\ngaps: {:#?}",
        direction.as_str(),
        found.len(),
        found
            .iter()
            .map(|p| (&p.destination, p.verdict, p.cause))
            .collect::<Vec<_>>(),
        report.gaps
    );
    PathCheck { path: found[0] }
}

/// The path of `eni` in `direction` to exactly `destination`.
pub fn check_to<'r>(
    report: &'r Report,
    eni: &str,
    direction: Direction,
    destination: &str,
) -> PathCheck<'r> {
    let found = paths_of(report, eni, direction);
    let path = found.iter().copied().find(|p| p.destination == destination);
    assert!(
        path.is_some(),
        "no {} path for {eni} to {destination}; destinations: {:?}",
        direction.as_str(),
        found
            .iter()
            .map(|p| p.destination.as_str())
            .collect::<Vec<_>>()
    );
    PathCheck {
        path: path.expect("checked above"),
    }
}

impl PathCheck<'_> {
    fn context(&self) -> String {
        let p = self.path;
        format!(
            "{} {} {} → {}: verdict {:?}, causes {:#?}, source {}, egress {}, table {:?}",
            p.eni_role,
            p.eni_id,
            p.direction.as_str(),
            p.destination,
            p.verdict,
            p.causes,
            p.source_ip_at_peer,
            p.egress_eni,
            p.host_table
        )
    }

    pub fn reachable(&self) -> &Self {
        assert_eq!(self.path.verdict, Verdict::Reachable, "{}", self.context());
        assert_eq!(self.path.cause, None, "{}", self.context());
        assert!(self.path.causes.is_empty(), "{}", self.context());
        self
    }

    /// Unreachable, with `cause` as the first drop point.
    pub fn unreachable(&self, cause: Cause) -> &Self {
        assert_eq!(
            self.path.verdict,
            Verdict::Unreachable,
            "{}",
            self.context()
        );
        assert_eq!(self.path.cause, Some(cause), "{}", self.context());
        self
    }

    pub fn unknown(&self, cause: Cause) -> &Self {
        assert_eq!(self.path.verdict, Verdict::Unknown, "{}", self.context());
        assert_eq!(self.path.cause, Some(cause), "{}", self.context());
        self
    }

    /// `cause` is among the reasons (not necessarily the first).
    pub fn mentions(&self, cause: Cause) -> &Self {
        assert!(
            self.path.causes.iter().any(|r| r.code == cause),
            "{}",
            self.context()
        );
        self
    }

    /// The node IP when SNATed, `pod-ip` otherwise.
    pub fn source_at_peer(&self, source: &str) -> &Self {
        assert_eq!(self.path.source_ip_at_peer, source, "{}", self.context());
        self
    }

    pub fn leaves_by(&self, eni: &str) -> &Self {
        assert_eq!(self.path.egress_eni, eni, "{}", self.context());
        self
    }

    pub fn host_table(&self, table: HostTable) -> &Self {
        assert_eq!(self.path.host_table, table, "{}", self.context());
        self
    }

    pub fn role(&self, role: &str) -> &Self {
        assert_eq!(self.path.eni_role, role, "{}", self.context());
        self
    }
}

/// The findings of `kind` with `cause` in `direction`.
pub fn findings(
    report: &Report,
    kind: FindingKind,
    cause: Cause,
    direction: Direction,
) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.kind == kind && f.cause == cause && f.direction == direction)
        .collect()
}

/// The only finding of `kind` with `cause` in `direction`.
pub fn finding(report: &Report, kind: FindingKind, cause: Cause, direction: Direction) -> &Finding {
    let found = findings(report, kind, cause, direction);
    assert_eq!(
        found.len(),
        1,
        "expected one {} {} {} finding; findings: {:#?}",
        kind.as_str(),
        cause.code(),
        direction.as_str(),
        report
            .findings
            .iter()
            .map(|f| (f.kind, f.cause, f.direction, &f.destination))
            .collect::<Vec<_>>()
    );
    found[0]
}

/// The remediation commands of a finding.
pub fn commands(finding: &Finding) -> Vec<&str> {
    finding
        .remediation
        .iter()
        .filter_map(|r| r.command.as_deref())
        .collect()
}

/// The value following `flag` in a shell command line.
pub fn flag_value<'c>(command: &'c str, flag: &str) -> Option<&'c str> {
    let mut words = command.split_whitespace();
    words.find(|w| *w == flag)?;
    words.next()
}

pub fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("an IPv4 address")
}

// ---- Topologies shared by several test files ----------------------------------------------------

pub const POD_VPC_CIDR: &str = "100.64.0.0/16";
pub const POD_SUBNET: &str = "subnet-0a40e5f1c2d3b4a04";
pub const POD_SUBNET_CIDR: &str = "100.64.0.0/19";
pub const POD_ROUTE_TABLE: &str = "rtb-0a4e2d3c4b5a69704";
pub const POD_ENI_IPS: [&str; 5] = [
    "100.64.0.20",
    "100.64.0.21",
    "100.64.0.22",
    "100.64.0.23",
    "100.64.0.24",
];

/// A secondary VPC CIDR 100.64.0.0/16 with a pod subnet in the node's AZ, its own route table
/// (with or without the peering route), and the demo's secondary ENI moved into that subnet.
pub fn with_pod_subnet(mut snapshot: Snapshot, pod_subnet_routes_the_peer: bool) -> Snapshot {
    let vpc = snapshot.object_mut(VPCS_FILE, "Vpcs", "VpcId", CLUSTER_VPC);
    vpc["CidrBlockAssociationSet"]
        .as_array_mut()
        .expect("CIDR associations")
        .push(json!({
            "AssociationId": "vpc-cidr-assoc-0a1b2c3d4e5f60704",
            "CidrBlock": POD_VPC_CIDR,
            "CidrBlockState": { "State": "associated" }
        }));
    let pcx = snapshot.object_mut(
        PEERINGS_FILE,
        "VpcPeeringConnections",
        "VpcPeeringConnectionId",
        PEERING,
    );
    pcx["RequesterVpcInfo"]["CidrBlockSet"]
        .as_array_mut()
        .expect("CIDR set")
        .push(json!({ "CidrBlock": POD_VPC_CIDR }));
    snapshot.push(
        SUBNETS_FILE,
        "Subnets",
        subnet(POD_SUBNET, CLUSTER_VPC, POD_SUBNET_CIDR, "us-east-1a"),
    );
    let mut routes = vec![
        local_route("10.0.0.0/16"),
        local_route(POD_VPC_CIDR),
        nat_route(),
    ];
    if pod_subnet_routes_the_peer {
        routes.push(peering_route("10.1.0.0/16", PEERING));
    }
    snapshot.push(
        ROUTES_FILE,
        "RouteTables",
        route_table(POD_ROUTE_TABLE, CLUSTER_VPC, POD_SUBNET, routes),
    );

    let eni = snapshot.eni_mut(SECONDARY_ENI);
    eni["SubnetId"] = json!(POD_SUBNET);
    eni["PrivateIpAddress"] = json!(POD_ENI_IPS[0]);
    eni["PrivateIpAddresses"] = POD_ENI_IPS
        .iter()
        .enumerate()
        .map(|(i, ip)| private_ip(ip, i == 0))
        .collect();
    snapshot
}

/// Custom networking: ENIConfig for us-east-1a naming the pod subnet; the primary ENI keeps only
/// the node IP, and the pods run on the secondary ENI.
pub fn custom_networking(
    version: &str,
    env: &[(&str, &str)],
    pod_subnet_routes_the_peer: bool,
) -> Snapshot {
    let mut all_env = vec![
        ("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "true"),
        ("ENI_CONFIG_LABEL_DEF", "topology.kubernetes.io/zone"),
    ];
    all_env.extend_from_slice(env);
    let mut snapshot = with_pod_subnet(shop().cni(version, &all_env), pod_subnet_routes_the_peer);
    snapshot.insert(
        "shop/eniconfigs.json",
        json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": { "resourceVersion": "" },
            "items": [ {
                "apiVersion": "crd.k8s.amazonaws.com/v1alpha1",
                "kind": "ENIConfig",
                "metadata": { "name": "us-east-1a" },
                "spec": { "securityGroups": ["sg-0a7d1e2f3a4b5c6aa"], "subnet": POD_SUBNET }
            } ]
        }),
    );
    snapshot.eni_mut(PRIMARY_ENI)["PrivateIpAddresses"] = json!([private_ip(NODE_IP, true)]);
    for (from, to) in [
        ("10.0.1.11", "100.64.0.21"),
        ("10.0.1.12", "100.64.0.22"),
        ("10.0.1.21", "100.64.0.23"),
    ] {
        snapshot.move_pod(from, to);
    }
    snapshot.move_pod("10.0.1.22", "100.64.0.24");
    snapshot
}

pub const TRUNK_ENI: &str = "eni-0a05f1e2d3c4b5a65";
pub const BRANCH_ENI: &str = "eni-0a06f1e2d3c4b5a66";
pub const BRANCH_IP: &str = "10.0.1.50";

/// A trunk ENI on the node and one branch ENI (VLAN 1) for a pod in the `payments` namespace.
pub fn with_branch_eni(mut snapshot: Snapshot) -> Snapshot {
    let mut trunk = node_eni(TRUNK_ENI, NODE_SUBNET, 2, 0, &["10.0.1.40"]);
    trunk["InterfaceType"] = json!("trunk");
    trunk["Description"] = json!("trunk-eni");
    let mut branch = node_eni(BRANCH_ENI, NODE_SUBNET, 0, 0, &[BRANCH_IP]);
    let object = branch.as_object_mut().expect("ENI object");
    object.remove("Attachment");
    object.insert("InterfaceType".into(), json!("branch"));
    object.insert("Description".into(), json!("aws-k8s-branch-eni"));
    object.insert(
        "Groups".into(),
        json!([{ "GroupName": "pod-sg", "GroupId": "sg-0a7d1e2f3a4b5c6bb" }]),
    );
    object.insert(
        "TagSet".into(),
        json!([
            { "Key": "vpcresources.k8s.aws/trunk-eni-id", "Value": TRUNK_ENI },
            { "Key": "vpcresources.k8s.aws/vlan-id", "Value": "1" },
            { "Key": "eks:eni:owner", "Value": "eks-vpc-resource-controller" }
        ]),
    );
    snapshot.push(ENIS_FILE, "NetworkInterfaces", trunk);
    snapshot.push(ENIS_FILE, "NetworkInterfaces", branch);
    let annotation = json!([{
        "eniId": BRANCH_ENI, "ifAddress": "02:1a:2b:3c:4d:60", "privateIp": BRANCH_IP, "vlanId": 1,
        "subnetCidr": "10.0.0.0/20"
    }])
    .to_string();
    snapshot.push(
        PODS_FILE,
        "items",
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "ledger-5f7d8c9b6-k2x4q",
                "namespace": "payments",
                "annotations": { "vpc.amazonaws.com/pod-eni": annotation }
            },
            "spec": { "nodeName": "ip-10-0-1-10.ec2.internal", "containers": [ { "name": "ledger", "image": "ledger:1" } ] },
            "status": { "phase": "Running", "hostIP": NODE_IP, "podIP": BRANCH_IP, "podIPs": [ { "ip": BRANCH_IP } ] }
        }),
    );
    snapshot
}

pub const TGW: &str = "tgw-0a1b2c3d4e5f60a01";
pub const CLUSTER_TGW_ATTACHMENT: &str = "tgw-attach-0a1b2c3d4e5f60b01";
pub const SUBNET_AZ_B: &str = "subnet-0a11e5f1c2d3b4a05";
pub const PEER_TGW_ATTACHMENT: &str = "tgw-attach-0b1b2c3d4e5f60b02";
/// The table associated with the cluster VPC's attachment (spokes reach the shared services).
pub const SPOKE_TGW_TABLE: &str = "tgw-rtb-0a1b2c3d4e5f60c01";
/// The table associated with the peer VPC's attachment (shared services reach every spoke).
pub const SHARED_TGW_TABLE: &str = "tgw-rtb-0a1b2c3d4e5f60c02";
pub const TGW_TABLES_FILE: &str = "ec2/tgw/transit-gateway-route-tables.json";

/// The files of one transit gateway route table, as the AWS CLI prints them and the README's
/// recipe names them (the table id in the file name).
pub fn tgw_table_file(table: &str, what: &str) -> String {
    format!("ec2/tgw/{table}.{what}.json")
}

/// A transit gateway route as `search-transit-gateway-routes` prints it.
pub fn tgw_route(cidr: &str, attachment: Option<(&str, &str)>, kind: &str, state: &str) -> Value {
    let mut route = json!({ "DestinationCidrBlock": cidr, "Type": kind, "State": state });
    if let Some((id, vpc)) = attachment {
        route["TransitGatewayAttachments"] = json!([{
            "ResourceId": vpc, "TransitGatewayAttachmentId": id, "ResourceType": "vpc"
        }]);
    }
    route
}

fn tgw_link(id: &str, vpc: &str, state: &str) -> Value {
    json!({ "TransitGatewayAttachmentId": id, "ResourceId": vpc, "ResourceType": "vpc", "State": state })
}

impl Snapshot {
    /// The routes of a transit gateway route table of the fixture.
    pub fn tgw_routes_mut(&mut self, table: &str) -> &mut Vec<Value> {
        self.json_mut(&tgw_table_file(table, "routes"))["Routes"]
            .as_array_mut()
            .expect("Routes")
    }

    /// The propagations of a transit gateway route table of the fixture.
    pub fn tgw_propagations_mut(&mut self, table: &str) -> &mut Vec<Value> {
        self.json_mut(&tgw_table_file(table, "propagations"))["TransitGatewayRouteTablePropagations"]
            .as_array_mut()
            .expect("TransitGatewayRouteTablePropagations")
    }

    /// The associations of a transit gateway route table of the fixture.
    pub fn tgw_associations_mut(&mut self, table: &str) -> &mut Vec<Value> {
        self.json_mut(&tgw_table_file(table, "associations"))["Associations"]
            .as_array_mut()
            .expect("Associations")
    }

    /// Removes every transit gateway route table file.
    pub fn remove_tgw_route_tables(&mut self) {
        self.files.retain(|(p, _)| !p.starts_with("ec2/tgw/"));
    }
}

/// The peer reached through a transit gateway; the cluster VPC's attachment uses `attachment_subnet`.
pub fn via_transit_gateway(attachment_subnet: &str) -> Snapshot {
    let mut snapshot = shop().cni("v1.18.3", &[]);
    snapshot.push(
        SUBNETS_FILE,
        "Subnets",
        subnet(SUBNET_AZ_B, CLUSTER_VPC, "10.0.16.0/24", "us-east-1b"),
    );
    let to_tgw = |route: &mut Value| {
        let object = route.as_object_mut().expect("route");
        object.remove("VpcPeeringConnectionId");
        object.insert("TransitGatewayId".into(), json!(TGW));
    };
    to_tgw(snapshot.route_mut(ROUTES_FILE, NODE_ROUTE_TABLE, "10.1.0.0/16"));
    to_tgw(snapshot.route_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE, "10.0.0.0/16"));
    let attachment = |id: &str, vpc: &str, subnet: &str| {
        json!({
            "TransitGatewayAttachmentId": id,
            "TransitGatewayId": TGW,
            "VpcId": vpc,
            "VpcOwnerId": "111122223333",
            "State": "available",
            "SubnetIds": [subnet],
            "CreationTime": "2026-10-01T09:00:00+00:00",
            "Options": { "DnsSupport": "enable", "Ipv6Support": "disable", "ApplianceModeSupport": "disable" },
            "Tags": []
        })
    };
    snapshot.insert(
        "ec2/transit-gateway-vpc-attachments.json",
        json!({ "TransitGatewayVpcAttachments": [
            attachment(CLUSTER_TGW_ATTACHMENT, CLUSTER_VPC, attachment_subnet),
            attachment(PEER_TGW_ATTACHMENT, PEER_VPC, "subnet-0b20e5f1c2d3b4a02"),
        ] }),
    );
    // Two route tables, as a network team segments spokes from shared services: each VPC's
    // attachment is associated with its own table and propagates into the other one.
    snapshot.insert(
        TGW_TABLES_FILE,
        json!({ "TransitGatewayRouteTables": [
            { "TransitGatewayRouteTableId": SPOKE_TGW_TABLE, "TransitGatewayId": TGW, "State": "available",
              "DefaultAssociationRouteTable": false, "DefaultPropagationRouteTable": false,
              "CreationTime": "2026-10-01T09:00:00+00:00", "Tags": [] },
            { "TransitGatewayRouteTableId": SHARED_TGW_TABLE, "TransitGatewayId": TGW, "State": "available",
              "DefaultAssociationRouteTable": false, "DefaultPropagationRouteTable": false,
              "CreationTime": "2026-10-01T09:00:00+00:00", "Tags": [] }
        ] }),
    );
    for (table, associated, propagated) in [
        (
            SPOKE_TGW_TABLE,
            (CLUSTER_TGW_ATTACHMENT, CLUSTER_VPC),
            (PEER_TGW_ATTACHMENT, PEER_VPC, "10.1.0.0/16"),
        ),
        (
            SHARED_TGW_TABLE,
            (PEER_TGW_ATTACHMENT, PEER_VPC),
            (CLUSTER_TGW_ATTACHMENT, CLUSTER_VPC, "10.0.0.0/16"),
        ),
    ] {
        snapshot.insert(
            &tgw_table_file(table, "associations"),
            json!({ "Associations": [tgw_link(associated.0, associated.1, "associated")] }),
        );
        snapshot.insert(
            &tgw_table_file(table, "propagations"),
            json!({ "TransitGatewayRouteTablePropagations": [tgw_link(propagated.0, propagated.1, "enabled")] }),
        );
        snapshot.insert(
            &tgw_table_file(table, "routes"),
            json!({
                "Routes": [tgw_route(propagated.2, Some((propagated.0, propagated.1)), "propagated", "active")],
                "AdditionalRoutesAvailable": false
            }),
        );
    }
    snapshot
}
