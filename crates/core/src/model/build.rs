//! The model's builder, over the whole snapshot: each document is read once, in any order, into
//! the network (VPCs, subnets, route tables, ENIs, peerings, transit gateway attachments,
//! security groups, network ACLs, prefix lists) or set aside for its cluster; `finish` then
//! expands prefix-list routes (their entries may come in a later file), folds in what the live
//! collection could not read, and builds each cluster (`cluster.rs`). Every object that cannot be
//! used becomes a [`Gap`] naming the file and object; nothing panics and nothing is dropped
//! silently.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;

use super::convert::{acl_entry, route_target, sg_rules};
use super::*;
use crate::problems::{Gap, NotAnalysed};
use crate::raw;
use crate::snapshot::{Document, LoadedDocument};

#[derive(Default)]
pub(super) struct Builder<'a> {
    pub(super) network: Network,
    pub(super) gaps: Vec<Gap>,
    pub(super) instances: Vec<(&'a raw::Instance, &'a str)>,
    pub(super) clusters: Vec<(&'a raw::Cluster, &'a str)>,
    pub(super) addons: Vec<(&'a raw::Addon, &'a str)>,
    pub(super) daemonsets: Vec<(&'a raw::DaemonSet, &'a str)>,
    pub(super) pods: Vec<(&'a raw::PodList, &'a str)>,
    pub(super) node_lists: Vec<(&'a raw::NodeList, &'a str)>,
    pub(super) eniconfigs: Vec<(&'a raw::EniConfigList, &'a str)>,
    pub(super) collections: Vec<(&'a raw::CollectionNotes, &'a str)>,
    /// Routes to prefix lists, expanded once every document is read (the entries may come in a
    /// later file): `(route table, prefix list, target, blackhole, file)`.
    pub(super) prefix_list_routes: Vec<(String, String, Target, bool, &'a str)>,
    /// Transit gateway route tables' associations, propagations and routes, attributed to their
    /// tables once every table is described (`tgw.rs`).
    pub(super) tgw_parts: Vec<(TablePart<'a>, &'a str)>,
}

/// A transit gateway route table's associations, propagations or routes, held until every table
/// is described (`tgw.rs` attributes them).
pub(super) enum TablePart<'a> {
    Associations(&'a raw::GetTransitGatewayRouteTableAssociations),
    Propagations(&'a raw::GetTransitGatewayRouteTablePropagations),
    Routes(&'a raw::SearchTransitGatewayRoutes),
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
    pub(super) fn gap(
        &mut self,
        file: &str,
        object: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.gaps.push(Gap {
            region: None,
            cluster: None,
            file: Some(file.to_owned()),
            object: Some(object.into()),
            message: message.into(),
        });
    }

    pub(super) fn cidr(&mut self, file: &str, object: &str, text: &str) -> Option<Ipv4Net> {
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

    pub(super) fn add(&mut self, doc: &'a LoadedDocument) {
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
                        owner: a.vpc_owner_id.clone(),
                        sg_referencing: a
                            .options
                            .as_ref()
                            .and_then(|o| o.security_group_referencing_support.as_deref())
                            .map(|v| v == "enable"),
                    });
                }
            }
            Document::TransitGateways(d) => {
                for gateway in &d.transit_gateways {
                    let option = gateway
                        .options
                        .as_ref()
                        .and_then(|o| o.security_group_referencing_support.as_deref());
                    if let Some(owner) = &gateway.owner_id {
                        self.network
                            .tgw_owners
                            .insert(gateway.transit_gateway_id.clone(), owner.clone());
                    }
                    if let Some(value) = option {
                        self.network
                            .tgw_sg_referencing
                            .insert(gateway.transit_gateway_id.clone(), value == "enable");
                    }
                }
            }
            Document::TransitGatewayRouteTables(d) => self.add_tgw_route_tables(file, d),
            Document::TransitGatewayRouteTableAssociations(d) => {
                self.tgw_parts.push((TablePart::Associations(d), file));
            }
            Document::TransitGatewayRouteTablePropagations(d) => {
                self.tgw_parts.push((TablePart::Propagations(d), file));
            }
            Document::TransitGatewayRoutes(d) => {
                self.tgw_parts.push((TablePart::Routes(d), file));
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

    pub(super) fn add_eni(&mut self, file: &str, eni: &raw::NetworkInterface) {
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
    pub(super) fn attribute(&self, file: &str) -> Option<usize> {
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
    pub(super) fn expand_prefix_list_routes(&mut self) {
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

    /// The Region the collection notes name. Notes of two Regions in one snapshot (two
    /// collections' directories merged) are a mix the model cannot tell apart (a cluster's name
    /// is unique only within its Region): a gap says so and the Region stays unnamed.
    fn region(&mut self) -> Option<String> {
        let named: BTreeSet<String> = self
            .collections
            .iter()
            .filter_map(|(notes, _)| notes.region.clone())
            .collect();
        match named.len() {
            0 => None,
            1 => named.into_iter().next(),
            _ => {
                let message = format!(
                    "the snapshot holds the collection notes of several Regions ({}): audit each \
                     Region's directory as its own --snapshot, so that clusters and findings say \
                     which Region they are in",
                    named.into_iter().collect::<Vec<_>>().join(", ")
                );
                self.gaps.push(Gap {
                    region: None,
                    cluster: None,
                    file: None,
                    object: None,
                    message,
                });
                None
            }
        }
    }

    pub(super) fn finish(mut self, overrides: &Overrides) -> Model {
        self.expand_prefix_list_routes();
        self.finish_tgw_route_tables();
        // ENIs of a cluster's VPC referencing subnets missing from the snapshot. ENIs of other
        // VPCs (a broad describe-network-interfaces) concern no cluster: nothing to say.
        let cluster_vpcs: BTreeSet<&str> = self
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
        let region = self.region();
        for (notes, file) in self.collections.clone() {
            for gap in &notes.gaps {
                self.gaps.push(Gap {
                    region: None,
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
                    region: None,
                    cluster: Some(raw_cluster.name.clone()),
                    file: Some((*file).to_owned()),
                    object: None,
                    message: format!("not analysed: {reason}"),
                });
                not_analysed.push(NotAnalysed {
                    region: None,
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
                    region: None,
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
                region: None,
                cluster: None,
                file: None,
                object: None,
                message: message.to_owned(),
            });
            not_analysed.push(NotAnalysed {
                region: None,
                cluster: None,
                reason: message.to_owned(),
            });
        }
        Model {
            region,
            network: self.network,
            clusters,
            gaps: self.gaps,
            not_analysed,
            collection_stats,
        }
    }
}
