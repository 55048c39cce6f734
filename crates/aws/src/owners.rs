//! Which cluster owns an ENI, an instance, an ENI attachment or a route table association, as the
//! last full collection saw it: so that `on-change` scopes an event by ownership without asking
//! EC2, and an event about something no cluster owns costs nothing.
//!
//! ECS tasks, VPC Lambdas and load balancers create, attach, detach and delete ENIs all day in the
//! same VPCs as the clusters. An event that names a deleted ENI, an attachment id or an
//! association id cannot be looked up any more, and asking EC2 about every live one spends the
//! request budget the VPC CNI needs. So every full collection stores, per cluster, the ids its
//! nodes own: the node instances, their ENIs and those ENIs' attachment ids, and the association
//! ids of the route tables of the cluster's VPC; and the inputs its verdicts read, so that a change
//! of one re-audits exactly the clusters it can change: the security groups, network ACLs (and
//! their associations), VPCs (and their CIDR associations) of the cluster's VPC and of the far
//! VPCs (objects of another cluster's own VPC are that cluster's), the managed prefix lists, the
//! transit gateways with their attachments and route tables. They are kept as 32-bit fingerprints (FNV-1a of
//! the id), sorted: 5,000 nodes with 15,000 ENIs are about 140 KB, one DynamoDB item, where the
//! ids themselves would be about 900 KB. A fingerprint can collide (about one lookup in 100,000
//! at that size); a collision only costs an audit of a cluster that did not need one, never a
//! missed change of one that did, because an id no fingerprint matches is looked up (when it can
//! be) before it is dismissed.

use std::collections::BTreeSet;

use podreach_core::model::{ENI_CLUSTER_TAG, node_clusters};
use podreach_core::snapshot::Document;

use crate::collect::Collection;
use crate::layout::Side;

/// One cluster's owned ids, as fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owners {
    pub cluster: String,
    /// When the collection that saw them was made (Unix seconds).
    pub collected_at: i64,
    /// Sorted, distinct.
    fingerprints: Vec<u32>,
}

/// FNV-1a, 32 bits: stable across builds and releases (the index outlives the process that
/// wrote it), unlike the standard library's or foldhash's hashers.
pub fn fingerprint(id: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

impl Owners {
    /// The ids `cluster` owns in a whole collection: its node instances (by their cluster tags),
    /// every cluster-side ENI attached to one or tagged with the cluster, those ENIs'
    /// attachments, the associations of the route tables of the cluster's VPC, and the inputs of
    /// its verdicts ([`Owners::inputs`]).
    pub fn of(collection: &Collection, cluster: &str, collected_at: i64) -> Owners {
        let mut instances: BTreeSet<&str> = BTreeSet::new();
        let mut vpc: Option<&str> = None;
        let others: BTreeSet<&str> = collection
            .documents
            .iter()
            .filter_map(|d| match &d.document {
                Document::Cluster(c) if c.cluster.name != cluster => {
                    Some(c.cluster.resources_vpc_config.vpc_id.as_str())
                }
                _ => None,
            })
            .collect();
        for d in &collection.documents {
            match &d.document {
                Document::Instances(i) => {
                    for instance in i.reservations.iter().flat_map(|r| &r.instances) {
                        let tags = instance
                            .tags
                            .iter()
                            .map(|t| (t.key.as_str(), t.value.as_str()));
                        if node_clusters(tags).any(|c| c == cluster) {
                            instances.insert(instance.instance_id.as_str());
                        }
                    }
                }
                Document::Cluster(c) if c.cluster.name == cluster => {
                    vpc = Some(c.cluster.resources_vpc_config.vpc_id.as_str());
                }
                _ => {}
            }
        }
        let mut ids: Vec<&str> = instances.iter().copied().collect();
        for d in &collection.documents {
            match &d.document {
                Document::NetworkInterfaces(list) if Side::of_enis(&d.path) == Side::Cluster => {
                    for eni in &list.network_interfaces {
                        let attachment = eni.attachment.as_ref();
                        let on_node = attachment
                            .and_then(|a| a.instance_id.as_deref())
                            .is_some_and(|i| instances.contains(i));
                        let tagged = eni
                            .tag_set
                            .iter()
                            .any(|t| t.key == ENI_CLUSTER_TAG && t.value == cluster);
                        if on_node || tagged {
                            ids.push(&eni.network_interface_id);
                            ids.extend(attachment.and_then(|a| a.attachment_id.as_deref()));
                        }
                    }
                }
                Document::RouteTables(tables) => {
                    for table in &tables.route_tables {
                        if vpc.is_some_and(|v| v == table.vpc_id) {
                            ids.extend(
                                table
                                    .associations
                                    .iter()
                                    .filter_map(|a| a.route_table_association_id.as_deref()),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        // Another cluster's VPC is its own, unless it is this one's too.
        let others: BTreeSet<&str> = others.into_iter().filter(|o| Some(*o) != vpc).collect();
        Owners::inputs(collection, &others, &mut ids);
        Owners::from_ids(cluster, collected_at, ids)
    }

    /// The ids of the objects a cluster's verdicts read, outside `others` (other clusters'
    /// VPCs): security groups, network ACLs and their associations, VPCs and their CIDR
    /// associations, managed prefix lists, transit gateways, their attachments and route tables.
    fn inputs<'c>(collection: &'c Collection, others: &BTreeSet<&str>, ids: &mut Vec<&'c str>) {
        let mine = |vpc: Option<&str>| vpc.is_none_or(|v| !others.contains(v));
        for d in &collection.documents {
            match &d.document {
                Document::Vpcs(v) => {
                    for vpc in v.vpcs.iter().filter(|v| mine(Some(&v.vpc_id))) {
                        ids.push(&vpc.vpc_id);
                        ids.extend(
                            vpc.cidr_block_association_set
                                .iter()
                                .filter_map(|a| a.association_id.as_deref()),
                        );
                    }
                }
                Document::SecurityGroups(g) => ids.extend(
                    g.security_groups
                        .iter()
                        .filter(|g| mine(g.vpc_id.as_deref()))
                        .map(|g| g.group_id.as_str()),
                ),
                Document::NetworkAcls(a) => {
                    for acl in a.network_acls.iter().filter(|a| mine(Some(&a.vpc_id))) {
                        ids.push(&acl.network_acl_id);
                        ids.extend(
                            acl.associations
                                .iter()
                                .filter_map(|a| a.network_acl_association_id.as_deref()),
                        );
                    }
                }
                Document::PrefixLists(p) => {
                    ids.extend(p.prefix_lists.iter().map(|p| p.prefix_list_id.as_str()));
                }
                Document::PrefixListEntries(p) => ids.extend(p.prefix_list_id.as_deref()),
                Document::TransitGateways(t) => {
                    ids.extend(
                        t.transit_gateways
                            .iter()
                            .map(|t| t.transit_gateway_id.as_str()),
                    );
                }
                Document::TransitGatewayVpcAttachments(a) => {
                    for attachment in &a.transit_gateway_vpc_attachments {
                        ids.push(&attachment.transit_gateway_attachment_id);
                        ids.push(&attachment.transit_gateway_id);
                    }
                }
                Document::TransitGatewayRouteTables(t) => {
                    for table in &t.transit_gateway_route_tables {
                        ids.push(&table.transit_gateway_route_table_id);
                        ids.push(&table.transit_gateway_id);
                    }
                }
                Document::TransitGatewayRouteTableAssociations(a) => ids.extend(
                    a.associations
                        .iter()
                        .map(|l| l.transit_gateway_attachment_id.as_str()),
                ),
                Document::TransitGatewayRouteTablePropagations(p) => ids.extend(
                    p.transit_gateway_route_table_propagations
                        .iter()
                        .map(|l| l.transit_gateway_attachment_id.as_str()),
                ),
                _ => {}
            }
        }
    }

    /// From the ids themselves.
    pub fn from_ids<'a>(
        cluster: &str,
        collected_at: i64,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Owners {
        let mut fingerprints: Vec<u32> = ids.into_iter().map(fingerprint).collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        Owners {
            cluster: cluster.to_owned(),
            collected_at,
            fingerprints,
        }
    }

    /// Whether this cluster owned `id` (or an id of the same fingerprint).
    pub fn owns(&self, id: &str) -> bool {
        self.fingerprints.binary_search(&fingerprint(id)).is_ok()
    }

    /// Adds `other`'s ids (a node audit's, to the last full audit's); keeps the older time, the
    /// index being no fresher than its oldest part.
    pub fn merge(&mut self, other: &Owners) {
        self.fingerprints.extend(&other.fingerprints);
        self.fingerprints.sort_unstable();
        self.fingerprints.dedup();
        self.collected_at = self.collected_at.min(other.collected_at);
    }

    /// How many ids are fingerprinted.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether no id is.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    /// The fingerprints as stored: 4 bytes each, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.fingerprints
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect()
    }

    /// Read back from [`Owners::to_bytes`]; `None` when the length is not a multiple of 4.
    pub fn from_bytes(cluster: &str, collected_at: i64, bytes: &[u8]) -> Option<Owners> {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        let mut fingerprints: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        Some(Owners {
            cluster: cluster.to_owned(),
            collected_at,
            fingerprints,
        })
    }
}

/// The clusters that own `id`, among `owners`.
pub fn owners_of<'o>(owners: &'o [Owners], id: &str) -> impl Iterator<Item = &'o str> {
    let f = fingerprint(id);
    owners
        .iter()
        .filter(move |o| o.fingerprints.binary_search(&f).is_ok())
        .map(|o| o.cluster.as_str())
}
