//! Reading one node out of the validated model into a [`NodeSpec`]: its ENIs and branch ENIs,
//! the route tables of their subnets translated route by route, the objects behind private
//! routes, the destination blocks with a probe host each, and the filters on both sides.
//!
//! This is the one place the lab interprets the model, and it stays a single pass in the order
//! the parts depend on each other (remotes are created on first mention by a route, destinations
//! need the ENIs' route tables, filters need every holder's addresses). It reads the snapshot's
//! objects directly and never calls `podreach_core::datapath`/`analysis`/`vpc_path`, so the lab
//! stays an independent reading. Choices the model cannot settle become `notes`, never verdicts.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;
use podreach_core::cni::CniConfig;
use podreach_core::model::{EniType, Model, RouteTable, Target};

use crate::error::LabError;
use crate::filters::{self, FilterSpec, Holder};

use super::addressing::{gateway_of, host_address, host_table, intersection};
use super::spec::{
    BranchSpec, CniSettings, DestSpec, EniSpec, NodeSpec, RemoteKind, RemoteSpec, RouteAction,
    RouteSpec, RtSpec,
};
use super::tgw_tables;

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
                // Over a transit gateway: its table (of the cluster VPC's attachment) decides
                // each part of the destination.
                let mut action = action;
                if let (Target::TransitGateway(tgw), RouteAction::Via(_)) = (&route.target, &action)
                {
                    let via = action.clone();
                    for (block, decided) in
                        tgw_tables::parts(network, tgw, &cluster.vpc_id, route.destination, None)
                    {
                        let part = match decided {
                            Ok(()) => via.clone(),
                            Err(why) => RouteAction::Drop(format!(
                                "{why} ({} in {})",
                                route.destination, table.id
                            )),
                        };
                        if block == route.destination {
                            action = part;
                        } else {
                            routes.push(RouteSpec {
                                destination: block,
                                action: part,
                            });
                        }
                    }
                }
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
                    // Back over a transit gateway: its table (of the far VPC's attachment) must
                    // send the cluster's addresses to the cluster VPC's attachment.
                    let tgw_back =
                        |r: &podreach_core::model::Route| -> Vec<(Ipv4Net, Result<(), String>)> {
                            let (Target::TransitGateway(tgw), Some(far_vpc)) =
                                (&r.target, &peer_vpc_id)
                            else {
                                return Vec::new();
                            };
                            let Some(ours) =
                                tgw_tables::attachment_of(network, tgw, &cluster.vpc_id)
                            else {
                                return Vec::new();
                            };
                            tgw_tables::parts(network, tgw, far_vpc, r.destination, Some(ours))
                        };
                    let routes = table
                        .routes
                        .iter()
                        .flat_map(|r| {
                            let parts = if !r.blackhole && r.target.id() == target.id() {
                                tgw_back(r)
                            } else {
                                Vec::new()
                            };
                            let whole = parts
                                .iter()
                                .find(|(b, _)| *b == r.destination)
                                .and_then(|(_, d)| d.clone().err());
                            let inside = parts
                                .into_iter()
                                .filter(|(b, _)| *b != r.destination)
                                .map(|(b, d)| RouteSpec {
                                    destination: b,
                                    action: match d {
                                        Ok(()) => RouteAction::Back,
                                        Err(why) => RouteAction::Drop(format!(
                                            "peer {why} ({} in {})",
                                            r.destination, table.id
                                        )),
                                    },
                                });
                            let own = RouteSpec {
                                destination: r.destination,
                                action: if let Some(why) = whole {
                                    RouteAction::Drop(format!(
                                        "peer {why} ({} in {})",
                                        r.destination, table.id
                                    ))
                                } else if r.blackhole {
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
                            };
                            std::iter::once(own).chain(inside).collect::<Vec<_>>()
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
}
