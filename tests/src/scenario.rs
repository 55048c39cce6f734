//! Scenario generation for the differential test: one cluster, one node with a primary and a
//! secondary ENI, one peered VPC, and the settings that decide reachability.
//!
//! Each scenario is written out as the documents podreach reads (serialised from
//! `podreach_core::raw`, so they have exactly the shape of `aws ec2 describe-*`, `aws eks
//! describe-cluster` and `kubectl get daemonset aws-node -o json` output). The axes follow
//! docs/datapath.md §3 and §6: CNI version band, `AWS_VPC_K8S_CNI_EXTERNALSNAT`, the exclusion list
//! covering the destination (wholly, partly, not at all), `AWS_EXTERNAL_SERVICE_CIDRS`,
//! `AWS_VPC_CNI_NODE_PORT_SUPPORT`, `rp_filter` of the primary interface (an override, as on the
//! command line), where the secondary ENI lives and whether its subnet routes to the peering, and
//! what the peer VPC routes back. Scenarios are drawn with a fixed-seed generator so a failure
//! names a scenario that reproduces.

use std::collections::BTreeMap;
use std::fmt;

use podreach_core::AnalyzeOptions;
use podreach_core::model::Overrides;
use podreach_core::raw;
use podreach_core::snapshot::SourceFile;

pub const CLUSTER: &str = "lab";
pub const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
pub const PRIMARY_ENI: &str = "eni-0primary000000001";
pub const SECONDARY_ENI: &str = "eni-0second0000000002";
pub const PEERING: &str = "pcx-0feed000000000001";
pub const PEER_CIDR: &str = "10.1.0.0/16";

/// CNI releases covering the version bands of docs/datapath.md §2.1/§2.5.
pub const VERSIONS: &[&str] = &[
    "v1.2.1", "v1.5.5", "v1.7.10", "v1.10.4", "v1.12.0", "v1.12.5", "v1.15.1", "v1.19.0",
    "v1.20.4", "v1.23.0",
];

/// `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclude {
    None,
    /// Covers the whole peer VPC.
    Destination,
    /// Covers half of the peer subnet (`10.1.1.128/25`), so the destination is split.
    PartOfDestination,
    /// An unrelated range.
    Elsewhere,
}

impl Exclude {
    pub const ALL: [Exclude; 4] = [
        Exclude::None,
        Exclude::Destination,
        Exclude::PartOfDestination,
        Exclude::Elsewhere,
    ];
    fn value(self) -> Option<&'static str> {
        match self {
            Exclude::None => None,
            Exclude::Destination => Some(PEER_CIDR),
            Exclude::PartOfDestination => Some("10.1.1.128/25"),
            Exclude::Elsewhere => Some("192.168.0.0/16"),
        }
    }
}

/// Where the secondary ENI sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondarySubnet {
    /// In the node subnet (route table with the peering route).
    NodeSubnet,
    /// In a pod subnet of a secondary VPC CIDR whose route table has the peering route.
    PodSubnetWithRoute,
    /// In a pod subnet whose route table lacks the peering route.
    PodSubnetWithoutRoute,
}

impl SecondarySubnet {
    pub const ALL: [SecondarySubnet; 3] = [
        SecondarySubnet::NodeSubnet,
        SecondarySubnet::PodSubnetWithRoute,
        SecondarySubnet::PodSubnetWithoutRoute,
    ];
}

/// What the peer VPC's route table sends back over the peering. The partial ones cover some
/// addresses of a subnet and not others: the far side routes by address (node IP 10.0.1.10,
/// primary-ENI pod 10.0.1.11, secondary-ENI pod 10.0.1.21 or 100.64.0.11, prefixes
/// 10.0.1.48/28 or 100.64.0.32/28).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerReturn {
    NodeSubnetOnly,
    NodeAndPodSubnets,
    Nothing,
    /// `10.0.1.10/32`: the node IP and no pod.
    NodeIpOnly,
    /// `10.0.1.0/28`: the node IP and the primary-ENI pods, not the secondary ENI.
    NodeIpAndPrimaryPods,
    /// `10.0.1.16/28`, `10.0.1.48/28`, `100.64.0.0/19`: the secondary-ENI pods, not the node IP.
    SecondaryPodsOnly,
}

impl PeerReturn {
    pub const ALL: [PeerReturn; 6] = [
        PeerReturn::NodeSubnetOnly,
        PeerReturn::NodeAndPodSubnets,
        PeerReturn::Nothing,
        PeerReturn::NodeIpOnly,
        PeerReturn::NodeIpAndPrimaryPods,
        PeerReturn::SecondaryPodsOnly,
    ];

    /// The routes back over the peering.
    fn routes(self) -> &'static [&'static str] {
        match self {
            PeerReturn::NodeSubnetOnly => &["10.0.1.0/24"],
            PeerReturn::NodeAndPodSubnets => &["10.0.1.0/24", "100.64.0.0/19"],
            PeerReturn::Nothing => &[],
            PeerReturn::NodeIpOnly => &["10.0.1.10/32"],
            PeerReturn::NodeIpAndPrimaryPods => &["10.0.1.0/28"],
            PeerReturn::SecondaryPodsOnly => &["10.0.1.16/28", "10.0.1.48/28", "100.64.0.0/19"],
        }
    }
}

/// The security groups and network ACLs of the scenario (docs/datapath.md §5.7). The peer's
/// database is an ENI at 10.1.1.50 in group `sg-0peer`; the probes use tcp/7000 both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filters {
    /// No `describe-security-groups` or `describe-network-acls` output: the model assumes.
    None,
    /// The peer's group admits tcp/7000 from every cluster address; ACLs allow everything.
    Open,
    /// The peer's group admits tcp/7000 from the node subnet 10.0.1.0/24 only.
    PeerAdmitsNodeSubnet,
    /// The peer's group admits tcp/7000 from the pod subnet 100.64.0.0/19 only.
    PeerAdmitsPodSubnet,
    /// The peer's group admits tcp/7000 from the node group `sg-0node` across the peering (the
    /// primary ENI carries it; a secondary ENI in the pod subnet carries `sg-0pods`).
    PeerAdmitsNodeGroup,
    /// The node subnet's ACL denies tcp/7000 to the peer at rule 50, before allowing all at 100.
    DenyBeforeAllow,
    /// The peer subnet's ACL lets out only tcp/0-1023: no reply to an ephemeral port.
    NoEphemeralReturn,
}

impl Filters {
    pub const ALL: [Filters; 7] = [
        Filters::None,
        Filters::Open,
        Filters::PeerAdmitsNodeSubnet,
        Filters::PeerAdmitsPodSubnet,
        Filters::PeerAdmitsNodeGroup,
        Filters::DenyBeforeAllow,
        Filters::NoEphemeralReturn,
    ];
}

/// `POD_SECURITY_GROUP_ENFORCING_MODE` of a scenario with security groups for pods (before
/// v1.11.0 the CNI ignores it: strict is the only set-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgpMode {
    Strict,
    Standard,
}

/// Security groups for pods on the scenario's node (CNI v1.7.0 and later): a trunk ENI at device
/// 2 and one branch ENI on VLAN [`BRANCH_VLAN`] in the trunk's subnet, its address held by a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sgp {
    pub mode: SgpMode,
    /// Trunk and branch ENI in the pod subnet (whose route to the peer follows
    /// [`Scenario::secondary_subnet`]) instead of the node subnet.
    pub in_pod_subnet: bool,
    /// The branch ENI's group `sg-0branch` admits everything from the peer VPC; otherwise it
    /// admits nothing (only replies pass). Applies when the scenario has filters.
    pub branch_admits_peer: bool,
}

pub const TRUNK_ENI: &str = "eni-0trunk00000000003";
pub const BRANCH_ENI: &str = "eni-0branch0000000004";
pub const BRANCH_VLAN: u32 = 3;

impl Sgp {
    /// The branch ENI's (and so its pod's) address: in the node subnet it sits in 10.0.1.16/28,
    /// which [`PeerReturn::SecondaryPodsOnly`] routes back and [`PeerReturn::NodeIpAndPrimaryPods`]
    /// does not.
    pub fn branch_ip(self) -> &'static str {
        if self.in_pod_subnet {
            "100.64.0.41"
        } else {
            "10.0.1.25"
        }
    }
    fn trunk_ip(self) -> &'static str {
        if self.in_pod_subnet {
            "100.64.0.40"
        } else {
            "10.0.1.40"
        }
    }
    fn subnet(self) -> &'static str {
        if self.in_pod_subnet {
            "subnet-0pods"
        } else {
            "subnet-0node"
        }
    }

    /// The trunk ENI (attached at device 2) and the branch ENI as `describe-network-interfaces`
    /// shows them: the branch has no attachment, and the VPC resource controller's tags name
    /// its trunk and VLAN.
    fn enis(self) -> [raw::NetworkInterface; 2] {
        let mut trunk = eni(
            TRUNK_ENI,
            self.subnet(),
            2,
            self.trunk_ip(),
            &[],
            None,
            "trunk-eni",
        );
        trunk.interface_type = Some("trunk".to_owned());
        let mut branch = eni(
            BRANCH_ENI,
            self.subnet(),
            0,
            self.branch_ip(),
            &[],
            None,
            "aws-k8s-branch-eni",
        );
        branch.attachment = None;
        branch.interface_type = Some("branch".to_owned());
        branch.groups = vec![raw::GroupIdentifier {
            group_id: "sg-0branch".to_owned(),
            group_name: Some("pod-sg".to_owned()),
        }];
        branch.tag_set = vec![
            tag("vpcresources.k8s.aws/trunk-eni-id", TRUNK_ENI),
            tag("vpcresources.k8s.aws/vlan-id", &BRANCH_VLAN.to_string()),
            tag("eks:eni:owner", "eks-vpc-resource-controller"),
        ];
        [trunk, branch]
    }
}

/// The TCP port of every probe, and the port the model is asked about.
pub const PORT: u16 = 7000;

/// One generated configuration.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: usize,
    pub version: &'static str,
    pub external_snat: bool,
    pub exclude: Exclude,
    /// `AWS_EXTERNAL_SERVICE_CIDRS` = the peer VPC (ignored by the CNI before v1.12.6).
    pub external_service: bool,
    pub node_port_support: bool,
    pub rp_filter_primary: u8,
    /// `rp_filter` of the other interfaces, when told (`None`: unknown; the lab then uses 0).
    pub rp_filter_secondary: Option<u8>,
    pub secondary_subnet: SecondarySubnet,
    pub peer_return: PeerReturn,
    /// Secondary-ENI pod addresses come from a delegated /28 instead of secondary IPs.
    pub prefix_delegation: bool,
    /// The peering is not active (`pending-acceptance`).
    pub peering_inactive: bool,
    /// The node subnet's route to the peer names a managed prefix list (whose entries are in
    /// the snapshot) instead of the peer's CIDR.
    pub via_prefix_list: bool,
    /// The peer is reached through a transit gateway instead of the peering: `Some(true)` when
    /// the cluster VPC's attachment has a subnet in the node's Availability Zone, `Some(false)`
    /// when it has one only in another AZ (AWS drops traffic from an AZ without one).
    pub via_tgw: Option<bool>,
    pub filters: Filters,
    /// Security groups for pods (`ENABLE_POD_ENI=true`), with a branch-ENI pod.
    pub sgp: Option<Sgp>,
}

/// The transit gateway of [`Scenario::via_tgw`].
pub const TGW: &str = "tgw-0feed000000000001";

/// The managed prefix list of [`Scenario::via_prefix_list`].
const PREFIX_LIST: &str = "pl-0a1b2c3d4e5f60718";

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} CNI {} EXTERNALSNAT={} EXCLUDE_SNAT_CIDRS={} EXTERNAL_SERVICE_CIDRS={} NODE_PORT_SUPPORT={} \
             rp_filter(eth0)={} rp_filter(others)={} secondary ENI {:?}{} peer returns {:?}{}",
            self.id,
            self.version,
            self.external_snat,
            self.exclude.value().unwrap_or("-"),
            if self.external_service {
                PEER_CIDR
            } else {
                "-"
            },
            self.node_port_support,
            self.rp_filter_primary,
            self.rp_filter_secondary
                .map_or_else(|| "unknown (lab: 0)".to_owned(), |m| m.to_string()),
            self.secondary_subnet,
            if self.prefix_delegation {
                " (prefix /28)"
            } else {
                ""
            },
            self.peer_return,
            if self.peering_inactive {
                ", peering pending-acceptance"
            } else {
                ""
            },
        )?;
        if self.via_prefix_list {
            write!(f, ", route to the peer by prefix list {PREFIX_LIST}")?;
        }
        match self.via_tgw {
            Some(true) => write!(f, ", via {TGW} (attached in the node's AZ)")?,
            Some(false) => write!(f, ", via {TGW} (attached only in another AZ)")?,
            None => {}
        }
        if self.filters != Filters::None {
            write!(f, ", filters {:?}", self.filters)?;
        }
        if let Some(sgp) = self.sgp {
            write!(
                f,
                ", security groups for pods {:?} (branch ENI {} on VLAN {BRANCH_VLAN} in {}, its group {} the peer)",
                sgp.mode,
                sgp.branch_ip(),
                sgp.subnet(),
                if sgp.branch_admits_peer {
                    "admits"
                } else {
                    "does not admit"
                }
            )?;
        }
        Ok(())
    }
}

/// splitmix64: a tiny deterministic generator, so scenario `n` is the same on every run.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let len = u64::try_from(items.len()).unwrap_or(1);
        items[usize::try_from(self.next() % len).unwrap_or(0)]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `count` scenarios. The first ones walk every value of every axis (so even a short run covers
/// them all); the rest are drawn at random with a fixed seed.
pub fn generate(count: usize) -> Vec<Scenario> {
    let mut rng = Rng(0x0005_eed0_f90d_2eac);
    // The filter axis has its own generator: adding it left every other axis of every
    // scenario as it was.
    let mut filter_rng = Rng(0x0f11_7e25_5eed_0001);
    // So has security groups for pods (drawn for every scenario, used from CNI v1.7.0).
    let mut sgp_rng = Rng(0x05a9_b4a1_c4e5_0019);
    (0..count)
        .map(|id| {
            let mut s = Scenario {
                id,
                version: rng.pick(VERSIONS),
                external_snat: rng.chance(35),
                exclude: rng.pick(&Exclude::ALL),
                external_service: rng.chance(30),
                node_port_support: rng.chance(60),
                rp_filter_primary: if rng.chance(35) { 1 } else { 2 },
                rp_filter_secondary: rng.pick(&[None, Some(1), Some(2)]),
                secondary_subnet: rng.pick(&SecondarySubnet::ALL),
                peer_return: rng.pick(&PeerReturn::ALL),
                prefix_delegation: rng.chance(25),
                peering_inactive: rng.chance(5),
                via_prefix_list: rng.chance(25),
                via_tgw: if rng.chance(20) {
                    Some(rng.chance(50))
                } else {
                    None
                },
                filters: filter_rng.pick(&Filters::ALL),
                sgp: None,
            };
            let sgp = Sgp {
                mode: sgp_rng.pick(&[SgpMode::Strict, SgpMode::Standard]),
                in_pod_subnet: sgp_rng.chance(40),
                branch_admits_peer: sgp_rng.chance(75),
            };
            let with_sgp = sgp_rng.chance(50);
            if id < 12 {
                // Walk each axis deterministically first.
                s.version = VERSIONS[id % VERSIONS.len()];
                s.exclude = Exclude::ALL[id % Exclude::ALL.len()];
                s.secondary_subnet = SecondarySubnet::ALL[id % SecondarySubnet::ALL.len()];
                s.peer_return = PeerReturn::ALL[(id / 2) % PeerReturn::ALL.len()];
                s.external_snat = id % 2 == 1;
                s.node_port_support = id % 4 < 2;
                s.rp_filter_primary = if id % 3 == 0 { 1 } else { 2 };
                s.rp_filter_secondary = [None, Some(1), Some(2)][id % 3];
                s.external_service = id % 5 == 0;
                s.prefix_delegation = id % 6 == 5;
                s.peering_inactive = id == 11;
                s.via_prefix_list = id % 4 == 3;
                s.via_tgw = match id {
                    2 => Some(true),
                    7 => Some(false),
                    _ => None,
                };
                s.filters = Filters::ALL[id % Filters::ALL.len()];
                if id == 7 {
                    // Everything else lets the traffic through: only the AZ rule can stop it.
                    s.peer_return = PeerReturn::NodeAndPodSubnets;
                    s.external_snat = false;
                }
            } else if id < 20 {
                // Then security groups for pods: each mode with node port support on and off,
                // SNAT on and off, across the versions where the set-up changed (strict only
                // before v1.11.0; rule 1024 gated by node port support alone until v1.12.1).
                let (version, mode, n, e) = [
                    ("v1.12.0", SgpMode::Standard, false, false),
                    ("v1.12.0", SgpMode::Standard, true, false),
                    ("v1.12.0", SgpMode::Strict, false, false),
                    ("v1.23.0", SgpMode::Standard, false, false),
                    ("v1.23.0", SgpMode::Strict, true, true),
                    ("v1.10.4", SgpMode::Standard, true, false),
                    ("v1.12.5", SgpMode::Standard, true, true),
                    ("v1.7.10", SgpMode::Strict, false, false),
                ][id - 12];
                s.version = version;
                s.node_port_support = n;
                s.external_snat = e;
                s.via_tgw = None;
                s.peering_inactive = false;
                if id == 12 {
                    // Issue 19's case with nothing else in the way: the kernel sends the pod's
                    // own address out of the branch ENI, and the peer routes it back.
                    s.exclude = Exclude::None;
                    s.peer_return = PeerReturn::NodeAndPodSubnets;
                    s.filters = Filters::Open;
                }
                s.sgp = Some(Sgp {
                    mode,
                    in_pod_subnet: id % 3 == 1,
                    branch_admits_peer: id != 15,
                });
            }
            if !(12..20).contains(&id) && with_sgp && s.has_pod_eni_support() {
                s.sgp = Some(sgp);
            }
            s
        })
        .collect()
}

fn tag(key: &str, value: &str) -> raw::Tag {
    raw::Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn route(destination: &str, gateway: Option<&str>, pcx: Option<&str>) -> raw::Route {
    raw::Route {
        destination_cidr_block: Some(destination.to_owned()),
        gateway_id: gateway.map(str::to_owned),
        vpc_peering_connection_id: pcx.map(str::to_owned),
        origin: Some(
            if gateway == Some("local") {
                "CreateRouteTable"
            } else {
                "CreateRoute"
            }
            .to_owned(),
        ),
        state: Some("active".to_owned()),
        ..raw::Route::default()
    }
}

fn association(rtb: &str, subnet: Option<&str>, main: bool) -> raw::RouteTableAssociation {
    raw::RouteTableAssociation {
        main,
        route_table_association_id: Some(format!("rtbassoc-{}", &rtb[4..])),
        route_table_id: Some(rtb.to_owned()),
        subnet_id: subnet.map(str::to_owned),
        gateway_id: None,
        association_state: Some(raw::StateWrapper {
            state: "associated".to_owned(),
        }),
    }
}

fn route_table(
    id: &str,
    vpc: &str,
    associations: Vec<raw::RouteTableAssociation>,
    routes: Vec<raw::Route>,
) -> raw::RouteTable {
    raw::RouteTable {
        route_table_id: id.to_owned(),
        vpc_id: vpc.to_owned(),
        associations,
        routes,
        owner_id: Some("111122223333".to_owned()),
        tags: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn eni(
    id: &str,
    subnet: &str,
    device_index: u32,
    primary_ip: &str,
    secondary: &[&str],
    prefix: Option<&str>,
    description: &str,
) -> raw::NetworkInterface {
    let mut private = vec![raw::PrivateIpAddress {
        private_ip_address: primary_ip.to_owned(),
        primary: true,
    }];
    private.extend(secondary.iter().map(|ip| raw::PrivateIpAddress {
        private_ip_address: (*ip).to_owned(),
        primary: false,
    }));
    raw::NetworkInterface {
        network_interface_id: id.to_owned(),
        subnet_id: subnet.to_owned(),
        vpc_id: "vpc-0c1u5ter000000001".to_owned(),
        availability_zone: Some("us-west-2a".to_owned()),
        attachment: Some(raw::EniAttachment {
            attachment_id: Some(format!("eni-attach-{device_index}")),
            device_index,
            network_card_index: Some(0),
            instance_id: Some(INSTANCE.to_owned()),
            status: Some("attached".to_owned()),
        }),
        description: Some(description.to_owned()),
        groups: vec![raw::GroupIdentifier {
            group_id: "sg-0node".to_owned(),
            group_name: Some("eks-node".to_owned()),
        }],
        interface_type: Some("interface".to_owned()),
        private_ip_address: Some(primary_ip.to_owned()),
        private_ip_addresses: private,
        ipv4_prefixes: prefix
            .map(|p| {
                vec![raw::Ipv4PrefixSpecification {
                    ipv4_prefix: p.to_owned(),
                }]
            })
            .unwrap_or_default(),
        ipv6_addresses: vec![],
        source_dest_check: Some(true),
        status: Some("in-use".to_owned()),
        owner_id: Some("111122223333".to_owned()),
        tag_set: vec![
            tag("cluster.k8s.amazonaws.com/name", CLUSTER),
            tag("node.k8s.amazonaws.com/instance_id", INSTANCE),
        ],
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

impl Scenario {
    /// Security groups for pods exist from CNI v1.7.0.
    pub fn has_pod_eni_support(&self) -> bool {
        podreach_core::cni::Version::parse_loose(self.version)
            .is_some_and(|v| v >= podreach_core::cni::Version::new(1, 7, 0))
    }

    /// The snapshot files of this scenario.
    pub fn files(&self) -> Vec<SourceFile> {
        let vpc = "vpc-0c1u5ter000000001";
        let peer_vpc = "vpc-0peer00000000001";
        let vpcs = raw::DescribeVpcs {
            vpcs: vec![
                raw::Vpc {
                    vpc_id: vpc.to_owned(),
                    cidr_block: "10.0.0.0/16".to_owned(),
                    cidr_block_association_set: ["10.0.0.0/16", "100.64.0.0/16"]
                        .iter()
                        .enumerate()
                        .map(|(i, c)| raw::CidrBlockAssociation {
                            cidr_block: (*c).to_owned(),
                            association_id: Some(format!("vpc-cidr-assoc-{i}")),
                            cidr_block_state: Some(raw::StateWrapper {
                                state: "associated".to_owned(),
                            }),
                        })
                        .collect(),
                    owner_id: Some("111122223333".to_owned()),
                    tags: vec![],
                },
                raw::Vpc {
                    vpc_id: peer_vpc.to_owned(),
                    cidr_block: PEER_CIDR.to_owned(),
                    cidr_block_association_set: vec![],
                    owner_id: Some("111122223333".to_owned()),
                    tags: vec![],
                },
            ],
        };
        let subnet_in = |id: &str, vpc: &str, cidr: &str, az: &str| raw::Subnet {
            subnet_id: id.to_owned(),
            vpc_id: vpc.to_owned(),
            cidr_block: cidr.to_owned(),
            availability_zone: format!("us-west-2{az}"),
            availability_zone_id: Some(format!("usw2-az{}", if az == "a" { 1 } else { 2 })),
            owner_id: Some("111122223333".to_owned()),
            tags: vec![],
        };
        let subnet = |id: &str, vpc: &str, cidr: &str| subnet_in(id, vpc, cidr, "a");
        let mut subnets = raw::DescribeSubnets {
            subnets: vec![
                subnet("subnet-0node", vpc, "10.0.1.0/24"),
                subnet("subnet-0pods", vpc, "100.64.0.0/19"),
                subnet("subnet-0peer", peer_vpc, "10.1.1.0/24"),
            ],
        };
        // The object the private routes use: the peering, or the transit gateway.
        let via = if self.via_tgw.is_some() { TGW } else { PEERING };
        let private = |destination: &str| {
            if via == TGW {
                raw::Route {
                    transit_gateway_id: Some(TGW.to_owned()),
                    ..route(destination, None, None)
                }
            } else {
                route(destination, None, Some(PEERING))
            }
        };
        let mut attachments = None;
        if let Some(in_node_az) = self.via_tgw {
            let cluster_subnet = if in_node_az {
                "subnet-0node"
            } else {
                subnets
                    .subnets
                    .push(subnet_in("subnet-0tgwb", vpc, "10.0.250.0/28", "b"));
                "subnet-0tgwb"
            };
            let attachment = |id: &str, vpc: &str, subnet: &str| raw::TransitGatewayVpcAttachment {
                transit_gateway_attachment_id: id.to_owned(),
                transit_gateway_id: TGW.to_owned(),
                vpc_id: vpc.to_owned(),
                subnet_ids: vec![subnet.to_owned()],
                state: "available".to_owned(),
                vpc_owner_id: Some("111122223333".to_owned()),
                options: None,
                tags: vec![],
            };
            attachments = Some(raw::DescribeTransitGatewayVpcAttachments {
                transit_gateway_vpc_attachments: vec![
                    attachment("tgw-attach-0c1u5ter0000001", vpc, cluster_subnet),
                    attachment("tgw-attach-0peer00000000001", peer_vpc, "subnet-0peer"),
                ],
            });
        }
        let locals = || {
            vec![
                route("10.0.0.0/16", Some("local"), None),
                route("100.64.0.0/16", Some("local"), None),
            ]
        };
        let mut node_routes = locals();
        if self.via_prefix_list {
            node_routes.push(raw::Route {
                destination_cidr_block: None,
                destination_prefix_list_id: Some(PREFIX_LIST.to_owned()),
                ..private(PEER_CIDR)
            });
        } else {
            node_routes.push(private(PEER_CIDR));
        }
        node_routes.push(route("0.0.0.0/0", Some("igw-0internet"), None));
        let mut pod_routes = locals();
        if self.secondary_subnet != SecondarySubnet::PodSubnetWithoutRoute {
            pod_routes.push(private(PEER_CIDR));
        }
        pod_routes.push(route("0.0.0.0/0", Some("igw-0internet"), None));
        let mut peer_routes = vec![route(PEER_CIDR, Some("local"), None)];
        for cidr in self.peer_return.routes() {
            peer_routes.push(private(cidr));
        }
        let route_tables = raw::DescribeRouteTables {
            route_tables: vec![
                route_table(
                    "rtb-0main",
                    vpc,
                    vec![association("rtb-0main", None, true)],
                    {
                        let mut r = locals();
                        r.push(route("0.0.0.0/0", Some("igw-0internet"), None));
                        r
                    },
                ),
                route_table(
                    "rtb-0node",
                    vpc,
                    vec![association("rtb-0node", Some("subnet-0node"), false)],
                    node_routes,
                ),
                route_table(
                    "rtb-0pods",
                    vpc,
                    vec![association("rtb-0pods", Some("subnet-0pods"), false)],
                    pod_routes,
                ),
                route_table(
                    "rtb-0peer",
                    peer_vpc,
                    vec![
                        association("rtb-0peer", None, true),
                        association("rtb-0peer", Some("subnet-0peer"), false),
                    ],
                    peer_routes,
                ),
            ],
        };
        let secondary = match (self.secondary_subnet, self.prefix_delegation) {
            (SecondarySubnet::NodeSubnet, false) => eni(
                SECONDARY_ENI,
                "subnet-0node",
                1,
                "10.0.1.20",
                &["10.0.1.21", "10.0.1.22"],
                None,
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
            (SecondarySubnet::NodeSubnet, true) => eni(
                SECONDARY_ENI,
                "subnet-0node",
                1,
                "10.0.1.20",
                &[],
                Some("10.0.1.48/28"),
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
            (_, false) => eni(
                SECONDARY_ENI,
                "subnet-0pods",
                1,
                "100.64.0.10",
                &["100.64.0.11", "100.64.0.12"],
                None,
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
            (_, true) => eni(
                SECONDARY_ENI,
                "subnet-0pods",
                1,
                "100.64.0.10",
                &[],
                Some("100.64.0.32/28"),
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
        };
        let mut secondary = secondary;
        if self.secondary_subnet != SecondarySubnet::NodeSubnet {
            secondary.groups = vec![raw::GroupIdentifier {
                group_id: "sg-0pods".to_owned(),
                group_name: Some("eks-pods".to_owned()),
            }];
        }
        let mut enis = raw::DescribeNetworkInterfaces {
            network_interfaces: vec![
                eni(
                    PRIMARY_ENI,
                    "subnet-0node",
                    0,
                    "10.0.1.10",
                    &["10.0.1.11", "10.0.1.12"],
                    None,
                    "",
                ),
                secondary,
            ],
        };
        if let Some(sgp) = self.sgp {
            enis.network_interfaces.extend(sgp.enis());
        }
        let instances = raw::DescribeInstances {
            reservations: vec![raw::Reservation {
                instances: vec![raw::Instance {
                    instance_id: INSTANCE.to_owned(),
                    instance_type: Some("m5.large".to_owned()),
                    private_dns_name: Some("ip-10-0-1-10.us-west-2.compute.internal".to_owned()),
                    private_ip_address: Some("10.0.1.10".to_owned()),
                    subnet_id: Some("subnet-0node".to_owned()),
                    vpc_id: Some(vpc.to_owned()),
                    state: Some(raw::InstanceState {
                        code: Some(16),
                        name: "running".to_owned(),
                    }),
                    platform: None,
                    tags: vec![
                        tag(&format!("kubernetes.io/cluster/{CLUSTER}"), "owned"),
                        tag("eks:cluster-name", CLUSTER),
                    ],
                }],
                reservation_id: Some("r-0123".to_owned()),
                owner_id: Some("111122223333".to_owned()),
            }],
        };
        let info = |vpc: &str, cidrs: &[&str]| raw::PeeringVpcInfo {
            vpc_id: Some(vpc.to_owned()),
            cidr_block: Some(cidrs[0].to_owned()),
            cidr_block_set: cidrs
                .iter()
                .map(|c| raw::CidrBlockEntry {
                    cidr_block: (*c).to_owned(),
                })
                .collect(),
            owner_id: Some("111122223333".to_owned()),
            region: Some("us-west-2".to_owned()),
        };
        let peerings = raw::DescribeVpcPeeringConnections {
            vpc_peering_connections: vec![raw::VpcPeeringConnection {
                vpc_peering_connection_id: PEERING.to_owned(),
                requester_vpc_info: info(vpc, &["10.0.0.0/16", "100.64.0.0/16"]),
                accepter_vpc_info: info(peer_vpc, &[PEER_CIDR]),
                status: raw::PeeringStatus {
                    code: if self.peering_inactive {
                        "pending-acceptance"
                    } else {
                        "active"
                    }
                    .to_owned(),
                    message: None,
                },
                tags: vec![],
            }],
        };
        let cluster = raw::DescribeCluster {
            cluster: raw::Cluster {
                name: CLUSTER.to_owned(),
                arn: Some(format!(
                    "arn:aws:eks:us-west-2:111122223333:cluster/{CLUSTER}"
                )),
                version: Some("1.31".to_owned()),
                resources_vpc_config: raw::ResourcesVpcConfig {
                    vpc_id: vpc.to_owned(),
                    subnet_ids: vec!["subnet-0node".to_owned()],
                    security_group_ids: vec![],
                    cluster_security_group_id: Some("sg-0cluster".to_owned()),
                    endpoint_public_access: Some(true),
                    endpoint_private_access: Some(false),
                    public_access_cidrs: vec!["0.0.0.0/0".to_owned()],
                },
                kubernetes_network_config: Some(raw::KubernetesNetworkConfig {
                    service_ipv4_cidr: Some("172.20.0.0/16".to_owned()),
                    service_ipv6_cidr: None,
                    ip_family: Some("ipv4".to_owned()),
                }),
                status: Some("ACTIVE".to_owned()),
                compute_config: None,
                tags: BTreeMap::new(),
                endpoint: None,
                certificate_authority: None,
                access_config: None,
            },
        };
        let env = |name: &str, value: String| raw::EnvVar {
            name: name.to_owned(),
            value: Some(value),
            value_from: None,
        };
        let mut vars = vec![
            env(
                "AWS_VPC_K8S_CNI_EXTERNALSNAT",
                self.external_snat.to_string(),
            ),
            env(
                "AWS_VPC_CNI_NODE_PORT_SUPPORT",
                self.node_port_support.to_string(),
            ),
            env("AWS_VPC_K8S_CNI_VETHPREFIX", "eni".to_owned()),
        ];
        if let Some(x) = self.exclude.value() {
            vars.push(env("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", x.to_owned()));
        }
        if self.external_service {
            vars.push(env("AWS_EXTERNAL_SERVICE_CIDRS", PEER_CIDR.to_owned()));
        }
        if let Some(sgp) = self.sgp {
            vars.push(env("ENABLE_POD_ENI", "true".to_owned()));
            vars.push(env(
                "POD_SECURITY_GROUP_ENFORCING_MODE",
                match sgp.mode {
                    SgpMode::Strict => "strict",
                    SgpMode::Standard => "standard",
                }
                .to_owned(),
            ));
        }
        let image = format!(
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:{}-eksbuild.1",
            self.version
        );
        let container = |name: &str, image: String, env: Vec<raw::EnvVar>| raw::Container {
            name: name.to_owned(),
            image: Some(image),
            env,
        };
        let has_init = podreach_core::cni::Version::parse_loose(self.version)
            .is_some_and(|v| v >= podreach_core::cni::Version::new(1, 7, 0));
        let daemonset = raw::DaemonSet {
            api_version: "apps/v1".to_owned(),
            kind: "DaemonSet".to_owned(),
            metadata: raw::ObjectMeta {
                name: "aws-node".to_owned(),
                namespace: Some("kube-system".to_owned()),
                ..raw::ObjectMeta::default()
            },
            spec: raw::DaemonSetSpec {
                template: raw::PodTemplateSpec {
                    spec: raw::PodSpec {
                        containers: vec![container("aws-node", image.clone(), vars)],
                        init_containers: if has_init {
                            vec![container(
                                "aws-vpc-cni-init",
                                image.replace("amazon-k8s-cni:", "amazon-k8s-cni-init:"),
                                vec![],
                            )]
                        } else {
                            vec![]
                        },
                        node_name: None,
                        host_network: Some(true),
                    },
                },
            },
        };
        let file = |path: &str, text: String| SourceFile {
            path: path.to_owned(),
            text,
        };
        // `aws ec2 get-managed-prefix-list-entries` does not name the list: the file does.
        let entries = raw::GetManagedPrefixListEntries {
            prefix_list_id: None,
            entries: vec![raw::PrefixListEntry {
                cidr: PEER_CIDR.to_owned(),
                description: Some("peer VPC".to_owned()),
            }],
        };
        let mut files = vec![
            file("ec2/vpcs.json", json(&vpcs)),
            file("ec2/subnets.json", json(&subnets)),
            file("ec2/route-tables.json", json(&route_tables)),
            file("ec2/network-interfaces.json", json(&enis)),
            file("ec2/instances.json", json(&instances)),
            file("ec2/vpc-peering-connections.json", json(&peerings)),
            file("eks/cluster.json", json(&cluster)),
            file("eks/aws-node.json", json(&daemonset)),
        ];
        if self.via_prefix_list {
            files.push(file(&format!("ec2/{PREFIX_LIST}.json"), json(&entries)));
        }
        if self.filters != Filters::None {
            let (groups, acls, peer_enis) = self.filter_documents(vpc, peer_vpc);
            files.push(file("ec2/security-groups.json", json(&groups)));
            files.push(file("ec2/network-acls.json", json(&acls)));
            files.push(file("ec2/peer-network-interfaces.json", json(&peer_enis)));
        }
        if let Some(attachments) = attachments {
            files.push(file("ec2/tgw-attachments.json", json(&attachments)));
        }
        files
    }

    /// What the user would pass on the command line about the node: the primary interface's
    /// `rp_filter`.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            rp_filter_primary: Some(self.rp_filter_primary),
            rp_filter_secondary: self.rp_filter_secondary,
            ..Overrides::default()
        }
    }

    /// The question the model is asked, as the lab asks the kernel: the probes' TCP port
    /// (`--port tcp/7000`), with every per-ENI row.
    pub fn question(&self) -> AnalyzeOptions {
        AnalyzeOptions {
            include_paths: true,
            tcp_ports: vec![PORT],
        }
    }

    /// The groups, ACLs and the peer's database ENI of [`Scenario::filters`].
    fn filter_documents(
        &self,
        vpc: &str,
        peer_vpc: &str,
    ) -> (
        raw::DescribeSecurityGroups,
        raw::DescribeNetworkAcls,
        raw::DescribeNetworkInterfaces,
    ) {
        let permission =
            |protocol: &str, ports: Option<(u16, u16)>, cidrs: &[&str], groups: &[&str]| {
                raw::IpPermission {
                    ip_protocol: protocol.to_owned(),
                    from_port: ports.map(|p| i64::from(p.0)),
                    to_port: ports.map(|p| i64::from(p.1)),
                    ip_ranges: cidrs
                        .iter()
                        .map(|c| raw::IpRange {
                            cidr_ip: (*c).to_owned(),
                            description: None,
                        })
                        .collect(),
                    ipv6_ranges: vec![],
                    prefix_list_ids: vec![],
                    user_id_group_pairs: groups
                        .iter()
                        .map(|g| raw::UserIdGroupPair {
                            group_id: Some((*g).to_owned()),
                            group_name: None,
                            user_id: Some("111122223333".to_owned()),
                            vpc_id: Some(vpc.to_owned()),
                            vpc_peering_connection_id: Some(PEERING.to_owned()),
                            peering_status: Some("active".to_owned()),
                            description: None,
                        })
                        .collect(),
                }
            };
        let everything_out = || vec![permission("-1", None, &["0.0.0.0/0"], &[])];
        let group = |id: &str, vpc_id: &str, inbound: Vec<raw::IpPermission>| raw::SecurityGroup {
            group_id: id.to_owned(),
            group_name: Some(id.to_owned()),
            description: Some(id.to_owned()),
            vpc_id: Some(vpc_id.to_owned()),
            owner_id: Some("111122223333".to_owned()),
            ip_permissions: inbound,
            ip_permissions_egress: everything_out(),
            tags: vec![],
        };
        let port = Some((PORT, PORT));
        let peer_inbound = match self.filters {
            Filters::PeerAdmitsNodeSubnet => vec![permission("tcp", port, &["10.0.1.0/24"], &[])],
            Filters::PeerAdmitsPodSubnet => vec![permission("tcp", port, &["100.64.0.0/19"], &[])],
            Filters::PeerAdmitsNodeGroup => vec![permission("tcp", port, &[], &["sg-0node"])],
            _ => vec![permission(
                "tcp",
                port,
                &["10.0.0.0/16", "100.64.0.0/16"],
                &[],
            )],
        };
        let cluster_inbound = || vec![permission("-1", None, &[PEER_CIDR], &[])];
        let branch_inbound = match self.sgp {
            Some(sgp) if sgp.branch_admits_peer => cluster_inbound(),
            _ => vec![],
        };
        let groups = raw::DescribeSecurityGroups {
            security_groups: vec![
                group("sg-0node", vpc, cluster_inbound()),
                group("sg-0pods", vpc, cluster_inbound()),
                group("sg-0branch", vpc, branch_inbound),
                group("sg-0peer", peer_vpc, peer_inbound),
            ],
        };
        let entry =
            |number: i64, egress: bool, allow: bool, cidr: &str, ports: Option<(i64, i64)>| {
                raw::NetworkAclEntry {
                    rule_number: number,
                    protocol: if ports.is_some() { "6" } else { "-1" }.to_owned(),
                    rule_action: if allow { "allow" } else { "deny" }.to_owned(),
                    egress,
                    cidr_block: Some(cidr.to_owned()),
                    ipv6_cidr_block: None,
                    port_range: ports.map(|(from, to)| raw::AclPortRange { from, to }),
                }
            };
        let open = || {
            vec![
                entry(100, true, true, "0.0.0.0/0", None),
                entry(100, false, true, "0.0.0.0/0", None),
                entry(32767, true, false, "0.0.0.0/0", None),
                entry(32767, false, false, "0.0.0.0/0", None),
            ]
        };
        let mut cluster_entries = open();
        if self.filters == Filters::DenyBeforeAllow {
            cluster_entries.push(entry(
                50,
                true,
                false,
                PEER_CIDR,
                Some((i64::from(PORT), i64::from(PORT))),
            ));
        }
        let peer_entries = if self.filters == Filters::NoEphemeralReturn {
            vec![
                entry(100, true, true, "0.0.0.0/0", Some((0, 1023))),
                entry(100, false, true, "0.0.0.0/0", None),
                entry(32767, true, false, "0.0.0.0/0", None),
                entry(32767, false, false, "0.0.0.0/0", None),
            ]
        } else {
            open()
        };
        let acl = |id: &str, vpc_id: &str, subnets: &[&str], entries| raw::NetworkAcl {
            network_acl_id: id.to_owned(),
            vpc_id: vpc_id.to_owned(),
            is_default: true,
            entries,
            associations: subnets
                .iter()
                .map(|s| raw::NetworkAclAssociation {
                    network_acl_association_id: None,
                    network_acl_id: Some(id.to_owned()),
                    subnet_id: (*s).to_owned(),
                })
                .collect(),
            owner_id: None,
            tags: vec![],
        };
        let acls = raw::DescribeNetworkAcls {
            network_acls: vec![
                acl(
                    "acl-0cluster",
                    vpc,
                    &["subnet-0node", "subnet-0pods"],
                    cluster_entries,
                ),
                acl("acl-0peer", peer_vpc, &["subnet-0peer"], peer_entries),
            ],
        };
        let mut database = eni(
            "eni-0peerdb000000001",
            "subnet-0peer",
            0,
            "10.1.1.50",
            &[],
            None,
            "payments database",
        );
        database.vpc_id = peer_vpc.to_owned();
        database.attachment = None;
        database.tag_set = vec![];
        database.groups = vec![raw::GroupIdentifier {
            group_id: "sg-0peer".to_owned(),
            group_name: None,
        }];
        (
            groups,
            acls,
            raw::DescribeNetworkInterfaces {
                network_interfaces: vec![database],
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a scenario has one value of an axis.
    type Axis = fn(&Scenario, bool) -> bool;

    #[test]
    fn every_value_of_every_axis_is_generated() {
        let scenarios = generate(200);
        for v in VERSIONS {
            assert!(scenarios.iter().any(|s| s.version == *v), "{v}");
        }
        for x in Exclude::ALL {
            assert!(scenarios.iter().any(|s| s.exclude == x), "{x:?}");
        }
        for s2 in SecondarySubnet::ALL {
            assert!(scenarios.iter().any(|s| s.secondary_subnet == s2), "{s2:?}");
        }
        for r in PeerReturn::ALL {
            assert!(scenarios.iter().any(|s| s.peer_return == r), "{r:?}");
        }
        // Every filter variant, with SNAT on and off (EXTERNALSNAT), and with the secondary
        // ENI in the node subnet and in a pod subnet.
        for f in Filters::ALL {
            for snat_off in [true, false] {
                assert!(
                    scenarios
                        .iter()
                        .any(|s| s.filters == f && s.external_snat == snat_off),
                    "{f:?} with EXTERNALSNAT={snat_off}"
                );
            }
            for in_node_subnet in [true, false] {
                assert!(
                    scenarios.iter().any(|s| s.filters == f
                        && (s.secondary_subnet == SecondarySubnet::NodeSubnet) == in_node_subnet),
                    "{f:?} with the secondary ENI in the node subnet: {in_node_subnet}"
                );
            }
        }
        // Security groups for pods: each mode with node port support on and off and with SNAT
        // on and off, in both subnets; and the case standard mode got wrong before v1.12.1.
        for mode in [SgpMode::Strict, SgpMode::Standard] {
            for flag in [true, false] {
                let axes: [(&str, Axis); 4] = [
                    ("NODE_PORT_SUPPORT", |s: &Scenario, f| {
                        s.node_port_support == f
                    }),
                    ("EXTERNALSNAT", |s: &Scenario, f| s.external_snat == f),
                    ("in the pod subnet", |s: &Scenario, f| {
                        s.sgp.is_some_and(|g| g.in_pod_subnet == f)
                    }),
                    ("the branch group admitting the peer", |s: &Scenario, f| {
                        s.sgp.is_some_and(|g| g.branch_admits_peer == f)
                    }),
                ];
                for (what, has) in axes {
                    assert!(
                        scenarios
                            .iter()
                            .any(|s| s.sgp.is_some_and(|g| g.mode == mode) && has(s, flag)),
                        "{mode:?} with {what} {flag}"
                    );
                }
            }
        }
        assert!(scenarios.iter().any(|s| s.version == "v1.12.0"
            && s.sgp.is_some_and(|g| g.mode == SgpMode::Standard)
            && !s.node_port_support
            && !s.external_snat));
        assert!(
            scenarios
                .iter()
                .filter(|s| s.sgp.is_some())
                .all(Scenario::has_pod_eni_support)
        );
        assert!(scenarios.iter().any(|s| s.via_prefix_list));
        assert!(scenarios.iter().any(|s| s.via_tgw == Some(true)));
        assert!(scenarios.iter().any(|s| s.via_tgw == Some(false)));
        for flag in [true, false] {
            assert!(scenarios.iter().any(|s| s.external_snat == flag));
            assert!(scenarios.iter().any(|s| s.node_port_support == flag));
            assert!(scenarios.iter().any(|s| s.external_service == flag));
            assert!(scenarios.iter().any(|s| (s.rp_filter_primary == 1) == flag));
            assert!(
                scenarios
                    .iter()
                    .any(|s| (s.rp_filter_secondary == Some(1)) == flag)
            );
        }
        assert_eq!(
            generate(30)[17].to_string(),
            scenarios[17].to_string(),
            "deterministic"
        );
    }

    #[test]
    fn the_snapshot_reads_back_into_one_node_with_two_enis() {
        let scenario = &generate(1)[0];
        let loaded = podreach_core::snapshot::load(&scenario.files())
            .into_result()
            .expect("valid snapshot");
        assert!(
            loaded.problems.skipped.is_empty(),
            "{:?}",
            loaded.problems.skipped
        );
        let model = podreach_core::Model::from_documents(&loaded.documents, &scenario.overrides());
        assert_eq!(model.clusters.len(), 1, "{:?}", model.gaps);
        let node = &model.clusters[0].nodes;
        assert_eq!(node.len(), 1);
        assert_eq!(
            node[0].enis,
            vec![PRIMARY_ENI.to_owned(), SECONDARY_ENI.to_owned()]
        );
        assert_eq!(model.clusters[0].cni.version.to_string(), scenario.version);
    }

    #[test]
    fn a_security_groups_for_pods_scenario_reads_back_with_its_branch_eni() {
        let scenario = &generate(13)[12];
        let sgp = scenario
            .sgp
            .expect("scenario 12 has security groups for pods");
        let loaded = podreach_core::snapshot::load(&scenario.files())
            .into_result()
            .expect("valid snapshot");
        let model = podreach_core::Model::from_documents(&loaded.documents, &scenario.overrides());
        let cluster = &model.clusters[0];
        let node = &cluster.nodes[0];
        assert_eq!(node.enis.last().map(String::as_str), Some(TRUNK_ENI));
        assert_eq!(node.branch_enis.len(), 1);
        assert_eq!(node.branch_enis[0].eni_id, BRANCH_ENI);
        assert_eq!(node.branch_enis[0].vlan_id, Some(BRANCH_VLAN));
        assert!(cluster.cni.pod_eni);
        assert_eq!(
            cluster.cni.sgp_mode,
            podreach_core::cni::SgpMode::Standard,
            "{scenario}"
        );
        assert_eq!(
            model.network.enis[BRANCH_ENI].primary_ip.to_string(),
            sgp.branch_ip()
        );
    }
}
