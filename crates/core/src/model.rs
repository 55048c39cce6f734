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

pub mod kube;

use crate::cni::{CniConfig, CniInputs, Version};
pub use crate::filters::{AclEntry, NetworkAcl, SecurityGroup, SgPeer, SgRule};
use crate::filters::{PortSet, Protocol};
use crate::raw;
use crate::report::{Gap, NotAnalysed};
use crate::snapshot::{Document, LoadedDocument};

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
    pub network: Network,
    pub clusters: Vec<Cluster>,
    pub gaps: Vec<Gap>,
    /// Clusters of the snapshot left out of the model (incomplete inputs, VPC missing), or the
    /// absence of any cluster.
    pub not_analysed: Vec<NotAnalysed>,
    /// The cost of the live collection this snapshot came from, when it did.
    pub collection_stats: Option<raw::CollectionStats>,
    /// The TCP ports every verdict is about (`--port`); empty: any TCP port.
    pub tcp_ports: Vec<u16>,
}

/// What the user said on the command line about every cluster.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub cni_version: Option<Version>,
    pub cni_env: BTreeMap<String, String>,
    pub rp_filter_primary: Option<u8>,
    pub rp_filter_secondary: Option<u8>,
    /// `--port tcp/N`: the TCP ports the verdicts are about; empty: any TCP port.
    pub tcp_ports: Vec<u16>,
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

fn tag_map(tags: &[raw::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// The directory part of a snapshot-relative path (`""` for the root).
fn directory_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn is_within(dir: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || dir == ancestor || dir.starts_with(&format!("{ancestor}/"))
}

impl Model {
    /// Records what the reader could not use. Skipped files become gaps (another tool's output
    /// is no fault); a file that could not be read or was cut short also makes the run not a
    /// clean result, because what it held is missing from every verdict.
    pub fn add_input_problems(&mut self, problems: crate::snapshot::InputProblems) {
        let mut file_gap = |file: String, message: String| {
            self.gaps.push(Gap {
                cluster: None,
                file: Some(file),
                object: None,
                message,
            });
        };
        for (file, why) in problems.skipped {
            file_gap(file, format!("not used: {why}"));
        }
        let mut lost = Vec::new();
        for error in problems.unreadable {
            let message = error.to_string();
            file_gap(error.file().to_owned(), message.clone());
            lost.push(format!(
                "{message} (whatever it held is missing from this audit)"
            ));
        }
        for (file, why) in problems.incomplete {
            let message = format!("{file}: incomplete: {why}");
            file_gap(file, message.clone());
            lost.push(message);
        }
        self.not_analysed
            .extend(lost.into_iter().map(|reason| NotAnalysed {
                cluster: None,
                reason,
            }));
    }

    /// Validates raw documents into the model. Never fails: unresolvable objects become gaps.
    pub fn build<'a>(
        documents: impl IntoIterator<Item = &'a LoadedDocument>,
        overrides: &Overrides,
    ) -> Model {
        let mut builder = Builder::default();
        for doc in documents {
            builder.add(doc);
        }
        builder.finish(overrides)
    }
}

#[derive(Default)]
struct Builder<'a> {
    network: Network,
    gaps: Vec<Gap>,
    instances: Vec<(&'a raw::Instance, &'a str)>,
    clusters: Vec<(&'a raw::Cluster, &'a str)>,
    addons: Vec<(&'a raw::Addon, &'a str)>,
    daemonsets: Vec<(&'a raw::DaemonSet, &'a str)>,
    pods: Vec<(&'a raw::PodList, &'a str)>,
    node_lists: Vec<(&'a raw::NodeList, &'a str)>,
    eniconfigs: Vec<(&'a raw::EniConfigList, &'a str)>,
    collections: Vec<(&'a raw::CollectionNotes, &'a str)>,
    /// Routes to prefix lists, expanded once every document is read (the entries may come in a
    /// later file): `(route table, prefix list, target, blackhole, file)`.
    prefix_list_routes: Vec<(String, String, Target, bool, &'a str)>,
}

/// The prefix list a file of `get-managed-prefix-list-entries` output is named after
/// (`pl-0a1b2c3d4e5f60718.json`, `entries-pl-0a1b….json`).
fn prefix_list_in_name(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let start = name.find("pl-")?;
    let id: String = name[start..]
        .chars()
        .enumerate()
        .take_while(|(i, c)| *i < 3 || c.is_ascii_hexdigit())
        .map(|(_, c)| c)
        .collect();
    (id.len() > 3).then_some(id)
}

impl<'a> Builder<'a> {
    fn gap(&mut self, file: &str, object: impl Into<String>, message: impl Into<String>) {
        self.gaps.push(Gap {
            cluster: None,
            file: Some(file.to_owned()),
            object: Some(object.into()),
            message: message.into(),
        });
    }

    fn cidr(&mut self, file: &str, object: &str, text: &str) -> Option<Ipv4Net> {
        match text.parse::<Ipv4Net>() {
            Ok(net) => Some(net.trunc()),
            Err(_) => {
                self.gap(
                    file,
                    object,
                    format!("`{text}` is not an IPv4 CIDR; the object is left out"),
                );
                None
            }
        }
    }

    fn add(&mut self, doc: &'a LoadedDocument) {
        let file = doc.path.as_str();
        match &doc.document {
            Document::Vpcs(d) => {
                for vpc in &d.vpcs {
                    let Some(primary) = self.cidr(file, &vpc.vpc_id, &vpc.cidr_block) else {
                        continue;
                    };
                    let mut cidrs = vec![primary];
                    for assoc in &vpc.cidr_block_association_set {
                        let associated = assoc
                            .cidr_block_state
                            .as_ref()
                            .is_none_or(|s| s.state == "associated");
                        if let Some(net) = self.cidr(file, &vpc.vpc_id, &assoc.cidr_block)
                            && associated
                            && !cidrs.contains(&net)
                        {
                            cidrs.push(net);
                        }
                    }
                    self.network.vpcs.insert(
                        vpc.vpc_id.clone(),
                        Vpc {
                            id: vpc.vpc_id.clone(),
                            cidrs,
                            file: file.to_owned(),
                        },
                    );
                }
            }
            Document::Subnets(d) => {
                for s in &d.subnets {
                    let Some(cidr) = self.cidr(file, &s.subnet_id, &s.cidr_block) else {
                        continue;
                    };
                    self.network.subnets.insert(
                        s.subnet_id.clone(),
                        Subnet {
                            id: s.subnet_id.clone(),
                            vpc_id: s.vpc_id.clone(),
                            cidr,
                            az: s.availability_zone.clone(),
                        },
                    );
                }
            }
            Document::RouteTables(d) => {
                for t in &d.route_tables {
                    let mut routes = Vec::new();
                    for r in &t.routes {
                        let Some(dest) = &r.destination_cidr_block else {
                            if let Some(pl) = &r.destination_prefix_list_id {
                                self.prefix_list_routes.push((
                                    t.route_table_id.clone(),
                                    pl.clone(),
                                    route_target(r),
                                    r.state.as_deref() == Some("blackhole"),
                                    file,
                                ));
                            }
                            continue;
                        };
                        let Some(destination) = self.cidr(file, &t.route_table_id, dest) else {
                            continue;
                        };
                        routes.push(Route {
                            destination,
                            target: route_target(r),
                            blackhole: r.state.as_deref() == Some("blackhole"),
                        });
                    }
                    for a in &t.associations {
                        let live = a
                            .association_state
                            .as_ref()
                            .is_none_or(|s| s.state == "associated");
                        if !live {
                            continue;
                        }
                        if a.main {
                            self.network
                                .main_route_tables
                                .insert(t.vpc_id.clone(), t.route_table_id.clone());
                        } else if let Some(subnet) = &a.subnet_id {
                            self.network
                                .subnet_route_tables
                                .insert(subnet.clone(), t.route_table_id.clone());
                        }
                    }
                    self.network.route_tables.insert(
                        t.route_table_id.clone(),
                        RouteTable {
                            id: t.route_table_id.clone(),
                            vpc_id: t.vpc_id.clone(),
                            routes,
                            file: file.to_owned(),
                        },
                    );
                }
            }
            Document::NetworkInterfaces(d) => {
                for eni in &d.network_interfaces {
                    self.add_eni(file, eni);
                }
            }
            // Names and families only; the entries come from get-managed-prefix-list-entries.
            Document::PrefixLists(_) => {}
            Document::PrefixListEntries(d) => {
                let Some(id) = d
                    .prefix_list_id
                    .clone()
                    .or_else(|| prefix_list_in_name(file))
                else {
                    self.gap(
                        file,
                        "get-managed-prefix-list-entries",
                        "the output does not say which prefix list these entries belong to: name the file \
                         after it (pl-….json); they are not used",
                    );
                    return;
                };
                let mut cidrs = Vec::new();
                for entry in &d.entries {
                    // An IPv6 list (or entry) concerns no IPv4 route.
                    if entry.cidr.contains(':') {
                        continue;
                    }
                    if let Some(net) = self.cidr(file, &id, &entry.cidr) {
                        cidrs.push(net);
                    }
                }
                self.network
                    .prefix_lists
                    .entry(id)
                    .or_default()
                    .extend(cidrs);
            }
            Document::SecurityGroups(d) => {
                let groups = self
                    .network
                    .security_groups
                    .get_or_insert_with(BTreeMap::new);
                let mut problems = Vec::new();
                for g in &d.security_groups {
                    let (inbound, p1) = sg_rules(&g.ip_permissions);
                    let (outbound, p2) = sg_rules(&g.ip_permissions_egress);
                    problems.extend(p1.into_iter().chain(p2).map(|p| (g.group_id.clone(), p)));
                    groups.insert(
                        g.group_id.clone(),
                        SecurityGroup {
                            id: g.group_id.clone(),
                            name: g.group_name.clone(),
                            vpc_id: g.vpc_id.clone(),
                            inbound,
                            outbound,
                            file: file.to_owned(),
                        },
                    );
                }
                for (object, message) in problems {
                    self.gap(file, object, message);
                }
            }
            Document::NetworkAcls(d) => {
                let acls = self.network.network_acls.get_or_insert_with(BTreeMap::new);
                let mut problems = Vec::new();
                for a in &d.network_acls {
                    let mut inbound = Vec::new();
                    let mut outbound = Vec::new();
                    for e in &a.entries {
                        match acl_entry(e) {
                            Ok(Some(entry)) if e.egress => outbound.push(entry),
                            Ok(Some(entry)) => inbound.push(entry),
                            Ok(None) => {}
                            Err(message) => problems.push((a.network_acl_id.clone(), message)),
                        }
                    }
                    inbound.sort_by_key(|e| e.rule_number);
                    outbound.sort_by_key(|e| e.rule_number);
                    for assoc in &a.associations {
                        self.network
                            .subnet_acls
                            .insert(assoc.subnet_id.clone(), a.network_acl_id.clone());
                    }
                    acls.insert(
                        a.network_acl_id.clone(),
                        NetworkAcl {
                            id: a.network_acl_id.clone(),
                            vpc_id: a.vpc_id.clone(),
                            inbound,
                            outbound,
                            file: file.to_owned(),
                        },
                    );
                }
                for (object, message) in problems {
                    self.gap(file, object, message);
                }
            }
            Document::Instances(d) => {
                for r in &d.reservations {
                    for i in &r.instances {
                        self.instances.push((i, file));
                    }
                }
            }
            Document::VpcPeeringConnections(d) => {
                let peerings = self.network.peerings.get_or_insert_with(BTreeMap::new);
                for p in &d.vpc_peering_connections {
                    let cidrs = |info: &raw::PeeringVpcInfo| -> Vec<Ipv4Net> {
                        let mut out: Vec<Ipv4Net> = info
                            .cidr_block_set
                            .iter()
                            .filter_map(|c| c.cidr_block.parse().ok())
                            .collect();
                        if let Some(primary) = info.cidr_block.as_ref().and_then(|c| c.parse().ok())
                            && !out.contains(&primary)
                        {
                            out.insert(0, primary);
                        }
                        out
                    };
                    peerings.insert(
                        p.vpc_peering_connection_id.clone(),
                        Peering {
                            id: p.vpc_peering_connection_id.clone(),
                            status: p.status.code.clone(),
                            requester_vpc: p.requester_vpc_info.vpc_id.clone(),
                            requester_cidrs: cidrs(&p.requester_vpc_info),
                            accepter_vpc: p.accepter_vpc_info.vpc_id.clone(),
                            accepter_cidrs: cidrs(&p.accepter_vpc_info),
                            requester_region: p.requester_vpc_info.region.clone(),
                            accepter_region: p.accepter_vpc_info.region.clone(),
                        },
                    );
                }
            }
            Document::TransitGatewayVpcAttachments(d) => {
                let list = self.network.tgw_attachments.get_or_insert_with(Vec::new);
                for a in &d.transit_gateway_vpc_attachments {
                    list.push(TgwAttachment {
                        id: a.transit_gateway_attachment_id.clone(),
                        tgw_id: a.transit_gateway_id.clone(),
                        vpc_id: a.vpc_id.clone(),
                        subnet_ids: a.subnet_ids.clone(),
                        state: a.state.clone(),
                    });
                }
            }
            Document::Cluster(d) => self.clusters.push((&d.cluster, file)),
            Document::Addon(d) => self.addons.push((&d.addon, file)),
            Document::AwsNode(d) => self.daemonsets.push((d, file)),
            Document::Pods(d) => self.pods.push((d, file)),
            Document::Nodes(d) => self.node_lists.push((d, file)),
            Document::EniConfigs(d) => self.eniconfigs.push((d, file)),
            Document::Collection(d) => self.collections.push((&d.podreach_collection, file)),
        }
    }

    fn add_eni(&mut self, file: &str, eni: &raw::NetworkInterface) {
        let object = eni.network_interface_id.as_str();
        let primary_text = eni.private_ip_address.as_deref().or_else(|| {
            eni.private_ip_addresses
                .iter()
                .find(|a| a.primary)
                .map(|a| a.private_ip_address.as_str())
        });
        let Some(primary_ip) = primary_text.and_then(|t| t.parse::<Ipv4Addr>().ok()) else {
            self.gap(
                file,
                object,
                "the ENI has no readable primary private IPv4 address; it is left out",
            );
            return;
        };
        let mut secondary_ips = Vec::new();
        for a in &eni.private_ip_addresses {
            match a.private_ip_address.parse::<Ipv4Addr>() {
                Ok(ip) if ip != primary_ip && !a.primary => secondary_ips.push(ip),
                Ok(_) => {}
                Err(_) => self.gap(
                    file,
                    object,
                    format!("`{}` is not an IPv4 address; skipped", a.private_ip_address),
                ),
            }
        }
        let mut prefixes = Vec::new();
        for p in &eni.ipv4_prefixes {
            if let Some(net) = self.cidr(file, object, &p.ipv4_prefix) {
                prefixes.push(net);
            }
        }
        let kind = match eni.interface_type.as_deref() {
            None | Some("interface") => EniType::Interface,
            Some("trunk") => EniType::Trunk,
            Some("branch") => EniType::Branch,
            Some("efa") | Some("efa-only") => EniType::Efa,
            Some(_) => EniType::Other,
        };
        let attachment = eni.attachment.as_ref().and_then(|a| {
            Some(Attachment {
                instance_id: a.instance_id.clone()?,
                device_index: a.device_index,
                network_card_index: a.network_card_index.unwrap_or(0),
            })
        });
        self.network.enis.insert(
            eni.network_interface_id.clone(),
            Eni {
                id: eni.network_interface_id.clone(),
                vpc_id: eni.vpc_id.clone(),
                subnet_id: eni.subnet_id.clone(),
                kind,
                attachment,
                primary_ip,
                secondary_ips,
                prefixes,
                source_dest_check: eni.source_dest_check.unwrap_or(true),
                groups: eni.groups.iter().map(|g| g.group_id.clone()).collect(),
                tags: tag_map(&eni.tag_set),
                file: file.to_owned(),
            },
        );
    }

    /// Attributes a kubectl document to a cluster: the cluster whose describe-cluster output sits
    /// in the same directory or the nearest ancestor; with a single cluster, that one.
    fn attribute(&self, file: &str) -> Option<usize> {
        let dir = directory_of(file);
        let best = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, (_, cf))| is_within(dir, directory_of(cf)))
            .max_by_key(|(_, (_, cf))| directory_of(cf).len());
        let deepest = best.map(|(i, (_, cf))| (i, directory_of(cf).len()));
        match deepest {
            Some((i, depth)) => {
                // Ambiguous when two clusters share that directory.
                let ties = self
                    .clusters
                    .iter()
                    .filter(|(_, cf)| {
                        directory_of(cf).len() == depth && is_within(dir, directory_of(cf))
                    })
                    .count();
                (ties == 1).then_some(i)
            }
            None => (self.clusters.len() == 1).then_some(0),
        }
    }

    /// Routes to managed prefix lists become one route per entry, after the table's CIDR routes
    /// (so an identical CIDR route wins the tie, as the VPC router prefers it). Without the
    /// list's entries the route is a gap.
    fn expand_prefix_list_routes(&mut self) {
        for (table, pl, target, blackhole, file) in std::mem::take(&mut self.prefix_list_routes) {
            match self.network.prefix_lists.get(&pl) {
                Some(cidrs) => {
                    if let Some(t) = self.network.route_tables.get_mut(&table) {
                        t.routes.extend(cidrs.iter().map(|c| Route {
                            destination: *c,
                            target: target.clone(),
                            blackhole,
                        }));
                    }
                }
                // A route to an S3 or DynamoDB gateway endpoint (`vpce-`), a NAT or an internet
                // gateway leads nowhere beyond the VPC that podreach audits: nothing is missing.
                None if !target.is_private_beyond_vpc() => {}
                None => self.gap(
                    file,
                    format!("{table} route to {pl}"),
                    format!(
                        "the entries of prefix list {pl} are not in the snapshot, so this route is not analysed: \
                         add `aws ec2 get-managed-prefix-list-entries --prefix-list-id {pl} --output json > {pl}.json`"
                    ),
                ),
            }
        }
    }

    fn finish(mut self, overrides: &Overrides) -> Model {
        self.expand_prefix_list_routes();
        // ENIs of a cluster's VPC referencing subnets missing from the snapshot. ENIs of other
        // VPCs (a broad describe-network-interfaces) concern no cluster: nothing to say.
        let cluster_vpcs: std::collections::BTreeSet<&str> = self
            .clusters
            .iter()
            .map(|(c, _)| c.resources_vpc_config.vpc_id.as_str())
            .collect();
        let enis: Vec<(String, String, String)> = self
            .network
            .enis
            .values()
            .filter(|e| cluster_vpcs.contains(e.vpc_id.as_str()))
            .filter(|e| !self.network.subnets.contains_key(&e.subnet_id))
            .map(|e| (e.file.clone(), e.id.clone(), e.subnet_id.clone()))
            .collect();
        for (file, eni, subnet) in enis {
            self.gap(
                &file,
                eni.as_str(),
                format!("references subnet {subnet}, which is not in the snapshot: its pods cannot be analysed"),
            );
        }

        // What the live collector could not collect. A cluster with incomplete VPC inputs gets
        // no verdicts: a missing route table would otherwise read as a missing route.
        let mut incomplete: BTreeMap<&str, &str> = BTreeMap::new();
        let mut blind_spots: BTreeMap<String, Vec<raw::BlindSpot>> = BTreeMap::new();
        let mut collection_stats: Option<raw::CollectionStats> = None;
        for (notes, file) in self.collections.clone() {
            for gap in &notes.gaps {
                self.gaps.push(Gap {
                    cluster: gap.cluster.clone(),
                    file: Some(file.to_owned()),
                    object: gap.action.clone(),
                    message: gap.message.clone(),
                });
            }
            for spot in &notes.blind_spots {
                let spots = blind_spots.entry(spot.cluster.clone()).or_default();
                if !spots.contains(spot) {
                    spots.push(spot.clone());
                }
            }
            for cluster in &notes.incomplete_clusters {
                incomplete.insert(&cluster.name, &cluster.reason);
            }
            let total = collection_stats.get_or_insert_with(Default::default);
            for (action, op) in &notes.stats.operations {
                let entry = total.operations.entry(action.clone()).or_default();
                entry.calls += op.calls;
                entry.retries += op.retries;
                entry.failures += op.failures;
                entry.bytes += op.bytes;
            }
            total.calls += notes.stats.calls;
            total.retries += notes.stats.retries;
            total.wall_time_ms = total.wall_time_ms.max(notes.stats.wall_time_ms);
        }

        let mut clusters = Vec::new();
        let mut not_analysed = Vec::new();
        let cluster_inputs = self.clusters.clone();
        for (index, (raw_cluster, file)) in cluster_inputs.iter().enumerate() {
            if let Some(reason) = incomplete.get(raw_cluster.name.as_str()) {
                self.gaps.push(Gap {
                    cluster: Some(raw_cluster.name.clone()),
                    file: Some((*file).to_owned()),
                    object: None,
                    message: format!("not analysed: {reason}"),
                });
                not_analysed.push(NotAnalysed {
                    cluster: Some(raw_cluster.name.clone()),
                    reason: (*reason).to_owned(),
                });
                continue;
            }
            let blind = blind_spots
                .remove(raw_cluster.name.as_str())
                .unwrap_or_default();
            match self.build_cluster(index, raw_cluster, file, overrides, blind) {
                Ok(cluster) => clusters.push(cluster),
                Err(reason) => not_analysed.push(NotAnalysed {
                    cluster: Some(raw_cluster.name.clone()),
                    reason,
                }),
            }
        }
        for (kind, file) in self
            .daemonsets
            .iter()
            .map(|(_, f)| ("aws-node DaemonSet", *f))
            .chain(self.pods.iter().map(|(_, f)| ("pods list", *f)))
            .chain(self.node_lists.iter().map(|(_, f)| ("nodes list", *f)))
            .chain(self.eniconfigs.iter().map(|(_, f)| ("ENIConfig list", *f)))
            .collect::<Vec<_>>()
        {
            if self.attribute(file).is_none() {
                let why = if self.clusters.is_empty() {
                    "the snapshot has no `aws eks describe-cluster` output"
                } else {
                    "several clusters are in the snapshot; put each cluster's kubectl dumps in the directory of its describe-cluster output"
                };
                self.gap(
                    file,
                    kind,
                    format!("not attributed to a cluster ({why}); ignored"),
                );
            }
        }
        // The report must not depend on the order files were listed in.
        clusters.sort_by(|a: &Cluster, b: &Cluster| a.name.cmp(&b.name));
        if self.clusters.is_empty() {
            let message = "no `aws eks describe-cluster` output in the snapshot: there is no cluster to audit";
            self.gaps.push(Gap {
                cluster: None,
                file: None,
                object: None,
                message: message.to_owned(),
            });
            not_analysed.push(NotAnalysed {
                cluster: None,
                reason: message.to_owned(),
            });
        }
        Model {
            network: self.network,
            clusters,
            gaps: self.gaps,
            not_analysed,
            collection_stats,
            tcp_ports: {
                let mut ports = overrides.tcp_ports.clone();
                ports.sort_unstable();
                ports.dedup();
                ports
            },
        }
    }

    fn build_cluster(
        &mut self,
        index: usize,
        rc: &raw::Cluster,
        file: &str,
        overrides: &Overrides,
        blind: Vec<raw::BlindSpot>,
    ) -> Result<Cluster, String> {
        let name = rc.name.clone();
        let vpc_id = rc.resources_vpc_config.vpc_id.clone();
        let cluster_gap = |gaps: &mut Vec<Gap>, object: Option<String>, message: String| {
            gaps.push(Gap {
                cluster: Some(name.clone()),
                file: Some(file.to_owned()),
                object,
                message,
            });
        };
        if !self.network.vpcs.contains_key(&vpc_id) {
            cluster_gap(
                &mut self.gaps,
                Some(vpc_id.clone()),
                format!(
                    "the cluster's VPC {vpc_id} is not in any `aws ec2 describe-vpcs` output: the cluster is not analysed"
                ),
            );
            return Err(format!(
                "its VPC {vpc_id} is not in any `aws ec2 describe-vpcs` output"
            ));
        }

        // CNI inputs from every source.
        let mut inputs = CniInputs {
            cli_version: overrides.cni_version,
            cli_env: overrides.cni_env.clone(),
            cli_rp_filter_primary: overrides.rp_filter_primary,
            cli_rp_filter_secondary: overrides.rp_filter_secondary,
            ..CniInputs::default()
        };
        for (addon, addon_file) in self.addons.iter().filter(|(a, _)| a.cluster_name == name) {
            inputs.addon_version = addon.addon_version.clone();
            if let Some(values) = addon
                .configuration_values
                .as_deref()
                .filter(|v| !v.trim().is_empty())
            {
                match addon_env(values) {
                    Ok(env) => inputs.addon_env = env,
                    Err(message) => cluster_gap(
                        &mut self.gaps,
                        Some("addon.configurationValues".to_owned()),
                        format!(
                            "{addon_file}: configurationValues could not be read ({message}); add-on settings ignored"
                        ),
                    ),
                }
            }
        }
        let daemonsets: Vec<_> = self
            .daemonsets
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .cloned()
            .collect();
        if let Some((ds, _)) = daemonsets.last() {
            let spec = &ds.spec.template.spec;
            if let Some(container) = spec
                .containers
                .iter()
                .find(|c| c.name == "aws-node")
                .or(spec.containers.first())
            {
                inputs.daemonset_image = container.image.clone();
                inputs.daemonset_env = container
                    .env
                    .iter()
                    .filter_map(|e| e.value.as_ref().map(|v| (e.name.clone(), v.clone())))
                    .collect();
                // `valueFrom`: a ConfigMap or Secret the snapshot does not hold. Field and
                // resource references (`MY_NODE_NAME`) are the node's own facts, not settings.
                inputs.daemonset_value_from = container
                    .env
                    .iter()
                    .filter(|e| e.value.is_none())
                    .filter_map(|e| {
                        Some((e.name.clone(), value_from_source(e.value_from.as_ref()?)?))
                    })
                    .collect();
                // With an image pinned by digest alone, the version may still be named elsewhere.
                let hints = spec
                    .containers
                    .iter()
                    .chain(&spec.init_containers)
                    .flat_map(|c| {
                        let env = c
                            .env
                            .iter()
                            .filter(|e| e.name == "VPC_CNI_VERSION")
                            .filter_map(|e| e.value.clone())
                            .map(move |v| {
                                (format!("`VPC_CNI_VERSION` of container {}", c.name), v)
                            });
                        env.chain(
                            c.image
                                .clone()
                                .filter(|_| c.name != container.name)
                                .map(|image| (format!("the image of container {}", c.name), image)),
                        )
                    })
                    .collect();
                inputs.daemonset_version_hints = hints;
            }
            inputs.daemonset_has_init = Some(
                spec.init_containers
                    .iter()
                    .any(|c| c.name == "aws-vpc-cni-init"),
            );
        }
        let cni = CniConfig::resolve(&inputs);

        let ip_family = match rc
            .kubernetes_network_config
            .as_ref()
            .and_then(|k| k.ip_family.as_deref())
        {
            Some("ipv6") => IpFamily::V6,
            _ if cni.ipv6 => IpFamily::V6,
            _ => IpFamily::V4,
        };

        // Pods: one store of every list attributed to the cluster.
        let pod_lists: Vec<_> = self
            .pods
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .cloned()
            .collect();
        let all_pods = match pod_lists.as_slice() {
            [(only, _)] => only.items.clone(),
            lists => {
                let mut merged = raw::Pods::default();
                for (list, _) in lists {
                    merged.append(&list.items);
                }
                merged
            }
        };
        let mut pod_nodes: BTreeSet<&str> = BTreeSet::new();
        // Nodes that run an aws-node pod: with EKS Auto Mode, the others are EKS's own.
        let mut aws_node_nodes: BTreeSet<&str> = BTreeSet::new();
        let mut branch_by_pod_annotation: BTreeMap<String, u32> = BTreeMap::new();
        for pod in all_pods.iter() {
            if let Some(node) = pod.node() {
                pod_nodes.insert(node);
                if pod.namespace() == "kube-system" && pod.name().starts_with("aws-node-") {
                    aws_node_nodes.insert(node);
                }
            }
            if !kube::holds_its_address(&pod) {
                continue;
            }
            if let Some(annotation) = pod.pod_eni() {
                for entry in
                    serde_json::from_str::<Vec<serde_json::Value>>(annotation).unwrap_or_default()
                {
                    if let (Some(eni), Some(vlan)) = (
                        entry.get("eniId").and_then(|v| v.as_str()),
                        entry.get("vlanId").and_then(serde_json::Value::as_u64),
                    ) {
                        branch_by_pod_annotation
                            .insert(eni.to_owned(), u32::try_from(vlan).unwrap_or(0));
                    }
                }
            }
        }

        // Kubernetes nodes: who networks each one.
        let kube_nodes: Vec<&raw::Node> = self
            .node_lists
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .flat_map(|(list, _)| list.items.iter())
            .collect();
        let nodes_known = self
            .node_lists
            .iter()
            .any(|(_, f)| self.attribute(f) == Some(index));

        // ENIConfigs.
        let eniconfigs: Vec<EniConfigRef> = self
            .eniconfigs
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .flat_map(|(list, _)| list.items.iter())
            .map(|c| EniConfigRef {
                name: c.metadata.name.clone(),
                subnet_id: c.spec.subnet.clone(),
                security_groups: c.spec.security_groups.clone(),
            })
            .collect();

        // Nodes: instances tagged for the cluster, instances behind CNI-tagged ENIs, named by
        // pods, or named by the cluster's Node objects.
        let kube_instances: BTreeSet<&str> =
            kube_nodes.iter().filter_map(|n| n.instance_id()).collect();
        let mut node_ids: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut windows_instances: BTreeSet<&str> = BTreeSet::new();
        for (instance, _) in &self.instances {
            if instance.vpc_id.as_deref().is_some_and(|v| v != vpc_id) {
                continue;
            }
            let state = instance
                .state
                .as_ref()
                .map_or("running", |s| s.name.as_str());
            if !matches!(state, "running" | "pending") {
                continue;
            }
            let tagged = node_clusters(
                instance
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            )
            .any(|cluster| cluster == name);
            let named_by_pod = instance
                .private_dns_name
                .as_deref()
                .is_some_and(|n| pod_nodes.contains(n));
            if instance.platform.as_deref() == Some("windows") {
                windows_instances.insert(instance.instance_id.as_str());
            }
            if tagged || named_by_pod || kube_instances.contains(instance.instance_id.as_str()) {
                node_ids.insert(
                    instance.instance_id.clone(),
                    instance.private_dns_name.clone(),
                );
            }
        }
        for eni in self.network.enis.values() {
            if eni.vpc_id == vpc_id
                && eni.tags.get(ENI_CLUSTER_TAG) == Some(&name)
                && let Some(a) = &eni.attachment
            {
                node_ids.entry(a.instance_id.clone()).or_insert(None);
            }
        }
        // Index ENIs by instance and branch ENIs by trunk once: clusters have thousands of nodes.
        let mut enis_by_instance: BTreeMap<&str, Vec<&Eni>> = BTreeMap::new();
        let mut branches_by_trunk: BTreeMap<&str, Vec<&Eni>> = BTreeMap::new();
        for eni in self.network.enis.values() {
            if let Some(a) = &eni.attachment {
                enis_by_instance
                    .entry(a.instance_id.as_str())
                    .or_default()
                    .push(eni);
            }
            if eni.kind == EniType::Branch
                && let Some(trunk) = eni.tags.get(TRUNK_TAG)
            {
                branches_by_trunk
                    .entry(trunk.as_str())
                    .or_default()
                    .push(eni);
            }
        }
        let mut nodes = Vec::new();
        for (instance_id, node_name) in node_ids {
            let mut enis: Vec<&Eni> = enis_by_instance
                .get(instance_id.as_str())
                .cloned()
                .unwrap_or_default();
            enis.sort_by_key(|e| {
                e.attachment
                    .as_ref()
                    .map(|a| (a.network_card_index, a.device_index))
            });
            let Some(primary) = enis.iter().find(|e| e.is_primary()) else {
                cluster_gap(
                    &mut self.gaps,
                    Some(instance_id.clone()),
                    "node has no primary ENI (device 0, card 0) in `describe-network-interfaces`: it is not analysed"
                        .to_owned(),
                );
                continue;
            };
            let branch_enis = enis
                .iter()
                .filter(|e| e.kind == EniType::Trunk)
                .flat_map(|trunk| {
                    branches_by_trunk
                        .get(trunk.id.as_str())
                        .into_iter()
                        .flatten()
                })
                .map(|e| BranchEni {
                    eni_id: e.id.clone(),
                    vlan_id: e
                        .tags
                        .get(VLAN_TAG)
                        .and_then(|v| v.parse().ok())
                        .or_else(|| branch_by_pod_annotation.get(&e.id).copied()),
                })
                .collect();
            nodes.push(Node {
                instance_id,
                name: node_name,
                ip: primary.primary_ip,
                primary_eni: primary.id.clone(),
                enis: enis.iter().map(|e| e.id.clone()).collect(),
                branch_enis,
            });
        }

        // Nodes aws-node does not network: never judged with its rules, always named.
        let mut not_modelled: Vec<NotModelledNode> = Vec::new();
        let auto_mode = rc.compute_config.as_ref().and_then(|c| c.enabled) == Some(true);
        let has_aws_node =
            !daemonsets.is_empty() || self.addons.iter().any(|(a, _)| a.cluster_name == name);
        if auto_mode && !has_aws_node {
            return Err("EKS Auto Mode (computeConfig.enabled) without an aws-node DaemonSet or vpc-cni add-on: \
                        EKS networks the pods itself (NodeClass), which podreach does not model, so it gives \
                        this cluster no verdicts"
                .to_owned());
        }
        if nodes_known {
            let by_instance: BTreeMap<&str, &raw::Node> = kube_nodes
                .iter()
                .filter_map(|n| Some((n.instance_id()?, *n)))
                .collect();
            let by_name: BTreeMap<&str, &raw::Node> = kube_nodes
                .iter()
                .map(|n| (n.metadata.name.as_str(), *n))
                .collect();
            nodes.retain(|n: &Node| {
                let kube = by_instance
                    .get(n.instance_id.as_str())
                    .or_else(|| n.name.as_deref().and_then(|name| by_name.get(name)));
                kube.is_none_or(|k| NodeKind::of(k) == NodeKind::AwsNode)
            });
            for node in &kube_nodes {
                let kind = NodeKind::of(node);
                if kind != NodeKind::AwsNode {
                    not_modelled.push(NotModelledNode {
                        name: node.metadata.name.clone(),
                        instance_id: node.instance_id().map(str::to_owned),
                        kind,
                        pods: 0,
                        why: kind.why_not_modelled().to_owned(),
                    });
                }
            }
        } else if auto_mode {
            // Without the Node objects, EKS Auto Mode's nodes are told apart by running no
            // aws-node pod (docs/datapath.md §10.8).
            if pod_lists.is_empty() {
                return Err("EKS Auto Mode (computeConfig.enabled) beside aws-node: without the Node objects or a \
                            pods list podreach cannot tell the nodes aws-node networks from Auto Mode's, which it \
                            does not model; let podreach read the Kubernetes API, or add \
                            `kubectl get nodes -o json` to the snapshot"
                    .to_owned());
            }
            nodes.retain(|n: &Node| {
                let runs_aws_node = n
                    .name
                    .as_deref()
                    .is_some_and(|name| aws_node_nodes.contains(name));
                if !runs_aws_node {
                    not_modelled.push(NotModelledNode {
                        name: n.name.clone().unwrap_or_else(|| n.instance_id.clone()),
                        instance_id: Some(n.instance_id.clone()),
                        kind: NodeKind::AutoMode,
                        pods: 0,
                        why: format!(
                            "{} (told apart by running no aws-node pod: the Node objects were not read)",
                            NodeKind::AutoMode.why_not_modelled()
                        ),
                    });
                }
                runs_aws_node
            });
        }
        // EC2 names Windows instances itself (`Platform: windows`), Node objects or not.
        nodes.retain(|n: &Node| {
            if !windows_instances.contains(n.instance_id.as_str()) {
                return true;
            }
            if !not_modelled
                .iter()
                .any(|m| m.instance_id.as_deref() == Some(n.instance_id.as_str()))
            {
                not_modelled.push(NotModelledNode {
                    name: n.name.clone().unwrap_or_else(|| n.instance_id.clone()),
                    instance_id: Some(n.instance_id.clone()),
                    kind: NodeKind::Windows,
                    pods: 0,
                    why: format!(
                        "{} (told by EC2: the instance's Platform is windows)",
                        NodeKind::Windows.why_not_modelled()
                    ),
                });
            }
            false
        });
        let unmodelled_names: BTreeSet<String> =
            not_modelled.iter().map(|n| n.name.clone()).collect();
        // Pods on those nodes hold addresses podreach does not judge: count them by node.
        let mut pods_by_node: BTreeMap<&str, usize> = BTreeMap::new();
        for pod in all_pods.iter().filter(kube::holds_its_address) {
            if let Some(node) = pod.node().filter(|n| unmodelled_names.contains(*n)) {
                *pods_by_node.entry(node).or_default() += 1;
            }
        }
        for n in &mut not_modelled {
            n.pods = pods_by_node.get(n.name.as_str()).copied().unwrap_or(0);
        }
        not_modelled.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        if nodes.is_empty() {
            let message = if not_modelled.is_empty() {
                "no worker nodes found (no running instance tagged kubernetes.io/cluster/<name> or eks:cluster-name, \
                 no ENI tagged cluster.k8s.amazonaws.com/name, no pod or Node object naming one)"
                    .to_owned()
            } else {
                format!(
                    "no worker node networked by aws-node: the cluster's {} node(s) are all ones podreach does not model",
                    not_modelled.len()
                )
            };
            cluster_gap(&mut self.gaps, None, message);
        }
        let pods = PodIndex::new(all_pods, |pod| {
            pod.node().is_none_or(|n| !unmodelled_names.contains(n))
        });
        // Pods whose address no ENI of their node holds (aws/amazon-vpc-cni-k8s#3821, #3887: an
        // address EC2 no longer assigns). Nothing in the VPC delivers to such an address.
        let by_name: BTreeMap<&str, &Node> = nodes
            .iter()
            .filter_map(|n| Some((n.name.as_deref()?, n)))
            .collect();
        for pod in pods.all().iter().filter(kube::holds_its_address) {
            let Some(node) = pod.node().and_then(|n| by_name.get(n)) else {
                continue;
            };
            for ip in pod.ips() {
                let held = node
                    .enis
                    .iter()
                    .chain(node.branch_enis.iter().map(|b| &b.eni_id))
                    .filter_map(|id| self.network.enis.get(id))
                    .any(|eni| eni.owns(ip));
                if !held {
                    cluster_gap(
                        &mut self.gaps,
                        Some(format!("{}/{}", pod.namespace(), pod.name())),
                        format!(
                            "pod address {ip} is held by no ENI of its node {} (aws/amazon-vpc-cni-k8s#3821): \
                             the VPC delivers nothing to it, so no far side can reach the pod; what the pod \
                             opens itself gets out only if SNATed to the node IP, and without SNAT EC2's \
                             source/destination check drops it",
                            node.instance_id
                        ),
                    );
                }
            }
        }

        let mut blind_spots = blind;
        // ENIConfigs decide subnets and groups only with custom networking.
        blind_spots.retain(|b| b.input != ENICONFIGS_INPUT || cni.custom_networking);
        if cni.version_unknown() {
            blind_spots.push(raw::BlindSpot {
                cluster: name.clone(),
                input: crate::cni::UNKNOWN_VERSION.to_owned(),
                cause: crate::cni::VERSION_SOURCES.to_owned(),
                remedy: "let podreach read the aws-node DaemonSet (grant it the Kubernetes API: README \
                         \"Kubernetes API access\"; or add `kubectl get daemonset aws-node -n kube-system -o json` \
                         to the snapshot), or give the version with --cni-version; until then every verdict \
                         that differs between CNI releases is unknown"
                    .to_owned(),
            });
        }

        Ok(Cluster {
            name: name.clone(),
            vpc_id,
            ip_family,
            file: file.to_owned(),
            cni,
            nodes,
            eniconfigs,
            pods,
            pods_known: !pod_lists.is_empty(),
            nodes_known,
            not_modelled,
            blind_spots,
        })
    }
}

/// The TCP-relevant rules of one direction of a security group, and what could not be read.
fn sg_rules(permissions: &[raw::IpPermission]) -> (Vec<SgRule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for p in permissions {
        let protocol = Protocol::parse(&p.ip_protocol);
        let ports = match (protocol, p.from_port, p.to_port) {
            (Protocol::All, _, _) => PortSet::all(),
            (Protocol::Tcp, Some(from), Some(to)) => match (u16::try_from(from), u16::try_from(to))
            {
                (Ok(a), Ok(b)) => PortSet::range(a, b),
                _ if from == -1 => PortSet::all(),
                _ => {
                    problems.push(format!(
                        "rule tcp {from}-{to}: not a TCP port range; the rule is left out"
                    ));
                    continue;
                }
            },
            (Protocol::Tcp, _, _) => PortSet::all(),
            (Protocol::Other, _, _) => continue,
        };
        for range in &p.ip_ranges {
            match range.cidr_ip.parse::<Ipv4Net>() {
                Ok(net) => rules.push(SgRule {
                    protocol,
                    ports: ports.clone(),
                    peer: SgPeer::Cidr(net.trunc()),
                }),
                Err(_) => problems.push(format!(
                    "`{}` is not an IPv4 CIDR; that rule is left out",
                    range.cidr_ip
                )),
            }
        }
        for list in &p.prefix_list_ids {
            rules.push(SgRule {
                protocol,
                ports: ports.clone(),
                peer: SgPeer::PrefixList(list.prefix_list_id.clone()),
            });
        }
        for pair in &p.user_id_group_pairs {
            if let Some(group_id) = &pair.group_id {
                rules.push(SgRule {
                    protocol,
                    ports: ports.clone(),
                    peer: SgPeer::Group {
                        group_id: group_id.clone(),
                        peering: pair.vpc_peering_connection_id.clone(),
                    },
                });
            }
        }
    }
    (rules, problems)
}

/// One IPv4 network ACL entry; `None` for IPv6 entries, which never match an IPv4 packet.
fn acl_entry(e: &raw::NetworkAclEntry) -> Result<Option<AclEntry>, String> {
    let Some(text) = &e.cidr_block else {
        return Ok(None);
    };
    let cidr = text
        .parse::<Ipv4Net>()
        .map_err(|_| {
            format!(
                "entry {}: `{text}` is not an IPv4 CIDR; the entry is left out",
                e.rule_number
            )
        })?
        .trunc();
    let rule_number = u32::try_from(e.rule_number).map_err(|_| {
        format!(
            "entry {}: not a rule number; the entry is left out",
            e.rule_number
        )
    })?;
    let protocol = Protocol::parse(&e.protocol);
    let ports = match (protocol, &e.port_range) {
        (Protocol::Tcp, Some(r)) => match (u16::try_from(r.from), u16::try_from(r.to)) {
            (Ok(a), Ok(b)) => PortSet::range(a, b),
            _ => {
                return Err(format!(
                    "entry {rule_number}: port range {}-{} is not TCP ports; the entry is left out",
                    r.from, r.to
                ));
            }
        },
        _ => PortSet::all(),
    };
    let allow = match e.rule_action.as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(format!(
                "entry {rule_number}: action `{other}` is neither allow nor deny; the entry is left out"
            ));
        }
    };
    Ok(Some(AclEntry {
        rule_number,
        protocol,
        ports,
        cidr,
        allow,
    }))
}

fn route_target(r: &raw::Route) -> Target {
    if let Some(id) = &r.vpc_peering_connection_id {
        Target::Peering(id.clone())
    } else if let Some(id) = &r.transit_gateway_id {
        Target::TransitGateway(id.clone())
    } else if let Some(id) = &r.local_gateway_id {
        Target::LocalGateway(id.clone())
    } else if let Some(id) = &r.gateway_id {
        if id == "local" {
            Target::Local
        } else if id.starts_with("vgw-") {
            Target::VirtualPrivateGateway(id.clone())
        } else {
            Target::Other(id.clone())
        }
    } else {
        let other = [
            &r.nat_gateway_id,
            &r.network_interface_id,
            &r.instance_id,
            &r.egress_only_internet_gateway_id,
            &r.carrier_gateway_id,
            &r.core_network_arn,
        ]
        .into_iter()
        .flatten()
        .next()
        .cloned()
        .unwrap_or_else(|| "unknown-target".to_owned());
        Target::Other(other)
    }
}

/// Where a `valueFrom` takes its value, for a ConfigMap or Secret key; `None` for field and
/// resource references, which carry node facts rather than settings.
fn value_from_source(value_from: &serde_json::Value) -> Option<String> {
    for kind in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(reference) = value_from.get(kind) {
            let name = reference
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            let key = reference.get("key").and_then(|v| v.as_str()).unwrap_or("?");
            return Some(format!("{kind} {name}/{key}"));
        }
    }
    None
}

/// Reads the `env` map of an add-on's `configurationValues` (JSON or YAML; YAML is a superset).
fn addon_env(values: &str) -> Result<BTreeMap<String, String>, String> {
    let parsed: serde_json::Value = serde_yaml_ng::from_str(values).map_err(|e| e.to_string())?;
    let mut env = BTreeMap::new();
    if let Some(map) = parsed.get("env").and_then(|e| e.as_object()) {
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.insert(key.clone(), text);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addon_configuration_values_may_be_json_or_yaml() {
        let json = r#"{"env": {"AWS_VPC_K8S_CNI_EXTERNALSNAT": "true", "WARM_ENI_TARGET": 2}}"#;
        let yaml = "env:\n  AWS_VPC_K8S_CNI_EXTERNALSNAT: \"true\"\n  WARM_ENI_TARGET: 2\n";
        for text in [json, yaml] {
            let env = addon_env(text).expect("valid configuration");
            assert_eq!(
                env.get("AWS_VPC_K8S_CNI_EXTERNALSNAT").map(String::as_str),
                Some("true")
            );
            assert_eq!(env.get("WARM_ENI_TARGET").map(String::as_str), Some("2"));
        }
        assert!(addon_env("env: [unclosed").is_err());
    }

    #[test]
    fn kubectl_dumps_belong_to_the_cluster_in_their_directory() {
        assert!(is_within("shop/k8s", "shop"));
        assert!(is_within("shop", ""));
        assert!(!is_within("shopping", "shop"));
        assert_eq!(directory_of("shop/k8s/pods.json"), "shop/k8s");
        assert_eq!(directory_of("pods.json"), "");
    }
}
