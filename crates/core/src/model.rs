//! The typed, validated model of one snapshot: the VPC network and the EKS clusters in it.
//!
//! This is phase two of input handling. Raw documents (whatever their source) are checked once
//! here: CIDRs and addresses are parsed, references between objects (ENI → subnet, subnet →
//! route table, node → ENIs) are resolved, and each cluster's CNI configuration is resolved with
//! its sources. What cannot be resolved becomes a [`Gap`] naming the file and object, never a
//! panic and never a silent drop; everything else is still modelled, so one bad object or one
//! bad cluster hides nothing else. The analysis reads only this model.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

mod build;
mod cluster;
mod convert;
mod input;
pub mod kube;
mod tgw;

use crate::cni::{CniConfig, CniInputs, Version};
pub use crate::filters::{AclEntry, NetworkAcl, SecurityGroup, SgPeer, SgRule};
use crate::problems::{Gap, NotAnalysed};
use crate::raw;

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Local,
    Peering(String),
    TransitGateway(String),
    VirtualPrivateGateway(String),
    LocalGateway(String),
    /// Internet/NAT gateways, endpoints, instances, ENIs: not a private path beyond the VPC.
    Other(String),
}

impl Target {
    /// The AWS id of the target (`local` for the VPC's local route).
    pub fn id(&self) -> &str {
        match self {
            Target::Local => "local",
            Target::Peering(id)
            | Target::TransitGateway(id)
            | Target::VirtualPrivateGateway(id)
            | Target::LocalGateway(id)
            | Target::Other(id) => id,
        }
    }

    /// `pcx-`, `tgw-`, `vgw-` and `lgw-` targets lead to networks beyond the VPC over private routes.
    pub fn is_private_beyond_vpc(&self) -> bool {
        matches!(
            self,
            Target::Peering(_)
                | Target::TransitGateway(_)
                | Target::VirtualPrivateGateway(_)
                | Target::LocalGateway(_)
        )
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub destination: Ipv4Net,
    pub target: Target,
    pub blackhole: bool,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub routes: Vec<Route>,
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Vpc {
    pub id: String,
    /// The primary IPv4 CIDR first, then associated secondary CIDRs.
    pub cidrs: Vec<Ipv4Net>,
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub cidr: Ipv4Net,
    pub az: String,
}

/// `InterfaceType` of an ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EniType {
    Interface,
    Trunk,
    Branch,
    Efa,
    Other,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub instance_id: String,
    pub device_index: u32,
    pub network_card_index: u32,
}

#[derive(Debug, Clone)]
pub struct Eni {
    pub id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub kind: EniType,
    pub attachment: Option<Attachment>,
    pub primary_ip: Ipv4Addr,
    /// Secondary private IPv4 addresses (pod addresses on node ENIs).
    pub secondary_ips: Vec<Ipv4Addr>,
    /// Delegated IPv4 prefixes (prefix delegation).
    pub prefixes: Vec<Ipv4Net>,
    /// `false` only when someone disabled the check on this ENI (the CNI never does).
    pub source_dest_check: bool,
    /// The security groups the ENI carries (`Groups`).
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub file: String,
}

impl Eni {
    /// `owns(x, ip)` of docs/datapath.md §5.2: a primary or secondary address, or inside a delegated prefix.
    pub fn owns(&self, ip: Ipv4Addr) -> bool {
        self.primary_ip == ip
            || self.secondary_ips.contains(&ip)
            || self.prefixes.iter().any(|p| p.contains(&ip))
    }

    pub fn is_primary(&self) -> bool {
        self.attachment
            .as_ref()
            .is_some_and(|a| a.device_index == 0 && a.network_card_index == 0)
    }
}

#[derive(Debug, Clone)]
pub struct Peering {
    pub id: String,
    pub status: String,
    pub requester_vpc: Option<String>,
    pub requester_cidrs: Vec<Ipv4Net>,
    pub accepter_vpc: Option<String>,
    pub accepter_cidrs: Vec<Ipv4Net>,
    /// Regions of both sides, when the output names them: a security-group reference crosses a
    /// peering connection only within one Region.
    pub requester_region: Option<String>,
    pub accepter_region: Option<String>,
}

impl Peering {
    /// The VPC on the other side of the peering from `vpc_id`, with its CIDRs.
    /// `true` when both sides are known to be in one Region, or neither side names its Region
    /// (`describe-vpc-peering-connections` always does; hand-written snapshots may not).
    pub fn same_region(&self) -> bool {
        match (&self.requester_region, &self.accepter_region) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    pub fn other_side(&self, vpc_id: &str) -> Option<(Option<&str>, &[Ipv4Net])> {
        if self.requester_vpc.as_deref() == Some(vpc_id) {
            Some((self.accepter_vpc.as_deref(), &self.accepter_cidrs))
        } else if self.accepter_vpc.as_deref() == Some(vpc_id) {
            Some((self.requester_vpc.as_deref(), &self.requester_cidrs))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct TgwAttachment {
    pub id: String,
    pub tgw_id: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub state: String,
    /// The account that owns the VPC (`VpcOwnerId`).
    pub owner: Option<String>,
    /// `Options.SecurityGroupReferencingSupport`: `Some(false)` when the attachment disables it,
    /// `None` when the output does not say.
    pub sg_referencing: Option<bool>,
}

/// What a transit gateway route table entry or link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwLink {
    pub attachment_id: String,
    /// `vpc-…` for a VPC attachment, the VPN or Direct Connect gateway's id otherwise.
    pub resource_id: Option<String>,
    /// `vpc`, `vpn`, `direct-connect-gateway`, `connect`, `peering`, …
    pub resource_type: Option<String>,
}

/// One route of a transit gateway route table.
#[derive(Debug, Clone)]
pub struct TgwRoute {
    pub destination: Ipv4Net,
    /// Several for equal-cost VPN routes; none for a blackhole.
    pub attachments: Vec<TgwLink>,
    pub propagated: bool,
    /// `State: blackhole`: the transit gateway drops what matches.
    pub blackhole: bool,
}

impl TgwRoute {
    /// The order of a table's routes: by destination address, then prefix length.
    pub(crate) fn order(&self) -> (u32, u8) {
        (
            u32::from(self.destination.network()),
            self.destination.prefix_len(),
        )
    }
}

/// A table's routes as far as they were read.
#[derive(Debug, Clone, Default)]
pub struct TgwRoutes {
    /// In [`TgwRoute::order`] (the model sorts them).
    pub routes: Vec<TgwRoute>,
    /// Bit `n` set when some route is a `/n`: a lookup searches only the prefix lengths the
    /// table has (the model sets it with the order).
    pub prefix_lengths: u64,
    /// The prefixes searched (every route covering one, or inside one, is in `routes`); `None`
    /// when the document is the whole table.
    pub searched: Option<Vec<Ipv4Net>>,
    /// Why the routes read may not be all that matter (AWS answered 1,000 routes and had more;
    /// a prefix-list route whose entries are not in the snapshot): any lookup is then unknown.
    pub incomplete: Vec<String>,
}

/// A transit gateway route table, with what the snapshot shows of it (`None`: not read).
#[derive(Debug, Clone)]
pub struct TgwRouteTable {
    pub id: String,
    pub tgw_id: String,
    pub state: String,
    /// The attachments associated with the table (each attachment has at most one).
    pub associations: Option<Vec<TgwLink>>,
    /// The attachments whose routes propagate into the table (enabled).
    pub propagations: Option<Vec<TgwLink>>,
    pub routes: Option<TgwRoutes>,
    pub file: String,
}

/// Every VPC-level object of the snapshot, across all clusters and peers.
#[derive(Debug, Clone, Default)]
pub struct Network {
    pub vpcs: BTreeMap<String, Vpc>,
    pub subnets: BTreeMap<String, Subnet>,
    pub route_tables: BTreeMap<String, RouteTable>,
    /// Explicit subnet → route table associations.
    pub subnet_route_tables: BTreeMap<String, String>,
    /// VPC → main route table.
    pub main_route_tables: BTreeMap<String, String>,
    pub enis: BTreeMap<String, Eni>,
    /// `None` when the snapshot has no `describe-vpc-peering-connections` output.
    pub peerings: Option<BTreeMap<String, Peering>>,
    /// `None` when the snapshot has no `describe-transit-gateway-vpc-attachments` output.
    pub tgw_attachments: Option<Vec<TgwAttachment>>,
    /// Each transit gateway's `SecurityGroupReferencingSupport`, where `describe-transit-gateways`
    /// output shows it (`true`: `enable`).
    pub tgw_sg_referencing: BTreeMap<String, bool>,
    /// Each transit gateway's owner account, where `describe-transit-gateways` shows it.
    pub tgw_owners: BTreeMap<String, String>,
    /// Transit gateway route tables by id (`describe-transit-gateway-route-tables`), with the
    /// associations, propagations and routes read for each.
    pub tgw_route_tables: BTreeMap<String, TgwRouteTable>,
    /// `None` when the snapshot has no `describe-security-groups` output: security groups are
    /// then an assumption of every verdict, never silently passed.
    pub security_groups: Option<BTreeMap<String, SecurityGroup>>,
    /// `None` when the snapshot has no `describe-network-acls` output.
    pub network_acls: Option<BTreeMap<String, NetworkAcl>>,
    /// Subnet → its network ACL (every subnet has exactly one).
    pub subnet_acls: BTreeMap<String, String>,
    /// Managed prefix lists' IPv4 entries, by id (routes and security group rules name them).
    pub prefix_lists: BTreeMap<String, Vec<Ipv4Net>>,
}

impl Network {
    /// The route table a subnet uses: its explicit association, else its VPC's main table.
    pub fn route_table_of_subnet(&self, subnet_id: &str) -> Option<&RouteTable> {
        let subnet = self.subnets.get(subnet_id)?;
        self.subnet_route_tables
            .get(subnet_id)
            .or_else(|| self.main_route_tables.get(&subnet.vpc_id))
            .and_then(|id| self.route_tables.get(id))
    }

    /// The network ACL of a subnet.
    pub fn acl_of_subnet(&self, subnet_id: &str) -> Option<&NetworkAcl> {
        let id = self.subnet_acls.get(subnet_id)?;
        self.network_acls.as_ref()?.get(id)
    }

    /// `true` when the snapshot holds any route table of the VPC.
    pub fn has_route_tables_of(&self, vpc_id: &str) -> bool {
        self.route_tables.values().any(|t| t.vpc_id == vpc_id)
    }
}

pub use kube::{NodeKind, PodIndex, Workload};

/// A node whose pods podreach does not judge with aws-node's rules, named with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotModelledNode {
    pub name: String,
    pub instance_id: Option<String>,
    pub kind: NodeKind,
    /// Pods on the node that hold an address of their own.
    pub pods: usize,
    pub why: String,
}

/// A worker node of a cluster.
#[derive(Debug, Clone)]
pub struct Node {
    pub instance_id: String,
    pub name: Option<String>,
    /// `n0`: the primary private IPv4 of the primary ENI.
    pub ip: Ipv4Addr,
    pub primary_eni: String,
    /// Every ENI attached to the instance, primary first, by network card then device index.
    pub enis: Vec<String>,
    /// Branch ENIs (security groups for pods) hanging off this node's trunk ENI.
    pub branch_enis: Vec<BranchEni>,
}

#[derive(Debug, Clone)]
pub struct BranchEni {
    pub eni_id: String,
    pub vlan_id: Option<u32>,
}

/// `ENIConfig` (custom networking).
#[derive(Debug, Clone)]
pub struct EniConfigRef {
    pub name: String,
    pub subnet_id: String,
    /// `spec.securityGroups`: the groups of the ENIs the CNI creates with it (empty: the
    /// primary ENI's groups, `ipamd` `allocENI`).
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    V4,
    V6,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub vpc_id: String,
    pub ip_family: IpFamily,
    pub file: String,
    pub cni: CniConfig,
    pub nodes: Vec<Node>,
    pub eniconfigs: Vec<EniConfigRef>,
    /// Pods by the IPv4 address each holds (not `hostNetwork`, not ended, on a node aws-node
    /// networks); empty unless `pods_known`.
    pub pods: PodIndex,
    /// `true` when a pods list was attributed to this cluster.
    pub pods_known: bool,
    /// `true` when a nodes list (`kubectl get nodes`) was attributed to this cluster.
    pub nodes_known: bool,
    /// Nodes aws-node does not network (Fargate, Auto Mode, Hybrid, Windows), by name.
    pub not_modelled: Vec<NotModelledNode>,
    /// Inputs the cluster's verdicts may depend on that could not be read: the report is then
    /// never a clean result.
    pub blind_spots: Vec<raw::BlindSpot>,
}

/// The whole validated snapshot.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// The AWS Region the input was collected in, from its collection notes (`None` for a
    /// snapshot without them); the report names it on everything it says.
    pub region: Option<String>,
    pub network: Network,
    pub clusters: Vec<Cluster>,
    pub gaps: Vec<Gap>,
    /// Clusters of the snapshot left out of the model (incomplete inputs, VPC missing), or the
    /// absence of any cluster.
    pub not_analysed: Vec<NotAnalysed>,
    /// The cost of the live collection this snapshot came from, when it did.
    pub collection_stats: Option<raw::CollectionStats>,
}

/// What the user said on the command line about every cluster.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub cni_version: Option<Version>,
    pub cni_env: BTreeMap<String, String>,
    pub rp_filter_primary: Option<u8>,
    pub rp_filter_secondary: Option<u8>,
}

const TRUNK_TAG: &str = "vpcresources.k8s.aws/trunk-eni-id";
const VLAN_TAG: &str = "vpcresources.k8s.aws/vlan-id";
/// The blind spot of ENIConfigs that could not be read: dropped unless custom networking is on.
pub const ENICONFIGS_INPUT: &str = "ENIConfigs (Kubernetes API)";

/// The tag the VPC CNI puts on the ENIs it creates, naming their cluster.
pub const ENI_CLUSTER_TAG: &str = "cluster.k8s.amazonaws.com/name";

/// The clusters an instance's tags say it is a node of: `kubernetes.io/cluster/<name>` (EKS
/// managed node groups, eksctl, the cloud provider), `eks:cluster-name` and
/// `aws:eks:cluster-name` (EKS), and `eks:eks-cluster-name` (Karpenter v1,
/// karpenter-provider-aws pkg/providers/instance: `v1.EKSClusterNameTagKey`). The live
/// collector uses it too, to find the cluster an event's instance belongs to.
pub fn node_clusters<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> impl Iterator<Item = &'a str> {
    tags.into_iter().filter_map(|(key, value)| match key {
        "eks:cluster-name" | "aws:eks:cluster-name" | "eks:eks-cluster-name" => Some(value),
        _ => key.strip_prefix("kubernetes.io/cluster/"),
    })
}

pub(crate) fn tag_map(tags: &[raw::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// The directory part of a snapshot-relative path (`""` for the root).
pub(crate) fn directory_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

pub(crate) fn is_within(dir: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || dir == ancestor || dir.starts_with(&format!("{ancestor}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_dumps_belong_to_the_cluster_in_their_directory() {
        assert!(is_within("shop/k8s", "shop"));
        assert!(is_within("shop", ""));
        assert!(!is_within("shopping", "shop"));
        assert_eq!(directory_of("shop/k8s/pods.json"), "shop/k8s");
        assert_eq!(directory_of("pods.json"), "");
    }
}
