//! The far side: the VPCs the cluster VPCs' routes lead to, read with the filters of both sides
//! in one batch.
//!
//! Traffic between a pod and a far VPC (a peer, or a VPC behind a transit gateway) comes back
//! by that VPC's route tables, and the VPC filters it on both sides of the connection, by
//! security groups and network ACLs (docs/datapath.md §5.7), so the far VPCs are read like the
//! cluster VPCs, less their instances. The far VPCs are known only once the cluster VPCs'
//! peering connections and transit gateway attachments are (`vpc.rs`), and behind a transit
//! gateway, which VPCs its table routes the destinations to (`tgw_routes.rs`); then every VPC of both
//! sides is read together, one query each with the VPC ids as a filter (DescribeVpcs,
//! DescribeSubnets, DescribeSecurityGroups, DescribeNetworkAcls; DescribeRouteTables and
//! DescribeNetworkInterfaces of the far VPCs), so the cost is pages, not VPCs. The steps are
//! named so each rule of what a failure means sits with its step: a peer in another region is
//! a gap, not a read ([`Collector::far_vpcs`]); a filter that cannot be read stays out of the
//! snapshot, and the analysis names it as an assumption ([`filter_gaps`], `keep_filters`); a
//! cluster without its own VPC or subnets is incomplete ([`cluster_vpc_gaps`]); a far VPC
//! whose route tables cannot be read leaves its return path unchecked ([`far_side_gaps`]). The
//! far VPCs' ENIs are kept apart from the cluster VPCs' ([`Ec2Inputs::far_enis`]) and written
//! as `crate::layout::Side::Far`.

use std::collections::{BTreeMap, BTreeSet};

use podreach_core::raw::{self, CollectionGap, CollectionNotes, IncompleteCluster};

use super::members::Unreadable;
use super::pages::{Pages, filter, paginate};
use super::vpc::Ec2Inputs;
use super::{Collector, gap};
use crate::convert;

/// Far VPC → the clusters whose routes lead there, for attributing gaps.
type FarVpcs = BTreeMap<String, BTreeSet<String>>;

/// Where a far VPC lives, as the answers say (`None`: the collector's own).
#[derive(Debug, Clone, Default)]
struct Home {
    owner: Option<String>,
    region: Option<String>,
}

/// The peers of the cluster VPCs into `far`, with the account and Region each lives in.
fn peer_vpcs(
    inputs: &Ec2Inputs,
    by_vpc: &BTreeMap<String, Vec<String>>,
    far: &mut FarVpcs,
    homes: &mut BTreeMap<String, Home>,
) {
    for p in inputs.peerings.values() {
        let sides = [&p.requester_vpc_info, &p.accepter_vpc_info];
        for (near, other) in [(sides[0], sides[1]), (sides[1], sides[0])] {
            let (Some(near_vpc), Some(other_vpc)) = (&near.vpc_id, &other.vpc_id) else {
                continue;
            };
            if !inputs.cluster_vpcs.contains(near_vpc) || inputs.cluster_vpcs.contains(other_vpc) {
                continue;
            }
            homes.insert(
                other_vpc.clone(),
                Home {
                    owner: other.owner_id.clone(),
                    region: other.region.clone(),
                },
            );
            far.entry(other_vpc.clone())
                .or_default()
                .extend(clusters_of(by_vpc, near_vpc));
        }
    }
}

/// What the one batch answered.
struct Batch {
    /// The VPCs of both sides.
    vpcs: Pages<raw::Vpc>,
    /// The subnets of both sides.
    subnets: Pages<raw::Subnet>,
    /// The far VPCs' route tables (none asked without a far side).
    route_tables: Pages<raw::RouteTable>,
    /// The security groups of both sides.
    groups: Pages<raw::SecurityGroup>,
    /// The network ACLs of both sides.
    acls: Pages<raw::NetworkAcl>,
    /// The far VPCs' ENIs (none asked without a far side).
    far_enis: Pages<raw::NetworkInterface>,
}

impl Collector {
    /// The cluster VPCs and the VPCs beyond them (peers, VPCs behind transit gateways) in one
    /// batch: DescribeVpcs and DescribeSubnets for all of them at once, DescribeRouteTables for
    /// the far ones (the cluster VPCs' tables were read first, to find the far side).
    pub(super) async fn vpcs_and_far_side(
        &self,
        inputs: &mut Ec2Inputs,
        by_vpc: &BTreeMap<String, Vec<String>>,
        routed: &BTreeMap<String, BTreeSet<String>>,
        notes: &mut CollectionNotes,
    ) {
        let (far, homes) = self.far_vpcs(inputs, by_vpc, routed);
        let ours = inputs.our_account();
        let here = self.region.as_deref();
        // The far VPCs this account reads in this Region, and the others by (account, Region).
        let mut away: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut local = FarVpcs::new();
        for (vpc, clusters) in &far {
            let home = homes.get(vpc).cloned().unwrap_or_default();
            // Elsewhere only when the answers say so: an owner or Region that is not known, or
            // our own that is not, reads as here.
            let foreign = matches!((&home.owner, &ours), (Some(o), Some(u)) if o != u);
            let other_region = matches!((&home.region, here), (Some(r), Some(h)) if r != h);
            match (home.owner.or_else(|| ours.clone()), home.region) {
                (Some(account), region) if foreign || other_region => {
                    let region = region
                        .or_else(|| here.map(str::to_owned))
                        .unwrap_or_default();
                    away.entry((account, region)).or_default().push(vpc.clone());
                }
                _ => {
                    local.insert(vpc.clone(), clusters.clone());
                }
            }
        }
        let near: Vec<String> = inputs.cluster_vpcs.iter().cloned().collect();
        let local_vpcs: Vec<String> = local.keys().cloned().collect();
        let mut batch = self.read_batch(&self.ec2, &near, &local_vpcs).await;
        filter_gaps(&batch, by_vpc.values().flatten(), None, notes);
        cluster_vpc_gaps(&batch, by_vpc, notes);
        far_side_gaps(&batch, &local, notes);
        // The far side in other accounts and Regions, read where it lives.
        for ((account, region), vpcs) in away {
            let group: FarVpcs = vpcs
                .iter()
                .map(|v| (v.clone(), far.get(v).cloned().unwrap_or_default()))
                .collect();
            let client = self.client_in(ours.as_deref(), &account, &region).await;
            match client {
                Ok(client) => {
                    let elsewhere = self.read_batch(&client, &[], &vpcs).await;
                    far_side_gaps(&elsewhere, &group, notes);
                    filter_gaps(
                        &elsewhere,
                        group.values().flatten(),
                        Some(&format!("{} ({account}, {region})", vpcs.join(", "))),
                        notes,
                    );
                    batch.absorb(elsewhere);
                }
                Err(Unreadable(why)) => {
                    for (vpc, clusters) in &group {
                        for name in clusters {
                            notes.gaps.push(CollectionGap {
                                cluster: Some(name.clone()),
                                action: None,
                                message: format!(
                                    "far VPC {vpc} ({account}, {region}) was not read, so the return path and the \
                                     far side's filters through it are unknown: {why}"
                                ),
                            });
                        }
                    }
                }
            }
        }
        let Batch {
            vpcs,
            subnets,
            route_tables,
            groups,
            acls,
            far_enis,
        } = batch;
        inputs.keep_filters(groups, acls, far_enis);
        inputs.add_vpcs(vpcs.items, subnets.items, route_tables.items);
    }

    /// The far VPCs, each with the clusters whose routes lead there: the other side of each
    /// peering connection of a cluster VPC, and the VPCs attached to a transit gateway that a
    /// cluster VPC is attached to.
    /// Behind a transit gateway whose table was read (`routed`: gateway → the VPCs the cluster's
    /// destinations are routed to), only those VPCs; behind any other, every attached VPC.
    fn far_vpcs(
        &self,
        inputs: &Ec2Inputs,
        by_vpc: &BTreeMap<String, Vec<String>>,
        routed: &BTreeMap<String, BTreeSet<String>>,
    ) -> (FarVpcs, BTreeMap<String, Home>) {
        let mut far = FarVpcs::new();
        let mut homes = BTreeMap::new();
        peer_vpcs(inputs, by_vpc, &mut far, &mut homes);
        if let Some(attachments) = &inputs.tgw_attachments {
            let near = Near {
                cluster_vpcs: &inputs.cluster_vpcs,
                by_vpc,
                routed,
            };
            tgw_vpcs(attachments, &near, &mut far, &mut homes);
        }
        (far, homes)
    }

    /// One query each for every VPC of both sides at once; the far VPCs' route tables and ENIs
    /// only when there is a far side.
    async fn read_batch(
        &self,
        ec2: &aws_sdk_ec2::Client,
        near: &[String],
        far: &[String],
    ) -> Batch {
        let all = || filter("vpc-id", near.iter().chain(far).cloned());
        let far_only = || filter("vpc-id", far.iter().cloned());
        let (vpcs, subnets, route_tables, groups, acls, far_enis) = tokio::join!(
            async {
                paginate!(
                    self,
                    "ec2:DescribeVpcs",
                    ec2.describe_vpcs().filters(all()).max_results(1000),
                    vpcs,
                    convert::vpc
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeSubnets",
                    ec2.describe_subnets().filters(all()).max_results(1000),
                    subnets,
                    convert::subnet
                )
            },
            async {
                if far.is_empty() {
                    return Pages::empty();
                }
                paginate!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(far_only())
                        .max_results(100),
                    route_tables,
                    convert::route_table
                )
            },
            // The filters on both sides: one query each for every VPC at once.
            async {
                paginate!(
                    self,
                    "ec2:DescribeSecurityGroups",
                    ec2.describe_security_groups()
                        .filters(all())
                        .max_results(1000),
                    security_groups,
                    convert::security_group
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeNetworkAcls",
                    ec2.describe_network_acls().filters(all()).max_results(1000),
                    network_acls,
                    convert::network_acl
                )
            },
            // The far VPCs' ENIs: each destination address's security groups.
            async {
                if far.is_empty() {
                    return Pages::empty();
                }
                paginate!(
                    self,
                    "ec2:DescribeNetworkInterfaces",
                    ec2.describe_network_interfaces()
                        .filters(far_only())
                        .max_results(1000),
                    network_interfaces,
                    convert::network_interface
                )
            },
        );
        Batch {
            vpcs,
            subnets,
            route_tables,
            groups,
            acls,
            far_enis,
        }
    }
}

impl Batch {
    /// Adds what another account or Region answered (its failures were said as gaps already).
    fn absorb(&mut self, other: Batch) {
        self.vpcs.items.extend(other.vpcs.items);
        self.subnets.items.extend(other.subnets.items);
        self.route_tables.items.extend(other.route_tables.items);
        self.groups.items.extend(other.groups.items);
        self.acls.items.extend(other.acls.items);
        self.far_enis.items.extend(other.far_enis.items);
    }
}

impl Ec2Inputs {
    /// The security groups, network ACLs and far ENIs whose calls succeeded. One that failed
    /// stays out (`None`, or no far ENIs): its gap says so ([`filter_gaps`]).
    fn keep_filters(
        &mut self,
        groups: Pages<raw::SecurityGroup>,
        acls: Pages<raw::NetworkAcl>,
        far_enis: Pages<raw::NetworkInterface>,
    ) {
        if groups.failure.is_none() {
            self.security_groups = Some(
                groups
                    .items
                    .into_iter()
                    .map(|g| (g.group_id.clone(), g))
                    .collect(),
            );
        }
        if acls.failure.is_none() {
            self.network_acls = Some(
                acls.items
                    .into_iter()
                    .map(|a| (a.network_acl_id.clone(), a))
                    .collect(),
            );
        }
        if far_enis.failure.is_none() {
            self.far_enis.extend(
                far_enis
                    .items
                    .into_iter()
                    .map(|e| (e.network_interface_id.clone(), e)),
            );
        }
    }
}

/// The clusters of the cluster VPC `vpc`.
fn clusters_of(by_vpc: &BTreeMap<String, Vec<String>>, vpc: &str) -> Vec<String> {
    by_vpc.get(vpc).cloned().unwrap_or_default()
}

/// The VPCs attached to the transit gateways the cluster VPCs are attached to, into `far`.
/// The cluster side, as the transit gateways see it.
struct Near<'a> {
    cluster_vpcs: &'a BTreeSet<String>,
    by_vpc: &'a BTreeMap<String, Vec<String>>,
    /// Gateway → the VPCs its table routes the cluster's destinations to (when read).
    routed: &'a BTreeMap<String, BTreeSet<String>>,
}

fn tgw_vpcs(
    attachments: &BTreeMap<String, raw::TransitGatewayVpcAttachment>,
    near_side: &Near<'_>,
    far: &mut FarVpcs,
    homes: &mut BTreeMap<String, Home>,
) {
    let Near {
        cluster_vpcs,
        by_vpc,
        routed,
    } = *near_side;
    let near: BTreeMap<&str, BTreeSet<&str>> = attachments
        .values()
        .filter(|a| cluster_vpcs.contains(&a.vpc_id))
        .fold(BTreeMap::new(), |mut m, a| {
            m.entry(a.transit_gateway_id.as_str())
                .or_default()
                .insert(a.vpc_id.as_str());
            m
        });
    for a in attachments.values() {
        if cluster_vpcs.contains(&a.vpc_id) {
            continue;
        }
        // A hub's spokes that no destination is routed to are not on any path.
        if routed
            .get(&a.transit_gateway_id)
            .is_some_and(|vpcs| !vpcs.contains(&a.vpc_id))
        {
            continue;
        }
        homes.insert(
            a.vpc_id.clone(),
            Home {
                owner: a.vpc_owner_id.clone(),
                region: None,
            },
        );
        let entry = far.entry(a.vpc_id.clone()).or_default();
        for vpc in near
            .get(a.transit_gateway_id.as_str())
            .into_iter()
            .flatten()
        {
            entry.extend(clusters_of(by_vpc, vpc));
        }
    }
}

/// Security groups, network ACLs and far ENIs that could not be read stay out of the snapshot
/// (an assumption of every verdict, or unknown far hops), and the gap of each of `clusters` says
/// which call failed; `elsewhere` names the account and Region of a far side read there.
fn filter_gaps<'n>(
    batch: &Batch,
    clusters: impl IntoIterator<Item = &'n String>,
    elsewhere: Option<&str>,
    notes: &mut CollectionNotes,
) {
    let clusters: BTreeSet<&String> = clusters.into_iter().collect();
    let place = elsewhere.map(|w| format!(" of {w}")).unwrap_or_default();
    for (failure, what) in [
        (&batch.groups.failure, "security groups"),
        (&batch.acls.failure, "network ACLs"),
        (
            &batch.far_enis.failure,
            "far-side ENIs (their security groups)",
        ),
    ] {
        if let Some(failure) = failure {
            for name in &clusters {
                notes.gaps.push(CollectionGap {
                    cluster: Some((*name).clone()),
                    action: Some(failure.action.to_owned()),
                    message: format!(
                        "the {what}{place} could not be read, so podreach cannot say whether they admit the traffic: {failure}"
                    ),
                });
            }
        }
    }
    for missing in batch
        .groups
        .missing
        .iter()
        .chain(&batch.acls.missing)
        .chain(&batch.far_enis.missing)
    {
        for name in &clusters {
            notes.gaps.push(CollectionGap {
                cluster: Some((*name).clone()),
                action: None,
                message: missing.to_string(),
            });
        }
    }
}

/// Without its own VPC and subnets a cluster cannot be analysed.
fn cluster_vpc_gaps(
    batch: &Batch,
    by_vpc: &BTreeMap<String, Vec<String>>,
    notes: &mut CollectionNotes,
) {
    for failure in [&batch.vpcs.failure, &batch.subnets.failure]
        .into_iter()
        .flatten()
    {
        for (vpc, names) in by_vpc {
            for name in names {
                notes.incomplete_clusters.push(IncompleteCluster {
                    name: name.clone(),
                    reason: format!("the inputs of {vpc} are incomplete: {failure}"),
                });
                notes.gaps.push(gap(Some(name), failure));
            }
        }
    }
    for missing in batch.vpcs.missing.iter().chain(&batch.subnets.missing) {
        for name in by_vpc.values().flatten() {
            notes.gaps.push(CollectionGap {
                cluster: Some(name.clone()),
                action: None,
                message: missing.to_string(),
            });
        }
    }
}

/// A far side that could not be read, or a far VPC whose route tables this account cannot
/// read, leaves the return paths through it unchecked: a gap of each cluster whose routes lead
/// there.
fn far_side_gaps(batch: &Batch, far: &FarVpcs, notes: &mut CollectionNotes) {
    let every_cluster: BTreeSet<String> = far.values().flatten().cloned().collect();
    for failure in [
        &batch.vpcs.failure,
        &batch.subnets.failure,
        &batch.route_tables.failure,
    ]
    .into_iter()
    .flatten()
    .filter(|_| !far.is_empty())
    {
        for name in &every_cluster {
            notes.gaps.push(CollectionGap {
                cluster: Some(name.clone()),
                action: Some(failure.action.to_owned()),
                message: format!(
                    "the far side (peer VPCs, VPCs behind transit gateways) is incomplete, so \
                     return paths may be unknown: {failure}"
                ),
            });
        }
    }
    let seen: BTreeSet<&str> = batch
        .route_tables
        .items
        .iter()
        .map(|t| t.vpc_id.as_str())
        .collect();
    if batch.route_tables.failure.is_none() {
        for (vpc, names) in far {
            if seen.contains(vpc.as_str()) {
                continue;
            }
            for name in names {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: Some("ec2:DescribeRouteTables".to_owned()),
                    message: format!(
                        "the route tables of {vpc} are not readable from this account (another \
                         account, or a deleted VPC): the return path through it was not checked"
                    ),
                });
            }
        }
    }
}
