//! Transit gateway route tables: the tables of the gateways the cluster VPCs' routes use, which
//! table each attachment is associated with and propagates into, and the routes that matter.
//!
//! This phase runs after the prefix lists (`prefix_lists.rs`), when every cluster route to a
//! transit gateway, and each prefix-list route's entries, are known. Its calls:
//! `DescribeTransitGatewayRouteTables` once for all the gateways, then for each table
//! `GetTransitGatewayRouteTableAssociations` and `GetTransitGatewayRouteTablePropagations`, and
//! `SearchTransitGatewayRoutes` only for the prefixes that matter (docs/datapath.md §10.11), in
//! two steps: first the tables associated with a cluster VPC's attachment, for the destinations
//! the cluster routes to the gateway; then the tables associated with the far attachments (the
//! VPC attachments those routes lead to, and those of the far VPCs holding a destination), for
//! the cluster VPCs' CIDRs (the sources the far side routes back). A table no route of the
//! cluster's leads through costs no search. Each prefix is searched twice,
//! `route-search.longest-prefix-match` (the route that covers it) and
//! `route-search.subnet-of-match` (the routes inside it), which together hold every route that
//! decides an address of the prefix, whether or not either filter counts an equal prefix. A
//! prefix inside another searched one costs nothing, adjacent ones are searched as their union,
//! and past [`MAX_PREFIXES`] per table the
//! prefixes are widened to their private range (or /8), so the cost stays bounded however many
//! routes the cluster has. The documents record the prefixes searched, so the model never takes
//! a route that was not searched for as missing; a call that fails is a gap, and what it would
//! have read stays unknown to the model.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;
use podreach_core::raw::{self, CollectionGap, CollectionNotes};
use podreach_core::snapshot::{Document, LoadedDocument};
use tokio::task::JoinSet;

use super::Collector;
use super::members::Unreadable;
use super::pages::{filter, paginate};
use super::vpc::Ec2Inputs;
use crate::convert;
use crate::error::ApiFailure;
use crate::layout;

/// Prefixes searched per table before they are widened.
pub(crate) const MAX_PREFIXES: usize = 16;

/// The private ranges a widened prefix becomes (RFC 1918 and the shared address space).
const RANGES: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// What a gateway's tables are searched for.
#[derive(Debug, Default)]
struct Wanted {
    /// The destinations cluster routes send to the gateway.
    destinations: BTreeSet<Ipv4Net>,
    /// The cluster VPCs' attachments to it.
    cluster_attachments: BTreeSet<String>,
}

/// What the first step read of the gateways' tables (the destinations' routes), carried to the
/// far side and the second step.
pub(super) struct TgwRead {
    clusters: Vec<String>,
    wanted: BTreeMap<String, Wanted>,
    tables: Vec<raw::TransitGatewayRouteTable>,
    /// The client each table is read with (its gateway owner's).
    clients: BTreeMap<String, aws_sdk_ec2::Client>,
    associated: BTreeMap<String, Vec<raw::TransitGatewayRouteTableLink>>,
    searched: BTreeMap<String, raw::SearchTransitGatewayRoutes>,
    documents: Vec<LoadedDocument>,
}

impl TgwRead {
    /// Per gateway whose cluster-attachment table was searched: the VPCs its routes send the
    /// cluster's destinations to (the route that wins for each destination, and any more
    /// specific one inside it). Only those VPCs are the far side behind the gateway; a hub's
    /// other spokes are not read. A gateway whose table was not read, or that drops a
    /// destination (no route, a blackhole), is absent: every VPC attached to it stays far side,
    /// so the fix can name the attachment of the VPC that holds the destination.
    pub(super) fn routed_vpcs(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for table in &self.tables {
            let id = &table.transit_gateway_route_table_id;
            let (Some(want), Some(links), Some(doc)) = (
                self.wanted.get(&table.transit_gateway_id),
                self.associated.get(id),
                self.searched.get(id),
            ) else {
                continue;
            };
            if !links.iter().any(|l| {
                want.cluster_attachments
                    .contains(&l.transit_gateway_attachment_id)
            }) {
                continue;
            }
            let routes: Vec<(Ipv4Net, &raw::TransitGatewayRoute)> = doc
                .routes
                .iter()
                .filter_map(|r| {
                    let cidr = r
                        .destination_cidr_block
                        .as_deref()?
                        .parse::<Ipv4Net>()
                        .ok()?;
                    Some((cidr.trunc(), r))
                })
                .collect();
            let mut vpcs = BTreeSet::new();
            let mut broken = false;
            for d in &want.destinations {
                let best = routes
                    .iter()
                    .filter(|(c, _)| c.contains(d))
                    .max_by_key(|(c, r)| (c.prefix_len(), r.kind.as_deref() != Some("propagated")));
                let inside: Vec<_> = routes
                    .iter()
                    .filter(|(c, _)| c.prefix_len() > d.prefix_len() && d.contains(c))
                    .collect();
                // No route, or a blackhole: the fix names the attachment of the VPC that holds
                // the destination, which only reading every attached VPC finds.
                broken |= best.is_none_or(|(_, r)| r.state.as_deref() == Some("blackhole"))
                    || inside
                        .iter()
                        .any(|(_, r)| r.state.as_deref() == Some("blackhole"));
                for (_, r) in best.into_iter().chain(inside) {
                    vpcs.extend(
                        r.transit_gateway_attachments
                            .iter()
                            .filter(|a| a.resource_type.as_deref() == Some("vpc"))
                            .filter_map(|a| a.resource_id.clone()),
                    );
                }
            }
            if !broken {
                out.entry(table.transit_gateway_id.clone())
                    .or_default()
                    .extend(vpcs);
            }
        }
        out
    }
}

/// A gap of every cluster: `what` of the gateways' tables could not be read.
fn tgw_gap(notes: &mut CollectionNotes, clusters: &[String], failure: &ApiFailure, what: &str) {
    for name in clusters {
        notes.gaps.push(CollectionGap {
            cluster: Some(name.clone()),
            action: Some(failure.action.to_owned()),
            message: format!(
                "{what} could not be read, so the transit gateway hops that need them are unknown: {failure}"
            ),
        });
    }
}

impl Collector {
    /// Step A, before the far side is read: the route tables of every transit gateway a cluster
    /// route uses, read in the gateway owner's account, with their associations, propagations
    /// and the routes of the destinations. Failures become gaps of every cluster. `None` when no
    /// route uses a transit gateway.
    pub(super) async fn tgw_route_tables(
        &self,
        inputs: &Ec2Inputs,
        by_vpc: &BTreeMap<String, Vec<String>>,
        notes: &mut CollectionNotes,
    ) -> Option<TgwRead> {
        let wanted = wanted(inputs);
        if wanted.is_empty() {
            return None;
        }
        let clusters: Vec<String> = by_vpc.values().flatten().cloned().collect();
        // Each gateway is read in the account that owns it: a gateway shared from another
        // account shows its route tables only there (docs/datapath.md §10.12).
        let ours = inputs.our_account();
        let mut owners: BTreeMap<String, (aws_sdk_ec2::Client, Vec<String>)> = BTreeMap::new();
        for tgw in wanted.keys() {
            let owner = inputs
                .transit_gateways
                .get(tgw)
                .and_then(|g| g.owner_id.clone())
                .filter(|o| ours.as_ref().is_some_and(|u| u != o));
            let Some(owner) = owner else {
                owners
                    .entry(String::new())
                    .or_insert_with(|| (self.ec2.clone(), Vec::new()))
                    .1
                    .push(tgw.clone());
                continue;
            };
            let region = self.region.clone().unwrap_or_default();
            let client = self.client_in(ours.as_deref(), &owner, &region).await;
            match client {
                Ok(client) => owners
                    .entry(owner)
                    .or_insert_with(|| (client, Vec::new()))
                    .1
                    .push(tgw.clone()),
                Err(Unreadable(why)) => {
                    for name in &clusters {
                        notes.gaps.push(CollectionGap {
                            cluster: Some(name.clone()),
                            action: None,
                            message: format!(
                                "the route tables of transit gateway {tgw} were not read, so its hops are unknown: {why}"
                            ),
                        });
                    }
                }
            }
        }
        let mut gap = |failure: &ApiFailure, what: &str| tgw_gap(notes, &clusters, failure, what);
        // The tables of each owner's gateways, and the client each table is read with.
        let mut tables = Vec::new();
        let mut clients: BTreeMap<String, aws_sdk_ec2::Client> = BTreeMap::new();
        for (client, gateways) in owners.into_values() {
            let found = paginate!(
                self,
                "ec2:DescribeTransitGatewayRouteTables",
                client
                    .describe_transit_gateway_route_tables()
                    .filters(filter("transit-gateway-id", gateways))
                    .max_results(1000),
                transit_gateway_route_tables,
                convert::tgw_route_table
            );
            if let Some(failure) = &found.failure {
                gap(failure, "the transit gateway route tables");
            }
            for table in &found.items {
                clients.insert(table.transit_gateway_route_table_id.clone(), client.clone());
            }
            tables.extend(found.items);
        }
        // Associations and propagations of every table, the tables in parallel.
        let mut set = JoinSet::new();
        for table in &tables {
            let this = self.clone();
            let id = table.transit_gateway_route_table_id.clone();
            let Some(client) = clients.get(&id).cloned() else {
                continue;
            };
            set.spawn(async move {
                let associations = paginate!(
                    this,
                    "ec2:GetTransitGatewayRouteTableAssociations",
                    client
                        .get_transit_gateway_route_table_associations()
                        .transit_gateway_route_table_id(&id)
                        .max_results(1000),
                    associations,
                    convert::tgw_association
                );
                let propagations = paginate!(
                    this,
                    "ec2:GetTransitGatewayRouteTablePropagations",
                    client
                        .get_transit_gateway_route_table_propagations()
                        .transit_gateway_route_table_id(&id)
                        .max_results(1000),
                    transit_gateway_route_table_propagations,
                    convert::tgw_propagation
                );
                (id, associations, propagations)
            });
        }
        let mut documents = vec![layout::document(
            layout::TGW_ROUTE_TABLES_FILE,
            Document::TransitGatewayRouteTables(raw::DescribeTransitGatewayRouteTables {
                transit_gateway_route_tables: tables.clone(),
            }),
        )];
        let mut associated: BTreeMap<String, Vec<raw::TransitGatewayRouteTableLink>> =
            BTreeMap::new();
        while let Some(joined) = set.join_next().await {
            let Ok((id, associations, propagations)) = joined else {
                continue;
            };
            match associations.complete() {
                Ok(links) => {
                    documents.push(layout::document(
                        &layout::tgw_table_file(&id, "associations"),
                        Document::TransitGatewayRouteTableAssociations(
                            raw::GetTransitGatewayRouteTableAssociations {
                                transit_gateway_route_table_id: Some(id.clone()),
                                associations: links.clone(),
                            },
                        ),
                    ));
                    associated.insert(id.clone(), links);
                }
                Err(failure) => gap(&failure, &format!("the associations of {id}")),
            }
            match propagations.complete() {
                Ok(links) => documents.push(layout::document(
                    &layout::tgw_table_file(&id, "propagations"),
                    Document::TransitGatewayRouteTablePropagations(
                        raw::GetTransitGatewayRouteTablePropagations {
                            transit_gateway_route_table_id: Some(id.clone()),
                            transit_gateway_route_table_propagations: links,
                        },
                    ),
                )),
                Err(failure) => gap(&failure, &format!("the propagations of {id}")),
            }
        }
        // Step A: the tables of the cluster VPCs' attachments, for the destinations.
        let mut searched: BTreeMap<String, raw::SearchTransitGatewayRoutes> = BTreeMap::new();
        let mut ingress: BTreeMap<String, BTreeSet<Ipv4Net>> = BTreeMap::new();
        for table in &tables {
            let id = &table.transit_gateway_route_table_id;
            let (Some(want), Some(links)) =
                (wanted.get(&table.transit_gateway_id), associated.get(id))
            else {
                continue;
            };
            if links.iter().any(|l| {
                want.cluster_attachments
                    .contains(&l.transit_gateway_attachment_id)
            }) {
                ingress
                    .entry(id.clone())
                    .or_default()
                    .extend(&want.destinations);
            }
        }
        for (failure, what) in self.search_tables(ingress, &clients, &mut searched).await {
            gap(&failure, &what);
        }
        Some(TgwRead {
            clusters,
            wanted,
            tables,
            clients,
            associated,
            searched,
            documents,
        })
    }

    /// Step B, once the far side is read: the tables of the far attachments (those the routes
    /// found lead to, and those of the far VPCs holding a destination), for the sources the far
    /// side routes back; then every document of the gateways' tables into `inputs`.
    pub(super) async fn tgw_return_routes(
        &self,
        read: TgwRead,
        inputs: &mut Ec2Inputs,
        notes: &mut CollectionNotes,
    ) {
        let TgwRead {
            clusters,
            wanted,
            tables,
            clients,
            associated,
            mut searched,
            mut documents,
        } = read;
        let far = far_attachments(inputs, &wanted, &searched);
        let cluster_cidrs = cluster_cidrs(inputs);
        let mut back: BTreeMap<String, BTreeSet<Ipv4Net>> = BTreeMap::new();
        for table in &tables {
            let id = &table.transit_gateway_route_table_id;
            let Some(links) = associated.get(id) else {
                continue;
            };
            if links
                .iter()
                .any(|l| far.contains(&l.transit_gateway_attachment_id))
            {
                back.entry(id.clone()).or_default().extend(&cluster_cidrs);
            }
        }
        for (failure, what) in self.search_tables(back, &clients, &mut searched).await {
            tgw_gap(notes, &clusters, &failure, &what);
        }
        for (id, mut doc) in searched {
            if let Some(prefixes) = &mut doc.searched_prefixes {
                prefixes.sort();
            }
            documents.push(layout::document(
                &layout::tgw_table_file(&id, "routes"),
                Document::TransitGatewayRoutes(doc),
            ));
        }
        inputs.tgw_route_tables = documents;
    }

    /// Searches each table for its prefixes (reduced; a prefix inside one the table was already
    /// searched for is skipped) into `searched`, the tables and prefixes in parallel under the permits.
    /// Returns the failures, each with what it left unread.
    async fn search_tables(
        &self,
        plan: BTreeMap<String, BTreeSet<Ipv4Net>>,
        clients: &BTreeMap<String, aws_sdk_ec2::Client>,
        searched: &mut BTreeMap<String, raw::SearchTransitGatewayRoutes>,
    ) -> Vec<(ApiFailure, String)> {
        let mut set = JoinSet::new();
        for (id, prefixes) in plan {
            let done: Vec<Ipv4Net> = searched
                .get(&id)
                .and_then(|d| d.searched_prefixes.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|p| p.parse().ok())
                .collect();
            for prefix in reduce(prefixes) {
                // Inside a prefix this table was searched for: its routes are already read.
                if done.iter().any(|d| d.contains(&prefix)) {
                    continue;
                }
                let Some(client) = clients.get(&id).cloned() else {
                    continue;
                };
                let this = self.clone();
                let id = id.clone();
                set.spawn(async move {
                    let covering = this
                        .search(&client, &id, "route-search.longest-prefix-match", prefix)
                        .await;
                    let inside = this
                        .search(&client, &id, "route-search.subnet-of-match", prefix)
                        .await;
                    (id, prefix, covering, inside)
                });
            }
        }
        let mut failures = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((id, prefix, covering, inside)) = joined else {
                continue;
            };
            let doc =
                searched
                    .entry(id.clone())
                    .or_insert_with(|| raw::SearchTransitGatewayRoutes {
                        transit_gateway_route_table_id: Some(id.clone()),
                        searched_prefixes: Some(Vec::new()),
                        routes: Vec::new(),
                        additional_routes_available: false,
                    });
            match (covering, inside) {
                (Ok(a), Ok(b)) => {
                    for (found, more) in [a, b] {
                        doc.routes.extend(found);
                        doc.additional_routes_available |= more;
                    }
                    doc.searched_prefixes
                        .get_or_insert_with(Vec::new)
                        .push(prefix.to_string());
                }
                (Err(failure), _) | (_, Err(failure)) => {
                    failures.push((failure, format!("the routes of {id} for {prefix}")));
                }
            }
        }
        failures
    }

    /// One search of a table, every page; `true` when AWS said it had more than it returned.
    async fn search(
        &self,
        client: &aws_sdk_ec2::Client,
        table: &str,
        name: &str,
        prefix: Ipv4Net,
    ) -> Result<(Vec<raw::TransitGatewayRoute>, bool), ApiFailure> {
        let mut stream = client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(table)
            .filters(filter(name, [prefix.to_string()]))
            // No MaxResults: AWS's default page and NextToken cover every route, and moto
            // 5.2.5 fails a search that sets it (it slices a dict).
            .into_paginator()
            .send();
        let mut routes = Vec::new();
        let mut more = false;
        loop {
            let page = {
                let _permit = self.permit().await;
                stream.next().await
            };
            match page {
                None => break,
                Some(Err(error)) => {
                    return Err(ApiFailure::from_sdk(
                        "ec2:SearchTransitGatewayRoutes",
                        error,
                    ));
                }
                Some(Ok(page)) => {
                    routes.extend(page.routes().iter().map(convert::tgw_route));
                    more = page.additional_routes_available().unwrap_or(false)
                        && page.next_token().is_none();
                }
            }
        }
        Ok((routes, more))
    }
}

/// Per gateway a cluster route uses: the destinations sent to it and the cluster attachments.
fn wanted(inputs: &Ec2Inputs) -> BTreeMap<String, Wanted> {
    let mut out: BTreeMap<String, Wanted> = BTreeMap::new();
    for table in inputs
        .route_tables
        .values()
        .filter(|t| inputs.cluster_vpcs.contains(&t.vpc_id))
    {
        for route in &table.routes {
            let Some(tgw) = &route.transit_gateway_id else {
                continue;
            };
            let want = out.entry(tgw.clone()).or_default();
            if let Some(cidr) = route
                .destination_cidr_block
                .as_deref()
                .and_then(|c| c.parse::<Ipv4Net>().ok())
            {
                want.destinations.insert(cidr.trunc());
            }
            if let Some(entries) = route
                .destination_prefix_list_id
                .as_ref()
                .and_then(|id| inputs.prefix_lists.get(id))
            {
                want.destinations.extend(
                    entries
                        .iter()
                        .filter_map(|e| e.cidr.parse::<Ipv4Net>().ok())
                        .map(|c| c.trunc()),
                );
            }
        }
    }
    for attachment in inputs.tgw_attachments.iter().flat_map(|a| a.values()) {
        if let Some(want) = out.get_mut(&attachment.transit_gateway_id)
            && inputs.cluster_vpcs.contains(&attachment.vpc_id)
        {
            want.cluster_attachments
                .insert(attachment.transit_gateway_attachment_id.clone());
        }
    }
    out
}

/// The VPC attachments the far side routes back from: those the routes found in the cluster
/// attachments' tables lead to, and those of the far VPCs that hold a destination.
fn far_attachments(
    inputs: &Ec2Inputs,
    wanted: &BTreeMap<String, Wanted>,
    searched: &BTreeMap<String, raw::SearchTransitGatewayRoutes>,
) -> BTreeSet<String> {
    let ours: BTreeSet<&String> = wanted
        .values()
        .flat_map(|w| &w.cluster_attachments)
        .collect();
    let mut far: BTreeSet<String> = searched
        .values()
        .flat_map(|d| &d.routes)
        .flat_map(|r| &r.transit_gateway_attachments)
        .filter(|a| a.resource_type.as_deref() == Some("vpc"))
        .map(|a| a.transit_gateway_attachment_id.clone())
        .filter(|a| !ours.contains(a))
        .collect();
    for attachment in inputs.tgw_attachments.iter().flat_map(|a| a.values()) {
        let Some(want) = wanted.get(&attachment.transit_gateway_id) else {
            continue;
        };
        let holds_a_destination = inputs.vpcs.get(&attachment.vpc_id).is_some_and(|v| {
            !inputs.cluster_vpcs.contains(&v.vpc_id)
                && vpc_cidrs(v).iter().any(|c| {
                    want.destinations
                        .iter()
                        .any(|d| c.contains(d) || d.contains(c))
                })
        });
        if holds_a_destination {
            far.insert(attachment.transit_gateway_attachment_id.clone());
        }
    }
    far
}

/// A VPC's associated IPv4 CIDRs.
fn vpc_cidrs(v: &raw::Vpc) -> Vec<Ipv4Net> {
    std::iter::once(v.cidr_block.as_str())
        .chain(
            v.cidr_block_association_set
                .iter()
                .filter(|a| {
                    a.cidr_block_state
                        .as_ref()
                        .is_none_or(|s| s.state == "associated")
                })
                .map(|a| a.cidr_block.as_str()),
        )
        .filter_map(|c| c.parse::<Ipv4Net>().ok())
        .map(|c| c.trunc())
        .collect()
}

/// The cluster VPCs' associated IPv4 CIDRs.
fn cluster_cidrs(inputs: &Ec2Inputs) -> BTreeSet<Ipv4Net> {
    inputs
        .vpcs
        .values()
        .filter(|v| inputs.cluster_vpcs.contains(&v.vpc_id))
        .flat_map(vpc_cidrs)
        .collect()
}

/// The prefixes to search: none inside another, and at most [`MAX_PREFIXES`] (widened to their
/// private range, else their /8, past that).
pub(crate) fn reduce(prefixes: BTreeSet<Ipv4Net>) -> Vec<Ipv4Net> {
    let outermost = |set: BTreeSet<Ipv4Net>| -> Vec<Ipv4Net> {
        let mut by_size: Vec<Ipv4Net> = set.into_iter().collect();
        by_size.sort_by_key(|p| (p.prefix_len(), *p));
        let mut kept: Vec<Ipv4Net> = Vec::new();
        for p in by_size {
            if !kept.iter().any(|k| k.contains(&p)) {
                kept.push(p);
            }
        }
        kept.sort();
        kept
    };
    let kept = outermost(prefixes);
    // Adjacent prefixes merge: a search of their union holds every route either would.
    let kept = Ipv4Net::aggregate(&kept);
    if kept.len() <= MAX_PREFIXES {
        return kept;
    }
    let ranges: Vec<Ipv4Net> = RANGES.iter().filter_map(|r| r.parse().ok()).collect();
    let widened = kept
        .into_iter()
        .map(|p| {
            ranges
                .iter()
                .find(|r| r.contains(&p))
                .copied()
                .unwrap_or_else(|| {
                    Ipv4Net::new(p.network(), 8.min(p.prefix_len()))
                        .map(|n| n.trunc())
                        .unwrap_or(p)
                })
        })
        .collect();
    Ipv4Net::aggregate(&outermost(widened))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("a CIDR")
    }

    fn route(cidr: &str, to: Option<(&str, &str)>, state: &str) -> raw::TransitGatewayRoute {
        raw::TransitGatewayRoute {
            destination_cidr_block: Some(cidr.to_owned()),
            prefix_list_id: None,
            transit_gateway_attachments: to
                .map(|(id, vpc)| raw::TransitGatewayRouteAttachment {
                    resource_id: Some(vpc.to_owned()),
                    transit_gateway_attachment_id: id.to_owned(),
                    resource_type: Some("vpc".to_owned()),
                })
                .into_iter()
                .collect(),
            kind: Some("propagated".to_owned()),
            state: Some(state.to_owned()),
        }
    }

    /// A hub: the cluster's table searched for 10.1.0.0/16, with `routes` found.
    fn hub(routes: Vec<raw::TransitGatewayRoute>) -> TgwRead {
        let link = |id: &str| raw::TransitGatewayRouteTableLink {
            transit_gateway_attachment_id: id.to_owned(),
            resource_id: None,
            resource_type: Some("vpc".to_owned()),
            state: Some("associated".to_owned()),
        };
        TgwRead {
            clusters: vec!["shop".to_owned()],
            wanted: BTreeMap::from([(
                "tgw-1".to_owned(),
                Wanted {
                    destinations: BTreeSet::from([net("10.1.0.0/16")]),
                    cluster_attachments: BTreeSet::from(["tgw-attach-shop".to_owned()]),
                },
            )]),
            tables: vec![raw::TransitGatewayRouteTable {
                transit_gateway_route_table_id: "tgw-rtb-1".to_owned(),
                transit_gateway_id: "tgw-1".to_owned(),
                state: Some("available".to_owned()),
                default_association_route_table: true,
                default_propagation_route_table: true,
            }],
            clients: BTreeMap::new(),
            associated: BTreeMap::from([("tgw-rtb-1".to_owned(), vec![link("tgw-attach-shop")])]),
            searched: BTreeMap::from([(
                "tgw-rtb-1".to_owned(),
                raw::SearchTransitGatewayRoutes {
                    transit_gateway_route_table_id: Some("tgw-rtb-1".to_owned()),
                    searched_prefixes: Some(vec!["10.0.0.0/8".to_owned()]),
                    routes,
                    additional_routes_available: false,
                },
            )]),
            documents: Vec::new(),
        }
    }

    #[test]
    fn behind_a_hub_only_the_vpcs_the_destinations_are_routed_to_are_far_side() {
        // The widened search found every spoke of 10/8; the destination goes to one of them,
        // and a more specific route inside it to another.
        let read = hub(vec![
            route("10.1.0.0/16", Some(("tgw-attach-db", "vpc-db")), "active"),
            route(
                "10.1.9.0/24",
                Some(("tgw-attach-batch", "vpc-batch")),
                "active",
            ),
            route(
                "10.2.0.0/16",
                Some(("tgw-attach-spoke2", "vpc-spoke2")),
                "active",
            ),
            route(
                "10.3.0.0/16",
                Some(("tgw-attach-spoke3", "vpc-spoke3")),
                "active",
            ),
        ]);
        assert_eq!(
            read.routed_vpcs(),
            BTreeMap::from([(
                "tgw-1".to_owned(),
                BTreeSet::from(["vpc-batch".to_owned(), "vpc-db".to_owned()])
            )])
        );
    }

    #[test]
    fn a_gateway_that_drops_a_destination_keeps_every_attached_vpc_as_far_side() {
        // Unrestricted, so the fix can name the attachment of the VPC that holds 10.1.0.0/16.
        let blackhole = hub(vec![
            route("10.1.0.0/16", None, "blackhole"),
            route(
                "10.2.0.0/16",
                Some(("tgw-attach-spoke2", "vpc-spoke2")),
                "active",
            ),
        ]);
        assert_eq!(blackhole.routed_vpcs(), BTreeMap::new());
        let no_route = hub(vec![route(
            "10.2.0.0/16",
            Some(("tgw-attach-spoke2", "vpc-spoke2")),
            "active",
        )]);
        assert_eq!(no_route.routed_vpcs(), BTreeMap::new());
    }

    #[test]
    fn a_prefix_inside_another_is_not_searched_again() {
        let set: BTreeSet<Ipv4Net> = ["10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24"]
            .into_iter()
            .map(net)
            .collect();
        assert_eq!(reduce(set), vec![net("10.0.0.0/8"), net("192.168.1.0/24")]);
    }

    #[test]
    fn many_prefixes_are_widened_to_their_private_range() {
        // 40 /16s, none adjacent to another, so no two merge.
        let set: BTreeSet<Ipv4Net> = (0..40u8)
            .map(|i| Ipv4Net::new(std::net::Ipv4Addr::new(10, 2 * i, 0, 0), 16).expect("cidr"))
            .chain([net("172.20.0.0/16"), net("8.8.8.0/24")])
            .collect();
        assert_eq!(
            reduce(set),
            vec![net("8.0.0.0/8"), net("10.0.0.0/8"), net("172.16.0.0/12")]
        );
    }

    #[test]
    fn adjacent_prefixes_are_searched_as_their_union() {
        // A cluster VPC's 15 /16s, 10.0-10.14: four searches, not fifteen.
        let set: BTreeSet<Ipv4Net> = (0..15u8)
            .map(|i| Ipv4Net::new(std::net::Ipv4Addr::new(10, i, 0, 0), 16).expect("cidr"))
            .collect();
        assert_eq!(
            reduce(set),
            vec![
                net("10.0.0.0/13"),
                net("10.8.0.0/14"),
                net("10.12.0.0/15"),
                net("10.14.0.0/16")
            ]
        );
    }

    proptest! {
        /// Every prefix asked for lies inside a prefix searched, and the searches are bounded.
        #[test]
        fn every_prefix_is_covered_by_a_search(raw in proptest::collection::vec((any::<u32>(), 8u8..=32), 0..60)) {
            let set: BTreeSet<Ipv4Net> = raw
                .iter()
                .filter_map(|(a, l)| Ipv4Net::new(std::net::Ipv4Addr::from(*a), *l).ok())
                .map(|n| n.trunc())
                .collect();
            let searched = reduce(set.clone());
            for p in &set {
                prop_assert!(searched.iter().any(|s| s.contains(p)), "{p} not covered by {searched:?}");
            }
            // Widened prefixes are /8s or the four ranges: at most 256 + 4, and in practice few.
            prop_assert!(searched.len() <= MAX_PREFIXES || searched.iter().all(|s| s.prefix_len() <= 16));
        }
    }
}
