//! The cluster VPCs' own inputs, and every EC2 object of the collection gathered for writing.
//!
//! Each cluster VPC is read once however many clusters share it, in its own task, every query
//! filtered by `vpc-id` with the largest page the API allows: its route tables, ENIs and
//! instances together, then the peering connections and transit gateway attachments its routes
//! use, by id (one call each; none without such routes). A call that fails marks the VPC's
//! clusters incomplete, so they get no verdicts, and what was read is kept. [`Ec2Inputs`] is
//! where the VPCs' answers, the far side's (`far.rs`) and the prefix lists' (`prefix_lists.rs`)
//! meet: deduplicated by id, so two clusters' VPCs peered with each other are one set of
//! objects, and written once as the AWS CLI documents of `crate::layout`, the far VPCs' ENIs as
//! their own [`Side`].

use std::collections::{BTreeMap, BTreeSet};

use podreach_core::raw::{self, CollectionGap, CollectionNotes, IncompleteCluster};
use podreach_core::snapshot::{Document, LoadedDocument};
use tokio::task::JoinSet;

use super::members::Unreadable;
use super::pages::{filter, live_instances, paginate};
use super::{Collector, gap};
use crate::convert::{self, MissingField};
use crate::error::ApiFailure;
use crate::layout::{self, Side};

/// One cluster VPC's answers, and the calls that failed.
#[derive(Debug, Default)]
struct VpcInputs {
    vpc_id: String,
    route_tables: Vec<raw::RouteTable>,
    enis: Vec<raw::NetworkInterface>,
    reservations: Vec<raw::Reservation>,
    peerings: Vec<raw::VpcPeeringConnection>,
    /// `None` when no route uses a transit gateway (nothing was asked).
    tgw_attachments: Option<Vec<raw::TransitGatewayVpcAttachment>>,
    /// The transit gateways the routes use (their `SecurityGroupReferencingSupport`).
    transit_gateways: Vec<raw::TransitGateway>,
    failures: Vec<ApiFailure>,
    missing: Vec<MissingField>,
    /// What could not be read in the account that owns a shared transit gateway (a gap, not an
    /// incomplete cluster: the far side's hops are then unknown).
    elsewhere: Vec<String>,
}

/// Every EC2 object collected, deduplicated by id, ready to write as AWS CLI files.
#[derive(Debug, Default)]
pub(super) struct Ec2Inputs {
    pub(super) vpcs: BTreeMap<String, raw::Vpc>,
    subnets: BTreeMap<String, raw::Subnet>,
    pub(super) route_tables: BTreeMap<String, raw::RouteTable>,
    /// The cluster VPCs' ENIs ([`Side::Cluster`]).
    enis: BTreeMap<String, raw::NetworkInterface>,
    reservations: Vec<raw::Reservation>,
    pub(super) peerings: BTreeMap<String, raw::VpcPeeringConnection>,
    pub(super) tgw_attachments: Option<BTreeMap<String, raw::TransitGatewayVpcAttachment>>,
    pub(super) transit_gateways: BTreeMap<String, raw::TransitGateway>,
    /// Entries of the managed prefix lists the routes and security group rules use, by list id.
    pub(super) prefix_lists: BTreeMap<String, Vec<raw::PrefixListEntry>>,
    /// The lists already asked for (read or failed), so the second pass asks only new ones.
    pub(super) prefix_lists_asked: BTreeSet<String>,
    /// Security groups and network ACLs of the cluster and far VPCs; `None` when they could
    /// not be read (the analysis then names them as assumptions, and a gap says why).
    pub(super) security_groups: Option<BTreeMap<String, raw::SecurityGroup>>,
    pub(super) network_acls: Option<BTreeMap<String, raw::NetworkAcl>>,
    /// The far VPCs' ENIs ([`Side::Far`]), written to their own file so a cluster's cached
    /// context keeps them (the context drops the nodes' ENIs, not these).
    pub(super) far_enis: BTreeMap<String, raw::NetworkInterface>,
    /// Cluster VPCs; the far side is everything the routes lead to beyond them.
    pub(super) cluster_vpcs: BTreeSet<String>,
    /// The transit gateway route tables and what was read of each (`tgw_routes.rs`), as
    /// documents at their paths.
    pub(super) tgw_route_tables: Vec<LoadedDocument>,
}

impl Ec2Inputs {
    /// The collector's own account, as the answers show it: the owner of the cluster VPCs' route
    /// tables, else of their side of a peering connection or of their transit gateway attachment.
    pub(super) fn our_account(&self) -> Option<String> {
        let ours =
            |vpc: &Option<String>| vpc.as_ref().is_some_and(|v| self.cluster_vpcs.contains(v));
        self.route_tables
            .values()
            .filter(|t| self.cluster_vpcs.contains(&t.vpc_id))
            .find_map(|t| t.owner_id.clone())
            .or_else(|| {
                self.peerings
                    .values()
                    .flat_map(|p| [&p.requester_vpc_info, &p.accepter_vpc_info])
                    .filter(|side| ours(&side.vpc_id))
                    .find_map(|side| side.owner_id.clone())
            })
            .or_else(|| {
                self.tgw_attachments
                    .iter()
                    .flat_map(|a| a.values())
                    .filter(|a| self.cluster_vpcs.contains(&a.vpc_id))
                    .find_map(|a| a.vpc_owner_id.clone())
            })
    }

    fn absorb(&mut self, vpc: VpcInputs, clusters: &[String], notes: &mut CollectionNotes) {
        for missing in &vpc.missing {
            for name in clusters {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: None,
                    message: missing.to_string(),
                });
            }
        }
        for message in &vpc.elsewhere {
            for name in clusters {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: None,
                    message: message.clone(),
                });
            }
        }
        self.cluster_vpcs.insert(vpc.vpc_id);
        self.add_vpcs(Vec::new(), Vec::new(), vpc.route_tables);
        self.enis.extend(
            vpc.enis
                .into_iter()
                .map(|e| (e.network_interface_id.clone(), e)),
        );
        self.reservations.extend(vpc.reservations);
        self.peerings.extend(
            vpc.peerings
                .into_iter()
                .map(|p| (p.vpc_peering_connection_id.clone(), p)),
        );
        self.transit_gateways.extend(
            vpc.transit_gateways
                .into_iter()
                .map(|g| (g.transit_gateway_id.clone(), g)),
        );
        if let Some(attachments) = vpc.tgw_attachments {
            self.tgw_attachments
                .get_or_insert_with(BTreeMap::new)
                .extend(
                    attachments
                        .into_iter()
                        .map(|a| (a.transit_gateway_attachment_id.clone(), a)),
                );
        }
    }

    pub(super) fn add_vpcs(
        &mut self,
        vpcs: Vec<raw::Vpc>,
        subnets: Vec<raw::Subnet>,
        route_tables: Vec<raw::RouteTable>,
    ) {
        self.vpcs
            .extend(vpcs.into_iter().map(|v| (v.vpc_id.clone(), v)));
        self.subnets
            .extend(subnets.into_iter().map(|s| (s.subnet_id.clone(), s)));
        self.route_tables.extend(
            route_tables
                .into_iter()
                .map(|t| (t.route_table_id.clone(), t)),
        );
    }

    pub(super) fn write(self, documents: &mut Vec<LoadedDocument>) {
        documents.push(layout::document(
            layout::VPCS_FILE,
            Document::Vpcs(raw::DescribeVpcs {
                vpcs: self.vpcs.into_values().collect(),
            }),
        ));
        documents.push(layout::document(
            layout::SUBNETS_FILE,
            Document::Subnets(raw::DescribeSubnets {
                subnets: self.subnets.into_values().collect(),
            }),
        ));
        documents.push(layout::document(
            layout::ROUTE_TABLES_FILE,
            Document::RouteTables(raw::DescribeRouteTables {
                route_tables: self.route_tables.into_values().collect(),
            }),
        ));
        documents.push(layout::enis(
            Side::Cluster,
            self.enis.into_values().collect(),
        ));
        let mut reservations = self.reservations;
        reservations.sort_by(|a, b| a.reservation_id.cmp(&b.reservation_id));
        documents.push(layout::document(
            layout::INSTANCES_FILE,
            Document::Instances(raw::DescribeInstances { reservations }),
        ));
        documents.push(layout::document(
            layout::PEERINGS_FILE,
            Document::VpcPeeringConnections(raw::DescribeVpcPeeringConnections {
                vpc_peering_connections: self.peerings.into_values().collect(),
            }),
        ));
        for (id, entries) in self.prefix_lists {
            documents.push(layout::document(
                &layout::prefix_list_file(&id),
                Document::PrefixListEntries(raw::GetManagedPrefixListEntries {
                    prefix_list_id: Some(id),
                    entries,
                }),
            ));
        }
        if !self.far_enis.is_empty() {
            documents.push(layout::enis(
                Side::Far,
                self.far_enis.into_values().collect(),
            ));
        }
        if let Some(groups) = self.security_groups {
            documents.push(layout::document(
                layout::SECURITY_GROUPS_FILE,
                Document::SecurityGroups(raw::DescribeSecurityGroups {
                    security_groups: groups.into_values().collect(),
                }),
            ));
        }
        if let Some(acls) = self.network_acls {
            documents.push(layout::document(
                layout::NETWORK_ACLS_FILE,
                Document::NetworkAcls(raw::DescribeNetworkAcls {
                    network_acls: acls.into_values().collect(),
                }),
            ));
        }
        if !self.transit_gateways.is_empty() {
            documents.push(layout::document(
                layout::TRANSIT_GATEWAYS_FILE,
                Document::TransitGateways(raw::DescribeTransitGateways {
                    transit_gateways: self.transit_gateways.into_values().collect(),
                }),
            ));
        }
        documents.extend(self.tgw_route_tables);
        if let Some(attachments) = self.tgw_attachments {
            documents.push(layout::document(
                layout::TGW_ATTACHMENTS_FILE,
                Document::TransitGatewayVpcAttachments(raw::DescribeTransitGatewayVpcAttachments {
                    transit_gateway_vpc_attachments: attachments.into_values().collect(),
                }),
            ));
        }
    }
}

impl Collector {
    /// Every cluster VPC's inputs, one task per VPC (`by_vpc`: VPC → its clusters). A VPC whose
    /// calls failed marks its clusters incomplete, and each failure is a gap of each of them.
    pub(super) async fn cluster_vpcs(
        &self,
        by_vpc: &BTreeMap<String, Vec<String>>,
        notes: &mut CollectionNotes,
    ) -> Ec2Inputs {
        let mut set = JoinSet::new();
        for vpc in by_vpc.keys() {
            let this = self.clone();
            let vpc = vpc.clone();
            set.spawn(async move { this.vpc_inputs(&vpc).await });
        }
        let mut inputs = Ec2Inputs::default();
        while let Some(joined) = set.join_next().await {
            let Ok(vpc) = joined else {
                notes.gaps.push(CollectionGap {
                    cluster: None,
                    action: None,
                    message: "a VPC collection task stopped unexpectedly".to_owned(),
                });
                continue;
            };
            let names = by_vpc.get(&vpc.vpc_id).cloned().unwrap_or_default();
            if !vpc.failures.is_empty() {
                let reason = vpc
                    .failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                for name in &names {
                    notes.incomplete_clusters.push(IncompleteCluster {
                        name: name.clone(),
                        reason: format!("the inputs of {} are incomplete: {reason}", vpc.vpc_id),
                    });
                }
            }
            for failure in &vpc.failures {
                for name in &names {
                    notes.gaps.push(gap(Some(name), failure));
                }
            }
            inputs.absorb(vpc, &names, notes);
        }
        inputs
    }

    /// Every input of one cluster VPC; the independent queries run together.
    async fn vpc_inputs(&self, vpc_id: &str) -> VpcInputs {
        let mut out = self.vpc_objects(vpc_id).await;
        self.route_targets(&mut out).await;
        out
    }

    /// The VPC's route tables, ENIs and live instances, together.
    async fn vpc_objects(&self, vpc_id: &str) -> VpcInputs {
        let by_vpc = || filter("vpc-id", [vpc_id.to_owned()]);
        let ec2 = &self.ec2;
        // The VPC itself and its subnets are read with the far side, in one call each for
        // every VPC (see `vpcs_and_far_side`): a full audit costs pages, not objects.
        let (route_tables, enis, instances) = tokio::join!(
            async {
                paginate!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(by_vpc())
                        .max_results(100),
                    route_tables,
                    convert::route_table
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeNetworkInterfaces",
                    ec2.describe_network_interfaces()
                        .filters(by_vpc())
                        .max_results(1000),
                    network_interfaces,
                    convert::network_interface
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeInstances",
                    ec2.describe_instances()
                        .filters(by_vpc())
                        .filters(live_instances())
                        .max_results(1000),
                    reservations,
                    |r| Ok::<_, MissingField>(convert::reservation(r))
                )
            },
        );
        let mut out = VpcInputs {
            vpc_id: vpc_id.to_owned(),
            ..VpcInputs::default()
        };
        let mut take = |failure: Option<ApiFailure>, missing: Vec<MissingField>| {
            out.failures.extend(failure);
            out.missing.extend(missing);
        };
        take(route_tables.failure, route_tables.missing);
        take(enis.failure, enis.missing);
        let (reservations, missing): (Vec<_>, Vec<_>) = instances.items.into_iter().unzip();
        take(instances.failure, missing.into_iter().flatten().collect());
        out.enis = enis.items;
        out.reservations = reservations;
        out.route_tables = route_tables.items;
        out
    }

    /// The peering connections and transit gateways the VPC's routes use, looked up together:
    /// one call each by id (none without such routes), where listing each side of every
    /// peering of the VPC took two.
    async fn route_targets(&self, out: &mut VpcInputs) {
        let ec2 = &self.ec2;
        let targets = |id: fn(&raw::Route) -> Option<&String>| -> BTreeSet<String> {
            out.route_tables
                .iter()
                .flat_map(|t| &t.routes)
                .filter_map(|r| id(r).cloned())
                .collect()
        };
        let pcxs = targets(|r| r.vpc_peering_connection_id.as_ref());
        let tgws = targets(|r| r.transit_gateway_id.as_ref());
        let (peerings, attachments, gateways) = tokio::join!(
            async {
                if pcxs.is_empty() {
                    return None;
                }
                Some(paginate!(
                    self,
                    "ec2:DescribeVpcPeeringConnections",
                    ec2.describe_vpc_peering_connections()
                        .filters(filter("vpc-peering-connection-id", pcxs))
                        .max_results(1000),
                    vpc_peering_connections,
                    convert::peering
                ))
            },
            async {
                if tgws.is_empty() {
                    return None;
                }
                Some(paginate!(
                    self,
                    "ec2:DescribeTransitGatewayVpcAttachments",
                    ec2.describe_transit_gateway_vpc_attachments()
                        .filters(filter("transit-gateway-id", tgws.clone()))
                        .max_results(1000),
                    transit_gateway_vpc_attachments,
                    convert::tgw_attachment
                ))
            },
            // Whether each gateway passes security-group references (docs/datapath.md §5.7).
            async {
                if tgws.is_empty() {
                    return None;
                }
                Some(paginate!(
                    self,
                    "ec2:DescribeTransitGateways",
                    ec2.describe_transit_gateways()
                        .filters(filter("transit-gateway-id", tgws.clone()))
                        .max_results(1000),
                    transit_gateways,
                    convert::transit_gateway
                ))
            },
        );
        if let Some(peerings) = peerings {
            out.failures.extend(peerings.failure);
            out.missing.extend(peerings.missing);
            out.peerings = peerings.items;
        }
        if let Some(attachments) = attachments {
            out.failures.extend(attachments.failure);
            out.missing.extend(attachments.missing);
            out.tgw_attachments = Some(attachments.items);
        }
        if let Some(gateways) = gateways {
            out.failures.extend(gateways.failure);
            out.missing.extend(gateways.missing);
            out.transit_gateways = gateways.items;
        }
        self.shared_gateway_attachments(out).await;
    }

    /// A gateway shared from another account (AWS RAM) lists only this account's attachments
    /// here; its owner lists every account's, so the far VPCs behind it are read there
    /// (docs/datapath.md §10.12).
    async fn shared_gateway_attachments(&self, out: &mut VpcInputs) {
        let ours = out.route_tables.iter().find_map(|t| t.owner_id.clone());
        let region = self.region.clone().unwrap_or_default();
        let shared: Vec<(String, String)> = out
            .transit_gateways
            .iter()
            .filter_map(|g| {
                let owner = g.owner_id.clone()?;
                (ours.as_ref().is_some_and(|u| *u != owner))
                    .then(|| (g.transit_gateway_id.clone(), owner))
            })
            .collect();
        for (tgw, owner) in shared {
            let client = self.client_in(ours.as_deref(), &owner, &region).await;
            let client = match client {
                Ok(client) => client,
                Err(Unreadable(why)) => {
                    out.elsewhere.push(format!(
                        "transit gateway {tgw} is shared from account {owner}: the VPCs of other accounts \
                         attached to it were not listed, so the far side behind it may be unknown: {why}"
                    ));
                    continue;
                }
            };
            let attachments = paginate!(
                self,
                "ec2:DescribeTransitGatewayVpcAttachments",
                client
                    .describe_transit_gateway_vpc_attachments()
                    .filters(filter("transit-gateway-id", [tgw.clone()]))
                    .max_results(1000),
                transit_gateway_vpc_attachments,
                convert::tgw_attachment
            );
            if let Some(failure) = &attachments.failure {
                out.elsewhere.push(format!(
                    "the attachments of transit gateway {tgw} could not be read in its owner's account \
                     {owner}, so the far side behind it may be unknown: {failure}"
                ));
            }
            let list = out.tgw_attachments.get_or_insert_with(Vec::new);
            for a in attachments.items {
                if !list.iter().any(|known| {
                    known.transit_gateway_attachment_id == a.transit_gateway_attachment_id
                }) {
                    list.push(a);
                }
            }
        }
    }
}
