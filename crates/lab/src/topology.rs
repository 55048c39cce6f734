//! What the lab builds for one node, read from the validated model: a plain description with no
//! kernel state in it.
//!
//! The model is rich (every VPC object of a snapshot); the lab needs a small, concrete picture of
//! one node: its ENIs as interfaces (name, addresses, gateway, host table), one pod address per
//! ENI that carries pod addresses, the cluster-VPC route tables those ENIs' subnets use, the
//! objects behind private routes (`pcx-`, `tgw-`, `vgw-`, `lgw-`), and one probe address per
//! destination block. Separating this from the code that touches the kernel keeps the mapping
//! model → lab reviewable and unit-testable without root. Nothing here encodes a verdict: the
//! decisions (which table, SNAT or not, dropped or not) are left to the kernel and the emulated
//! fabric.

use crate::filters::{self, FilterSpec, Holder};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use podreach_core::cni::{CniConfig, SgpMode, Version};
use podreach_core::model::{EniType, Model, RouteTable, Target};

use crate::error::LabError;

/// The CNI settings the host rules depend on, with the lab's choices for unknown host facts.
#[derive(Debug, Clone)]
pub struct CniSettings {
    pub version: Version,
    pub external_snat: bool,
    pub exclude_snat_cidrs: Vec<Ipv4Net>,
    pub external_service_cidrs: Vec<Ipv4Net>,
    pub node_port_support: bool,
    pub connmark: u32,
    pub randomize_snat: String,
    pub veth_prefix: String,
    /// Effective `rp_filter` of the primary interface.
    pub rp_filter_primary: u8,
    /// Effective `rp_filter` of every other interface (secondary ENIs, VLANs, host veths).
    pub rp_filter_secondary: u8,
    /// `ENABLE_POD_ENI` (ipamd): with it the `local` rule moves to priority 20.
    pub pod_eni: bool,
    /// The enforcing mode a branch pod is set up with: the plugin's `podSGEnforcingMode`, which
    /// the entrypoint writes from `POD_SECURITY_GROUP_ENFORCING_MODE` (default strict) whatever
    /// `ENABLE_POD_ENI` says; before v1.11.0 there is only the strict set-up.
    pub sgp_mode: SgpMode,
}

impl CniSettings {
    fn from_config(cni: &CniConfig, notes: &mut Vec<String>) -> CniSettings {
        let rp_filter_primary = cni.rp_filter_primary.unwrap_or_else(|| {
            notes.push("rp_filter of the primary interface is unknown in the model; the lab uses 2 (loose)".to_owned());
            2
        });
        let rp_filter_secondary = cni.rp_filter_secondary.unwrap_or_else(|| {
            notes.push(
                "rp_filter of secondary interfaces is unknown in the model; the lab uses 0 (off) on them".to_owned(),
            );
            0
        });
        CniSettings {
            version: cni.version,
            external_snat: cni.external_snat,
            exclude_snat_cidrs: cni.exclude_snat_cidrs.clone(),
            external_service_cidrs: cni.external_service_cidrs.clone(),
            node_port_support: cni.node_port_support,
            connmark: cni.connmark,
            randomize_snat: cni.randomize_snat.clone(),
            veth_prefix: cni.veth_prefix.clone(),
            rp_filter_primary,
            rp_filter_secondary,
            pod_eni: cni.pod_eni,
            sgp_mode: cni.sgp_mode,
        }
    }
}

/// One ENI of the node, as a Linux interface.
#[derive(Debug, Clone)]
pub struct EniSpec {
    pub id: String,
    /// Name inside the node namespace: `eth0` for the primary ENI, `eth1`, … in card/device order.
    pub ifname: String,
    /// Name of the fabric's end of the link (`n0`, `n1`, …).
    pub fabric_ifname: String,
    pub device_index: u32,
    pub network_card_index: u32,
    pub primary: bool,
    pub subnet_id: String,
    pub subnet: Ipv4Net,
    /// Subnet base + 1 (`GetIPv4Gateway`).
    pub gateway: Ipv4Addr,
    pub primary_ip: Ipv4Addr,
    /// Everything the EC2 source/destination check accepts as this ENI's: primary, secondary
    /// addresses (as /32) and delegated prefixes.
    pub owned: Vec<Ipv4Net>,
    /// Host route table `T(e)`; `None` is `main` (the primary ENI).
    pub table: Option<u32>,
    /// The pod address the lab places on this ENI, if it has pod addresses.
    pub pod_ip: Option<Ipv4Addr>,
    /// Index into [`NodeSpec::route_tables`] of the subnet's route table (`None`: not in the snapshot).
    pub route_table: Option<usize>,
    /// The ENI's security groups (ids).
    pub groups: Vec<String>,
    /// Its security groups and its subnet's network ACL, as the fabric enforces them.
    pub filters: FilterSpec,
}

/// A branch ENI (security groups for pods): a VLAN of the node's trunk ENI.
///
/// On the node the CNI creates `vlan.eth.<V>` on the trunk's interface with the branch ENI's MAC
/// (driver.go `setupVlan`/`buildVlanLink`); in the fabric the same VLAN is a sub-interface of the
/// trunk's link, and EC2 treats it as an ENI of its own: it owns the pod address, checks
/// source/destination, carries its own security groups and sits in its subnet's route table.
/// So `port` describes it like any ENI: `ifname` is `vlan.eth.<V>`, `fabric_ifname` the fabric's
/// VLAN sub-interface, `table` 100+V and `pod_ip` the branch ENI's own address.
#[derive(Debug, Clone)]
pub struct BranchSpec {
    pub port: EniSpec,
    pub vlan_id: u32,
    /// Index into [`NodeSpec::enis`] of the trunk ENI carrying the VLAN.
    pub trunk: usize,
}

/// Where a pod's address lives: an ENI of the node, or a branch ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPort {
    /// Index into [`NodeSpec::enis`].
    Eni(usize),
    /// Index into [`NodeSpec::branches`].
    Branch(usize),
}

/// What a VPC route does with a packet, in the lab's fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// The VPC's `local` route: delivered to whichever ENI/host owns the address, or dropped.
    Local,
    /// Forwarded to the object with this index in [`NodeSpec::remotes`].
    Via(usize),
    /// On a remote router: sent back towards the cluster VPC over the same object.
    Back,
    /// Dropped, with the reason the fabric's counter will show.
    Drop(String),
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub destination: Ipv4Net,
    pub action: RouteAction,
}

/// A cluster-VPC route table used by one of the node's ENIs, as seen from one Availability Zone
/// (a transit gateway forwards only from AZs where the VPC's attachment has a subnet).
#[derive(Debug, Clone)]
pub struct RtSpec {
    pub id: String,
    pub az: String,
    pub routes: Vec<RouteSpec>,
}

/// Whether a transit gateway takes traffic of `vpc` from `az`: the VPC must have an available
/// attachment to it with a subnet in that AZ (AWS, "Transit gateway attachments to a VPC": traffic
/// from an AZ without an attachment subnet cannot reach the transit gateway). Read here from the
/// attachments themselves, independently of `podreach_core::vpc_path`. `Ok` when the snapshot
/// cannot tell (the model then says unknown, which the comparison does not count).
fn tgw_takes(
    network: &podreach_core::model::Network,
    vpc: &str,
    tgw: &str,
    az: &str,
) -> Result<(), String> {
    let Some(attachments) = &network.tgw_attachments else {
        return Ok(());
    };
    let Some(attachment) = attachments
        .iter()
        .find(|a| a.tgw_id == tgw && a.vpc_id == vpc)
    else {
        return Err(format!(
            "TGW_NO_ATTACHMENT {vpc} has no attachment to {tgw}"
        ));
    };
    if attachment.state != "available" {
        return Err(format!(
            "TGW_ATTACHMENT_NOT_AVAILABLE {} is `{}`",
            attachment.id, attachment.state
        ));
    }
    let azs: Vec<Option<&str>> = attachment
        .subnet_ids
        .iter()
        .map(|id| network.subnets.get(id).map(|s| s.az.as_str()))
        .collect();
    if azs.contains(&Some(az)) || azs.contains(&None) {
        Ok(())
    } else {
        Err(format!(
            "TGW_NO_AZ_ATTACHMENT {} of {tgw} has no subnet in {az}",
            attachment.id
        ))
    }
}

/// The kind of object behind a private route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    Peering,
    TransitGateway,
    VirtualPrivateGateway,
    LocalGateway,
}

/// An object behind a private route, emulated as a router namespace.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    pub id: String,
    pub kind: RemoteKind,
    /// For a peering: the peer VPC's CIDRs (no transit: only these are delivered).
    pub peer_vpc_cidrs: Option<Vec<Ipv4Net>>,
}

/// One destination block with its probe host.
#[derive(Debug, Clone)]
pub struct DestSpec {
    pub block: Ipv4Net,
    /// The route destination the block was cut from.
    pub route_destination: Ipv4Net,
    pub probe: Ipv4Addr,
    /// Index into [`NodeSpec::remotes`] of the object the host sits behind.
    pub remote: usize,
    /// The probe host's return routing (its subnet's route table), relative to `remote`.
    pub return_routes: Vec<RouteSpec>,
    /// Where `return_routes` came from.
    pub return_source: String,
    /// The far ENI the probe host stands for (its address is the probe): id, groups, subnet.
    pub far_eni: Option<(String, Vec<String>, String)>,
    /// The peer subnet holding the probe, when the snapshot has one (its network ACL applies).
    pub peer_subnet: Option<String>,
    /// Whether a security-group reference crosses to the far side (an active peering
    /// connection within one Region).
    pub references_cross: bool,
    /// The far ENI's security groups and the peer subnet's ACL, as the fabric enforces them.
    pub filters: FilterSpec,
}

/// Everything the lab builds for one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub cluster: String,
    pub instance_id: String,
    pub cni: CniSettings,
    /// `VPC_CIDRS`, the primary CIDR first.
    pub vpc_cidrs: Vec<Ipv4Net>,
    /// `n0`.
    pub node_ip: Ipv4Addr,
    pub enis: Vec<EniSpec>,
    /// Branch ENIs on the node's trunk ENI (security groups for pods).
    pub branches: Vec<BranchSpec>,
    pub route_tables: Vec<RtSpec>,
    pub remotes: Vec<RemoteSpec>,
    pub destinations: Vec<DestSpec>,
    /// Choices the lab made that the reader should know about.
    pub notes: Vec<String>,
}

/// `GetIPv4Gateway`: the subnet base address + 1.
pub fn gateway_of(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()).wrapping_add(1))
}

/// Host table of an ENI (helper.go): card 0 device 0 → main; card 0 device d → d+1; card k>0 →
/// 10000 + d + 100·k (v1.20.3+ numbering; older multi-card numbering depends on the instance type).
pub fn host_table(device_index: u32, network_card_index: u32) -> Option<u32> {
    match (network_card_index, device_index) {
        (0, 0) => None,
        (0, d) => Some(d + 1),
        (k, d) => Some(10_000 + d + 100 * k),
    }
}

fn host_address(block: Ipv4Net, offset: u32) -> Ipv4Addr {
    let size = 1u64 << (32 - block.prefix_len());
    let base = u32::from(block.network());
    if size <= 2 {
        return block.network();
    }
    let offset = offset.min(u32::try_from(size - 2).unwrap_or(u32::MAX));
    Ipv4Addr::from(base + offset)
}

fn intersection(a: Ipv4Net, b: Ipv4Net) -> Option<Ipv4Net> {
    if a.contains(&b.network()) && a.prefix_len() <= b.prefix_len() {
        Some(b)
    } else if b.contains(&a.network()) && b.prefix_len() <= a.prefix_len() {
        Some(a)
    } else {
        None
    }
}

fn remote_kind(target: &Target) -> Option<RemoteKind> {
    match target {
        Target::Peering(_) => Some(RemoteKind::Peering),
        Target::TransitGateway(_) => Some(RemoteKind::TransitGateway),
        Target::VirtualPrivateGateway(_) => Some(RemoteKind::VirtualPrivateGateway),
        Target::LocalGateway(_) => Some(RemoteKind::LocalGateway),
        Target::Local | Target::Other(_) => None,
    }
}

impl NodeSpec {
    /// Reads one node of one cluster out of the model.
    pub fn from_model(
        model: &Model,
        cluster_name: &str,
        instance_id: &str,
    ) -> Result<NodeSpec, LabError> {
        let what = format!("{cluster_name}/{instance_id}");
        let cluster = model
            .clusters
            .iter()
            .find(|c| c.name == cluster_name)
            .ok_or_else(|| LabError::model(&what, "no such cluster in the model"))?;
        let node = cluster
            .nodes
            .iter()
            .find(|n| n.instance_id == instance_id)
            .ok_or_else(|| LabError::model(&what, "no such node in the cluster"))?;
        let network = &model.network;
        let vpc = network.vpcs.get(&cluster.vpc_id).ok_or_else(|| {
            LabError::model(&what, format!("VPC {} not in the model", cluster.vpc_id))
        })?;
        let mut notes = Vec::new();
        let cni = CniSettings::from_config(&cluster.cni, &mut notes);

        // Remote objects, created on first mention.
        let mut remotes: Vec<RemoteSpec> = Vec::new();
        let remote_index = |target: &Target, remotes: &mut Vec<RemoteSpec>| -> Option<usize> {
            let kind = remote_kind(target)?;
            if let Some(i) = remotes.iter().position(|r| r.id == target.id()) {
                return Some(i);
            }
            let peer_vpc_cidrs = match kind {
                RemoteKind::Peering => network
                    .peerings
                    .as_ref()
                    .and_then(|p| p.get(target.id()))
                    .and_then(|p| p.other_side(&cluster.vpc_id))
                    .map(|(_, cidrs)| cidrs.to_vec()),
                _ => None,
            };
            remotes.push(RemoteSpec {
                id: target.id().to_owned(),
                kind,
                peer_vpc_cidrs,
            });
            Some(remotes.len() - 1)
        };

        // Cluster-side route tables, translated route by route.
        let mut route_tables: Vec<RtSpec> = Vec::new();
        let cluster_rt = |table: &RouteTable,
                          az: &str,
                          remotes: &mut Vec<RemoteSpec>,
                          notes: &mut Vec<String>|
         -> RtSpec {
            let mut routes = Vec::new();
            for route in &table.routes {
                let action = if route.blackhole {
                    RouteAction::Drop(format!(
                        "ROUTE_BLACKHOLE {} -> {} in {}",
                        route.destination,
                        route.target.id(),
                        table.id
                    ))
                } else {
                    match &route.target {
                        Target::Local => RouteAction::Local,
                        Target::Other(id) => RouteAction::Drop(format!(
                            "{} routes {} to {id}, not a private path",
                            table.id, route.destination
                        )),
                        target => {
                            let index = remote_index(target, remotes).unwrap_or_default();
                            let status = match target {
                                Target::Peering(id) => network
                                    .peerings
                                    .as_ref()
                                    .map(|p| p.get(id).map(|p| p.status.clone())),
                                _ => None,
                            };
                            let tgw = match target {
                                Target::TransitGateway(tgw) => {
                                    tgw_takes(network, &cluster.vpc_id, tgw, az).err()
                                }
                                _ => None,
                            };
                            match status {
                                _ if tgw.is_some() => RouteAction::Drop(format!(
                                    "{} ({} in {}, from {az})",
                                    tgw.unwrap_or_default(),
                                    route.destination,
                                    table.id
                                )),
                                Some(Some(s)) if s != "active" => RouteAction::Drop(format!(
                                    "PCX_NOT_ACTIVE {} is `{s}` ({} in {})",
                                    target.id(),
                                    route.destination,
                                    table.id
                                )),
                                Some(None) | None if matches!(target, Target::Peering(_)) => {
                                    notes.push(format!(
                                        "{} is not in describe-vpc-peering-connections; the lab treats it as active",
                                        target.id()
                                    ));
                                    RouteAction::Via(index)
                                }
                                _ => RouteAction::Via(index),
                            }
                        }
                    }
                };
                routes.push(RouteSpec {
                    destination: route.destination,
                    action,
                });
            }
            RtSpec {
                id: table.id.clone(),
                az: az.to_owned(),
                routes,
            }
        };

        // The route table of a subnet, translated once per (table, AZ).
        let subnet_rt = |subnet: &podreach_core::model::Subnet,
                         route_tables: &mut Vec<RtSpec>,
                         remotes: &mut Vec<RemoteSpec>,
                         notes: &mut Vec<String>|
         -> Option<usize> {
            let Some(table) = network.route_table_of_subnet(&subnet.id) else {
                notes.push(format!(
                    "subnet {} has no route table in the snapshot: the fabric drops its egress",
                    subnet.id
                ));
                return None;
            };
            if let Some(i) = route_tables
                .iter()
                .position(|r| r.id == table.id && r.az == subnet.az)
            {
                return Some(i);
            }
            route_tables.push(cluster_rt(table, &subnet.az, remotes, notes));
            Some(route_tables.len() - 1)
        };
        let subnet_of = |eni: &podreach_core::model::Eni| {
            network.subnets.get(&eni.subnet_id).ok_or_else(|| {
                LabError::model(
                    &what,
                    format!("subnet {} of {} not in the model", eni.subnet_id, eni.id),
                )
            })
        };

        // ENIs in card/device order (the model's order), as eth0, eth1, …
        let mut enis = Vec::new();
        let mut trunk = None;
        for (position, eni_id) in node.enis.iter().enumerate() {
            let eni = network
                .enis
                .get(eni_id)
                .ok_or_else(|| LabError::model(&what, format!("ENI {eni_id} not in the model")))?;
            let subnet = subnet_of(eni)?;
            let (device_index, network_card_index) = eni
                .attachment
                .as_ref()
                .map_or((0, 0), |a| (a.device_index, a.network_card_index));
            let mut owned = vec![Ipv4Net::from(eni.primary_ip)];
            owned.extend(eni.secondary_ips.iter().map(|ip| Ipv4Net::from(*ip)));
            owned.extend(eni.prefixes.iter().copied());
            let pod_ip = eni
                .secondary_ips
                .first()
                .copied()
                .or_else(|| eni.prefixes.first().map(Ipv4Net::network));
            let is_trunk = eni.kind == EniType::Trunk;
            if is_trunk {
                trunk = Some(position);
            }
            enis.push(EniSpec {
                id: eni.id.clone(),
                ifname: format!("eth{position}"),
                fabric_ifname: format!("n{position}"),
                device_index,
                network_card_index,
                primary: eni.is_primary(),
                subnet_id: subnet.id.clone(),
                subnet: subnet.cidr,
                gateway: gateway_of(subnet.cidr),
                primary_ip: eni.primary_ip,
                owned,
                table: host_table(device_index, network_card_index),
                // A trunk ENI's own addresses are not handed to pods (ipamd skips it).
                pod_ip: if is_trunk { None } else { pod_ip },
                route_table: subnet_rt(subnet, &mut route_tables, &mut remotes, &mut notes),
                groups: eni.groups.clone(),
                filters: FilterSpec::default(),
            });
        }

        // Branch ENIs: one VLAN of the trunk each, the pod holding the branch ENI's address.
        let mut branches = Vec::new();
        for branch in &node.branch_enis {
            let Some(eni) = network.enis.get(&branch.eni_id) else {
                notes.push(format!(
                    "branch ENI {} is not in describe-network-interfaces: the lab does not build it",
                    branch.eni_id
                ));
                continue;
            };
            let (Some(vlan_id), Some(trunk)) =
                (branch.vlan_id.filter(|v| (1..=4094).contains(v)), trunk)
            else {
                notes.push(format!(
                    "branch ENI {} has no VLAN id (tag vpcresources.k8s.aws/vlan-id, or the pod's vpc.amazonaws.com/pod-eni annotation) or the node no trunk ENI: the lab does not build it",
                    eni.id
                ));
                continue;
            };
            let subnet = subnet_of(eni)?;
            let mut owned = vec![Ipv4Net::from(eni.primary_ip)];
            owned.extend(eni.secondary_ips.iter().map(|ip| Ipv4Net::from(*ip)));
            branches.push(BranchSpec {
                port: EniSpec {
                    id: eni.id.clone(),
                    ifname: format!("vlan.eth.{vlan_id}"),
                    fabric_ifname: format!("b{}", branches.len()),
                    device_index: 0,
                    network_card_index: 0,
                    primary: false,
                    subnet_id: subnet.id.clone(),
                    subnet: subnet.cidr,
                    gateway: gateway_of(subnet.cidr),
                    primary_ip: eni.primary_ip,
                    owned,
                    table: Some(vlan_id + 100),
                    pod_ip: Some(eni.primary_ip),
                    route_table: subnet_rt(subnet, &mut route_tables, &mut remotes, &mut notes),
                    groups: eni.groups.clone(),
                    filters: FilterSpec::default(),
                },
                vlan_id,
                trunk,
            });
        }
        if !enis.first().is_some_and(|e| e.primary) {
            return Err(LabError::model(
                &what,
                "the node's first ENI is not its primary ENI",
            ));
        }

        // Destination blocks: every private route of the cluster VPC's route tables, outside the
        // VPC, cut at every boundary that could make the kernel or the VPC treat parts differently.
        let vpc_tables: Vec<&RouteTable> = network
            .route_tables
            .values()
            .filter(|t| t.vpc_id == cluster.vpc_id)
            .collect();
        let mut route_dests: BTreeSet<Ipv4Net> = BTreeSet::new();
        for table in &vpc_tables {
            for route in &table.routes {
                if route.target.is_private_beyond_vpc()
                    && !vpc
                        .cidrs
                        .iter()
                        .any(|c| podreach_core::cidr::contains(c, &route.destination))
                {
                    route_dests.insert(route.destination);
                }
            }
        }
        let mut boundaries: Vec<Ipv4Net> = route_dests.iter().copied().collect();
        boundaries.extend(cni.exclude_snat_cidrs.iter().copied());
        boundaries.extend(cni.external_service_cidrs.iter().copied());
        boundaries.extend(vpc.cidrs.iter().copied());
        // Hosts live in subnets: cut at every subnet outside the cluster VPC, so a block is either
        // inside one subnet of a peer VPC or outside all of them.
        boundaries.extend(
            network
                .subnets
                .values()
                .filter(|s| s.vpc_id != cluster.vpc_id)
                .map(|s| s.cidr),
        );
        let mut blocks: Vec<(Ipv4Net, Ipv4Net)> = Vec::new();
        for dest in &route_dests {
            for piece in podreach_core::cidr::split(*dest, &boundaries) {
                if !blocks.iter().any(|(b, _)| *b == piece)
                    && !vpc
                        .cidrs
                        .iter()
                        .any(|c| podreach_core::cidr::overlaps(c, &piece))
                {
                    blocks.push((piece, *dest));
                }
            }
        }

        let mut destinations = Vec::new();
        for (block, route_destination) in blocks {
            // The object the probe host sits behind: a peering whose peer VPC holds the block,
            // else the target of the longest private route covering it (primary ENI's table first).
            let by_peering = network.peerings.as_ref().and_then(|peerings| {
                peerings.values().find(|p| {
                    p.other_side(&cluster.vpc_id).is_some_and(|(_, cidrs)| {
                        cidrs
                            .iter()
                            .any(|c| podreach_core::cidr::contains(c, &block))
                    }) && vpc_tables
                        .iter()
                        .any(|t| t.routes.iter().any(|r| r.target.id() == p.id))
                })
            });
            let target = match by_peering {
                Some(p) => Some(Target::Peering(p.id.clone())),
                None => {
                    let mut ordered: Vec<&RouteTable> = Vec::new();
                    if let Some(t) = enis[0]
                        .route_table
                        .and_then(|i| vpc_tables.iter().find(|t| t.id == route_tables[i].id))
                    {
                        ordered.push(t);
                    }
                    ordered.extend(vpc_tables.iter().copied());
                    ordered.iter().find_map(|t| {
                        let covering: Vec<_> = t
                            .routes
                            .iter()
                            .filter(|r| {
                                r.target.is_private_beyond_vpc()
                                    && podreach_core::cidr::contains(&r.destination, &block)
                            })
                            .collect();
                        covering
                            .into_iter()
                            .max_by_key(|r| r.destination.prefix_len())
                            .map(|r| r.target.clone())
                    })
                }
            };
            let Some(target) = target else { continue };
            let Some(remote) = remote_index(&target, &mut remotes) else {
                continue;
            };

            // Probe address: inside a subnet of the peer VPC when the snapshot has one. Behind a
            // transit gateway, the far VPC is the attached VPC whose CIDRs hold the block.
            let peer_vpc_id = match &target {
                Target::TransitGateway(tgw) => network
                    .tgw_attachments
                    .iter()
                    .flatten()
                    .filter(|a| &a.tgw_id == tgw && a.vpc_id != cluster.vpc_id)
                    .map(|a| a.vpc_id.clone())
                    .find(|vpc| {
                        network.vpcs.get(vpc).is_some_and(|v| {
                            v.cidrs
                                .iter()
                                .any(|c| podreach_core::cidr::contains(c, &block))
                        })
                    }),
                _ => network
                    .peerings
                    .as_ref()
                    .and_then(|p| p.get(target.id()))
                    .and_then(|p| p.other_side(&cluster.vpc_id))
                    .and_then(|(vpc, _)| vpc.map(str::to_owned)),
            };
            let peer_subnet = peer_vpc_id.as_ref().and_then(|vpc_id| {
                network
                    .subnets
                    .values()
                    .find(|s| &s.vpc_id == vpc_id && intersection(s.cidr, block).is_some())
            });
            let peer_has_subnets = peer_vpc_id
                .as_ref()
                .is_some_and(|vpc_id| network.subnets.values().any(|s| &s.vpc_id == vpc_id));
            if peer_has_subnets && peer_subnet.is_none() {
                // No subnet of the peer VPC holds this block: no host can live there.
                continue;
            }
            // A far ENI in the block is the probe host (its groups are the far side's filter).
            let far_eni = peer_vpc_id.as_ref().and_then(|vpc_id| {
                network
                    .enis
                    .values()
                    .find(|e| &e.vpc_id == vpc_id && block.contains(&e.primary_ip))
            });
            let probe = match (
                far_eni,
                peer_subnet.and_then(|s| intersection(s.cidr, block)),
            ) {
                (Some(e), _) => e.primary_ip,
                (None, Some(range)) => host_address(range, 10),
                (None, None) => host_address(block, 10),
            };
            let references_cross = match &target {
                Target::Peering(id) => network
                    .peerings
                    .as_ref()
                    .and_then(|p| p.get(id))
                    .is_some_and(|p| {
                        p.status == "active"
                            && match (&p.requester_region, &p.accepter_region) {
                                (Some(a), Some(b)) => a == b,
                                _ => true,
                            }
                    }),
                _ => false,
            };

            // The probe host's return routing: its subnet's route table, read from the peer side.
            let peer_table = match (peer_subnet, &peer_vpc_id) {
                (Some(s), _) => network.route_table_of_subnet(&s.id),
                (None, Some(vpc_id)) => network
                    .main_route_tables
                    .get(vpc_id)
                    .and_then(|id| network.route_tables.get(id)),
                _ => None,
            };
            // Behind a transit gateway the far VPC's attachment must take the reply from the AZ
            // of the probe's subnet too.
            let far_tgw_refuses = match (&target, peer_subnet) {
                (Target::TransitGateway(tgw), Some(s)) => {
                    tgw_takes(network, &s.vpc_id, tgw, &s.az).err()
                }
                _ => None,
            };
            let (return_routes, return_source) = match peer_table {
                Some(table) if far_tgw_refuses.is_some() => (
                    table
                        .routes
                        .iter()
                        .map(|r| RouteSpec {
                            destination: r.destination,
                            action: if r.target == Target::Local {
                                RouteAction::Local
                            } else {
                                RouteAction::Drop(format!(
                                    "peer {}",
                                    far_tgw_refuses.clone().unwrap_or_default()
                                ))
                            },
                        })
                        .collect(),
                    format!("peer route table {}", table.id),
                ),
                Some(table) => {
                    let routes = table
                        .routes
                        .iter()
                        .map(|r| RouteSpec {
                            destination: r.destination,
                            action: if r.blackhole {
                                RouteAction::Drop(format!(
                                    "peer ROUTE_BLACKHOLE {} in {}",
                                    r.destination, table.id
                                ))
                            } else if r.target.id() == target.id() {
                                RouteAction::Back
                            } else if r.target == Target::Local {
                                RouteAction::Local
                            } else {
                                RouteAction::Drop(format!(
                                    "peer table {} sends {} to {}, not back over {}",
                                    table.id,
                                    r.destination,
                                    r.target.id(),
                                    target.id()
                                ))
                            },
                        })
                        .collect();
                    (routes, format!("peer route table {}", table.id))
                }
                None => {
                    let routes = vpc
                        .cidrs
                        .iter()
                        .map(|c| RouteSpec {
                            destination: *c,
                            action: RouteAction::Back,
                        })
                        .collect();
                    (
                        routes,
                        format!(
                            "assumed: the remote side of {} routes every cluster-VPC CIDR back",
                            target.id()
                        ),
                    )
                }
            };
            destinations.push(DestSpec {
                block,
                route_destination,
                probe,
                remote,
                return_routes,
                return_source,
                far_eni: far_eni.map(|e| (e.id.clone(), e.groups.clone(), e.subnet_id.clone())),
                peer_subnet: peer_subnet.map(|s| s.id.clone()),
                references_cross,
                filters: FilterSpec::default(),
            });
        }

        // The filters, once every ENI and probe host is known (group references name them).
        let mut holders: Vec<Holder> = enis
            .iter()
            .chain(branches.iter().map(|b| &b.port))
            .map(|e| Holder {
                addresses: filters::addresses(e.primary_ip, &e.owned),
                groups: e.groups.clone(),
                near: true,
            })
            .collect();
        holders.extend(destinations.iter().filter_map(|d| {
            d.far_eni.as_ref().map(|(_, groups, _)| Holder {
                addresses: vec![Ipv4Net::from(d.probe)],
                groups: groups.clone(),
                near: false,
            })
        }));
        let cross_any = destinations.iter().any(|d| d.references_cross);
        for eni in enis
            .iter_mut()
            .chain(branches.iter_mut().map(|b| &mut b.port))
        {
            eni.filters = FilterSpec {
                sg: filters::security_groups(network, &eni.groups, true, &holders, cross_any),
                acl: filters::network_acl(network, &eni.subnet_id),
            };
        }
        for dest in &mut destinations {
            let sg = dest.far_eni.as_ref().and_then(|(_, groups, _)| {
                filters::security_groups(network, groups, false, &holders, dest.references_cross)
            });
            let subnet = dest
                .far_eni
                .as_ref()
                .map(|(_, _, s)| s.clone())
                .or_else(|| dest.peer_subnet.clone());
            dest.filters = FilterSpec {
                sg,
                acl: subnet.and_then(|s| filters::network_acl(network, &s)),
            };
        }

        Ok(NodeSpec {
            cluster: cluster.name.clone(),
            instance_id: node.instance_id.clone(),
            cni,
            vpc_cidrs: vpc.cidrs.clone(),
            node_ip: node.ip,
            enis,
            branches,
            route_tables,
            remotes,
            destinations,
            notes,
        })
    }

    /// The primary ENI (always first).
    pub fn primary(&self) -> &EniSpec {
        &self.enis[0]
    }

    /// The ENI or branch ENI holding a pod's address.
    pub fn port(&self, port: PodPort) -> &EniSpec {
        match port {
            PodPort::Eni(i) => &self.enis[i],
            PodPort::Branch(i) => &self.branches[i].port,
        }
    }

    /// Every port of the node towards the fabric: its ENIs, then its branch ENIs.
    pub fn ports(&self) -> impl Iterator<Item = &EniSpec> {
        self.enis
            .iter()
            .chain(self.branches.iter().map(|b| &b.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test CIDR")
    }

    #[test]
    fn the_gateway_is_the_subnet_base_plus_one() {
        assert_eq!(gateway_of(net("10.0.1.0/24")), Ipv4Addr::new(10, 0, 1, 1));
        assert_eq!(
            gateway_of(net("100.64.32.0/19")),
            Ipv4Addr::new(100, 64, 32, 1)
        );
    }

    #[test]
    fn host_tables_follow_the_cni_numbering() {
        assert_eq!(host_table(0, 0), None);
        assert_eq!(host_table(1, 0), Some(2));
        assert_eq!(host_table(3, 0), Some(4));
        assert_eq!(host_table(0, 1), Some(10_100));
        assert_eq!(host_table(2, 1), Some(10_102));
    }

    #[test]
    fn probe_addresses_stay_inside_their_block() {
        for block in ["10.1.0.0/16", "10.1.5.0/30", "10.1.5.7/32", "10.1.5.6/31"] {
            let block = net(block);
            assert!(block.contains(&host_address(block, 10)), "{block}");
        }
        assert_eq!(
            intersection(net("10.1.0.0/16"), net("10.1.1.0/24")),
            Some(net("10.1.1.0/24"))
        );
        assert_eq!(intersection(net("10.1.0.0/16"), net("10.2.1.0/24")), None);
    }
}
