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
//!
//! Split by job: this file holds the axes and the [`Scenario`] they make up, with the one-line
//! description a failure names it by; `generate` draws the scenarios ([`generate()`]), `render`
//! writes one out as the snapshot files, the command-line overrides and the question podreach
//! is given, and `filters` builds the security groups, network ACLs and peer ENI of the
//! [`Filters`] axis. [`generate()`] is re-exported here, so `podreach_tests::scenario::X` stays the
//! one path to each item.

use std::fmt;

mod filters;
mod generate;
mod render;

pub use generate::generate;

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

/// The transit gateway's route table (one, associated with both attachments), when the peer is
/// reached through it: routing both VPCs, or broken one of the ways network teams break it
/// (docs/datapath.md §10.11). The lab reads the table itself (`crates/lab`, `tgw_tables.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TgwTable {
    /// Both VPCs' CIDRs propagated to their attachments.
    Routing,
    /// A static blackhole for the peer's CIDR wins over its propagated route.
    PeerBlackhole,
    /// The peer's attachment does not propagate: no route to the peer.
    PeerNotRouted,
    /// The cluster VPC's secondary CIDR (100.64.0.0/16, the pod subnets) is not routed back.
    PodRangeNotRouted,
    /// A static blackhole for the node subnet (10.0.1.0/24) takes the node IP and its pods.
    NodeSubnetBlackhole,
    /// A static blackhole for half the peer subnet (10.1.1.128/25).
    PeerHalfBlackhole,
}

impl TgwTable {
    pub const ALL: [TgwTable; 6] = [
        TgwTable::Routing,
        TgwTable::PeerBlackhole,
        TgwTable::PeerNotRouted,
        TgwTable::PodRangeNotRouted,
        TgwTable::NodeSubnetBlackhole,
        TgwTable::PeerHalfBlackhole,
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
    /// The node group `sg-0node` admits only itself inbound, as EKS's cluster security group
    /// does: the peer's ENI never carries it, so nothing the peer opens reaches the primary ENI,
    /// over a peering connection or a transit gateway alike (issue 21's wrong `unknown`).
    NodeGroupAdmitsItself,
    /// The peer's group admits tcp/443 from the node group, never the probes' tcp/7000: a
    /// reference that cannot decide the port, whether it crosses or not.
    PeerAdmitsNodeGroupOnOtherPort,
    /// The peer subnet's ACL lets out only tcp/0-1023: no reply to an ephemeral port.
    NoEphemeralReturn,
}

impl Filters {
    pub const ALL: [Filters; 9] = [
        Filters::None,
        Filters::Open,
        Filters::PeerAdmitsNodeSubnet,
        Filters::PeerAdmitsPodSubnet,
        Filters::PeerAdmitsNodeGroup,
        Filters::DenyBeforeAllow,
        Filters::NoEphemeralReturn,
        Filters::NodeGroupAdmitsItself,
        Filters::PeerAdmitsNodeGroupOnOtherPort,
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
    /// The transit gateway's route table (used with `via_tgw`).
    pub tgw_table: TgwTable,
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
        if self.via_tgw.is_some() && self.tgw_table != TgwTable::Routing {
            write!(f, ", TGW route table {:?}", self.tgw_table)?;
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

impl Scenario {
    /// Security groups for pods exist from CNI v1.7.0.
    pub fn has_pod_eni_support(&self) -> bool {
        podreach_core::cni::Version::parse_loose(self.version)
            .is_some_and(|v| v >= podreach_core::cni::Version::new(1, 7, 0))
    }
}
