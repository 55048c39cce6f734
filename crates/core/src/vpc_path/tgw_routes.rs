//! Transit gateway route tables on the path (docs/datapath.md §10.11): the table associated with
//! the attachment a packet enters by decides where the transit gateway sends it.
//!
//! AWS's rules (Amazon VPC Transit Gateways guide, "Transit gateway route tables" and "Route
//! evaluation order"): a packet entering the gateway from an attachment is routed by the one
//! route table associated with that attachment; an attachment associated with no table has its
//! traffic dropped; the most specific route wins; for the same prefix a static route wins over a
//! propagated one; a `blackhole` route drops what it matches. The forward leg looks the
//! destination up in the cluster attachment's table, the return leg looks the source the far side
//! sees (node IP after SNAT, pod address otherwise) up in the far attachment's table, which must
//! lead back to the cluster VPC's attachment. An attachment to something podreach cannot see
//! (VPN, Direct Connect gateway, Connect, a peered transit gateway in another Region or account)
//! ends the path there, as beyond, with the assumption stated. Every table, association and
//! route that is not in the snapshot makes its hop unknown, naming the command that reads it and,
//! for a gateway shared from another account, that account: never a route assumed.

use ipnet::Ipv4Net;

use crate::cidr;
use crate::model::{TgwAttachment, TgwLink, TgwRoute, TgwRouteTable};
use crate::report::Cause;

use super::{Remote, Trace, VpcView};

/// The table an attachment's packets are routed by.
pub(crate) enum Association<'a> {
    Table(&'a TgwRouteTable),
    /// Every table of the gateway is read and none is associated with the attachment.
    Nowhere,
    Unknown(Cause, String),
}

/// The route a table picks for a block.
pub(crate) enum Lookup<'a> {
    /// One route covers the block, and no more specific one takes part of it elsewhere.
    Route(&'a TgwRoute),
    /// The covering route (if any) and the more specific routes that take part of the block
    /// another way.
    Split {
        route: Option<&'a TgwRoute>,
        elsewhere: Vec<&'a TgwRoute>,
    },
    NoRoute,
    Unknown(String),
}

fn attachment_ids(route: &TgwRoute) -> Vec<&str> {
    route
        .attachments
        .iter()
        .map(|a| a.attachment_id.as_str())
        .collect()
}

/// `10.1.0.0/16 → tgw-attach-… (vpc-…)`, `10.1.0.0/16 blackhole`.
pub(crate) fn route_label(route: &TgwRoute) -> String {
    let kind = if route.propagated {
        "propagated"
    } else {
        "static"
    };
    if route.blackhole {
        return format!("{} blackhole ({kind})", route.destination);
    }
    let to: Vec<String> = route
        .attachments
        .iter()
        .map(|a| match &a.resource_id {
            Some(r) => format!("{} ({r})", a.attachment_id),
            None => a.attachment_id.clone(),
        })
        .collect();
    if to.is_empty() {
        return format!("{} → no attachment shown ({kind})", route.destination);
    }
    format!("{} → {} ({kind})", route.destination, to.join(", "))
}

/// The route `table` uses for every address of `block` (`block` is cut at the table's route
/// boundaries by the analysis, so a split means the block is a source subnet routed in parts).
pub(crate) fn lookup(table: &TgwRouteTable, block: Ipv4Net) -> Lookup<'_> {
    let Some(routes) = &table.routes else {
        return Lookup::Unknown(format!(
            "the routes of transit gateway route table {} are not in the snapshot (aws ec2 search-transit-gateway-routes \
             --transit-gateway-route-table-id {} --filters Name=state,Values=active,blackhole)",
            table.id, table.id
        ));
    };
    if let Some(why) = routes.incomplete.first() {
        return Lookup::Unknown(why.clone());
    }
    if let Some(searched) = &routes.searched
        && !cidr::covered_by_any(searched, &block)
    {
        return Lookup::Unknown(format!(
            "the routes of {} were searched for other prefixes than {block} (search-transit-gateway-routes \
             --transit-gateway-route-table-id {} --filters Name=route-search.longest-prefix-match,Values={block})",
            table.id, table.id
        ));
    }
    // The routes are in `TgwRoute::order`: those covering the block are found prefix length
    // by prefix length, those inside it as one range, each by binary search.
    let all = &routes.routes;
    let at = |key: (u32, u8)| all.partition_point(|r| r.order() < key);
    let covering = (0..=block.prefix_len())
        .filter(|len| routes.prefix_lengths & (1 << len) != 0)
        .flat_map(|len| {
            let key = Ipv4Net::new(block.network(), len)
                .map(|n| (u32::from(n.trunc().network()), len))
                .unwrap_or_default();
            all[at(key)..].iter().take_while(move |r| r.order() == key)
        });
    // Most specific first; for the same prefix a static route wins over a propagated one.
    let route = covering.max_by_key(|r| (r.destination.prefix_len(), !r.propagated));
    let same_way = |r: &TgwRoute| match route {
        Some(chosen) => {
            r.blackhole == chosen.blackhole && attachment_ids(r) == attachment_ids(chosen)
        }
        None => false,
    };
    let inside = at((u32::from(block.network()), 0))..at((u32::from(block.broadcast()), 33));
    let elsewhere: Vec<&TgwRoute> = all[inside]
        .iter()
        .filter(|r| r.destination.prefix_len() > block.prefix_len())
        .filter(|r| !same_way(r))
        .collect();
    match (route, elsewhere.is_empty()) {
        (Some(route), true) => Lookup::Route(route),
        (None, true) => Lookup::NoRoute,
        (route, false) => Lookup::Split { route, elsewhere },
    }
}

impl<'a> VpcView<'a> {
    /// The VPC attachment of `vpc` to `tgw`, when the snapshot shows one.
    pub(crate) fn tgw_attachment_of(&self, tgw: &str, vpc: &str) -> Option<&'a TgwAttachment> {
        self.net
            .tgw_attachments
            .as_ref()?
            .iter()
            .find(|a| a.tgw_id == tgw && a.vpc_id == vpc)
    }

    /// The route table associated with `attachment` on `tgw`.
    pub(crate) fn tgw_association(&self, tgw: &str, attachment: &str) -> Association<'a> {
        let mut tables = self
            .net
            .tgw_route_tables
            .values()
            .filter(|t| t.tgw_id == tgw)
            .peekable();
        if tables.peek().is_none() {
            return Association::Unknown(self.tgw_unreadable_cause(tgw), self.tgw_unreadable(tgw));
        }
        let mut unread = Vec::new();
        for table in tables {
            match &table.associations {
                Some(links) if links.iter().any(|l| l.attachment_id == attachment) => {
                    return Association::Table(table);
                }
                Some(_) => {}
                None => unread.push(table.id.as_str()),
            }
        }
        if unread.is_empty() {
            Association::Nowhere
        } else {
            Association::Unknown(
                Cause::MissingInput,
                format!(
                    "the associations of {} are not in the snapshot: cannot tell which table routes what {attachment} sends \
                     (aws ec2 get-transit-gateway-route-table-associations --transit-gateway-route-table-id …)",
                    unread.join(", ")
                ),
            )
        }
    }

    /// Why a gateway's tables are missing, and who can read them.
    fn tgw_unreadable(&self, tgw: &str) -> String {
        match self.tgw_foreign_owner(tgw) {
            Some(owner) => format!(
                "the route tables of {tgw} are not in the snapshot: the gateway belongs to account {owner} (shared through \
                 AWS RAM), whose route tables only that account can read"
            ),
            None => format!(
                "the route tables of {tgw} are not in the snapshot (aws ec2 describe-transit-gateway-route-tables --filters \
                 Name=transit-gateway-id,Values={tgw}, then get-transit-gateway-route-table-associations and \
                 search-transit-gateway-routes for each table)"
            ),
        }
    }

    fn tgw_unreadable_cause(&self, tgw: &str) -> Cause {
        if self.tgw_foreign_owner(tgw).is_some() {
            Cause::UnknownRemote
        } else {
            Cause::MissingInput
        }
    }

    /// The gateway's owner, when it is not the account of the cluster VPC's attachment.
    fn tgw_foreign_owner(&self, tgw: &str) -> Option<&'a str> {
        let owner = self.net.tgw_owners.get(tgw)?;
        let ours = self
            .tgw_attachment_of(tgw, self.cluster_vpc)
            .and_then(|a| a.owner.as_deref())?;
        (owner != ours).then_some(owner.as_str())
    }

    /// The forward leg through `tgw` for `block`, entering from `from_vpc`'s attachment: records
    /// the hop and returns the far side the route leads to, when a route is read.
    pub(crate) fn tgw_forward(
        &self,
        tgw: &str,
        from_vpc: &str,
        block: Ipv4Net,
        trace: &mut Trace,
    ) -> Option<Remote> {
        // No attachment, or one not available: the AZ check already said so.
        let attachment = self
            .tgw_attachment_of(tgw, from_vpc)
            .filter(|a| a.state == "available")?;
        let table = match self.tgw_association(tgw, &attachment.id) {
            Association::Table(t) => t,
            Association::Nowhere => {
                trace.drop(
                    "vpc",
                    Cause::TgwNoRoute,
                    || format!(
                        "attachment {} of {from_vpc} is associated with no route table of {tgw}: the transit gateway drops what it sends",
                        attachment.id
                    ),
                );
                return None;
            }
            Association::Unknown(cause, why) => {
                trace.unknown("vpc", cause, why);
                return None;
            }
        };
        match lookup(table, block) {
            Lookup::Route(route) if route.blackhole => {
                trace.drop("vpc", Cause::TgwBlackhole, || {
                    format!(
                        "transit gateway route table {} (associated with {}): {} drops {block}",
                        table.id,
                        attachment.id,
                        route_label(route)
                    )
                });
                None
            }
            Lookup::Route(route) => {
                trace.pass("vpc", || {
                    format!(
                        "transit gateway route table {} (associated with {}): {}",
                        table.id,
                        attachment.id,
                        route_label(route)
                    )
                });
                Some(self.tgw_leads_to(route, block, trace))
            }
            Lookup::NoRoute => {
                trace.drop(
                    "vpc",
                    Cause::TgwNoRoute,
                    || format!(
                        "transit gateway route table {} (associated with {}) has no route for {block}",
                        table.id, attachment.id
                    ),
                );
                None
            }
            Lookup::Split { route, elsewhere } => {
                let cause = if elsewhere.iter().any(|r| r.blackhole) {
                    Cause::TgwBlackhole
                } else {
                    Cause::TgwNoRoute
                };
                let parts: Vec<String> = elsewhere.iter().map(|r| route_label(r)).collect();
                let detail = match route {
                    Some(route) => format!(
                        "transit gateway route table {} routes {block} by {} but more specific routes take part of it elsewhere ({})",
                        table.id,
                        route_label(route),
                        parts.join(", ")
                    ),
                    None => format!(
                        "transit gateway route table {} has no route for all of {block}: only more specific routes cover parts of it ({})",
                        table.id,
                        parts.join(", ")
                    ),
                };
                trace.drop("vpc", cause, detail);
                None
            }
            Lookup::Unknown(why) => {
                trace.unknown("vpc", Cause::MissingInput, why);
                None
            }
        }
    }

    /// Where a transit gateway route leads: a VPC of the snapshot that holds the block, or
    /// beyond (on premises, another gateway, a VPC that does not hold the block).
    fn tgw_leads_to(&self, route: &TgwRoute, block: Ipv4Net, trace: &mut Trace) -> Remote {
        let Some(first) = route.attachments.first() else {
            return Remote::NotInSnapshot("the transit gateway route".to_owned());
        };
        let resource = first.resource_id.clone().unwrap_or_default();
        match first.resource_type.as_deref() {
            Some("vpc") => match self.net.vpcs.get(&resource) {
                Some(vpc) if cidr::covered_by_any(&vpc.cidrs, &block) => {
                    Remote::Vpc(vpc.id.clone())
                }
                Some(vpc) => {
                    trace.assume(format!(
                        "{} leads to {}, which does not hold {block} (an inspection or egress VPC): what it does with the packet is not modelled",
                        first.attachment_id, vpc.id
                    ));
                    Remote::NotInSnapshot(format!("{} ({})", first.attachment_id, vpc.id))
                }
                None => Remote::NotInSnapshot(format!("{} ({resource})", first.attachment_id)),
            },
            Some("vpn") | Some("direct-connect-gateway") | Some("connect") => {
                trace.assume(format!(
                    "the network behind {} ({resource}) routes {block} and advertises the cluster's addresses back (not visible to podreach)",
                    first.attachment_id
                ));
                Remote::OnPremises(first.attachment_id.clone())
            }
            _ => {
                trace.assume(format!(
                    "the far end of {} ({}) routes {block} onward: a peered transit gateway in another Region or account is not read",
                    first.attachment_id,
                    first.resource_type.as_deref().unwrap_or("attachment")
                ));
                Remote::NotInSnapshot(first.attachment_id.clone())
            }
        }
    }

    /// The return leg through `tgw`: the table associated with `far_vpc`'s attachment routes
    /// `source_block` (what the far side sees) to the cluster VPC's attachment.
    pub(crate) fn tgw_back(
        &self,
        tgw: &str,
        far_vpc: &str,
        source_block: Ipv4Net,
        source_label: &str,
        trace: &mut Trace,
    ) {
        let (Some(far), Some(ours)) = (
            self.tgw_attachment_of(tgw, far_vpc),
            self.tgw_attachment_of(tgw, self.cluster_vpc),
        ) else {
            return; // the attachment checks already said so
        };
        let table = match self.tgw_association(tgw, &far.id) {
            Association::Table(t) => t,
            Association::Nowhere => {
                trace.drop(
                    "peer",
                    Cause::TgwNoReturn,
                    || format!(
                        "attachment {} of {far_vpc} is associated with no route table of {tgw}: the transit gateway drops what it sends back",
                        far.id
                    ),
                );
                return;
            }
            Association::Unknown(cause, why) => {
                let cause = if cause == Cause::MissingInput {
                    Cause::UnknownRemote
                } else {
                    cause
                };
                trace.unknown("peer", cause, why);
                return;
            }
        };
        let to_us =
            |r: &TgwRoute| !r.blackhole && r.attachments.iter().any(|a| a.attachment_id == ours.id);
        let at = format!(
            "transit gateway route table {} (associated with {})",
            table.id, far.id
        );
        match lookup(table, source_block) {
            Lookup::Route(route) if to_us(route) => trace.pass("peer", || {
                format!("{at}: {} covers {source_label}", route_label(route))
            }),
            Lookup::Route(route) if route.blackhole => {
                trace.drop("peer", Cause::TgwBlackhole, || {
                    format!("{at}: {} drops {source_label}", route_label(route))
                })
            }
            Lookup::Route(route) => trace.drop("peer", Cause::TgwNoReturn, || {
                format!(
                    "{at} sends {source_label} by {}, not back to {} ({})",
                    route_label(route),
                    ours.id,
                    self.cluster_vpc
                )
            }),
            Lookup::NoRoute => trace.drop("peer", Cause::TgwNoReturn, || {
                format!("{at} has no route for {source_label}")
            }),
            Lookup::Split { route, elsewhere } => {
                let cause = if elsewhere.iter().any(|r| r.blackhole) {
                    Cause::TgwBlackhole
                } else {
                    Cause::TgwNoReturn
                };
                let parts: Vec<String> = elsewhere.iter().map(|r| route_label(r)).collect();
                let detail = match route {
                    Some(route) => format!(
                        "{at} routes {source_label} by {} but more specific routes take part of it elsewhere ({}); the addresses of a new ENI may fall in that part",
                        route_label(route),
                        parts.join(", ")
                    ),
                    None => format!(
                        "{at} has no route for all of {source_label}: only more specific routes cover parts of it ({}); the addresses of a new ENI may fall outside them",
                        parts.join(", ")
                    ),
                };
                trace.drop("peer", cause, detail);
            }
            Lookup::Unknown(why) => trace.unknown("peer", Cause::UnknownRemote, why),
        }
    }

    /// The ingress route table of every transit gateway the cluster VPC is attached to, for
    /// cutting destination blocks at its routes.
    pub(crate) fn tgw_ingress_table(&self, tgw: &str) -> Option<&'a TgwRouteTable> {
        let attachment = self.tgw_attachment_of(tgw, self.cluster_vpc)?;
        match self.tgw_association(tgw, &attachment.id) {
            Association::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// The links of `table` for `attachment` (propagation present?).
pub(crate) fn propagates(table: &TgwRouteTable, attachment: &str) -> Option<bool> {
    table
        .propagations
        .as_ref()
        .map(|links: &Vec<TgwLink>| links.iter().any(|l| l.attachment_id == attachment))
}

#[cfg(test)]
mod tests {
    //! The table lookup by binary search against the plain reading of the rules over every
    //! route (the code before the routes were ordered), on random tables and blocks.

    use proptest::prelude::*;

    use super::*;
    use crate::model::TgwRoutes;

    /// Every route, one by one: the most specific covering route (static over propagated at
    /// the same prefix), and the more specific routes inside the block that go elsewhere.
    fn by_scan(routes: &[TgwRoute], block: Ipv4Net) -> (Option<usize>, Vec<usize>) {
        let chosen = routes
            .iter()
            .enumerate()
            .filter(|(_, r)| cidr::contains(&r.destination, &block))
            .max_by_key(|(_, r)| (r.destination.prefix_len(), !r.propagated))
            .map(|(i, _)| i);
        let same_way = |r: &TgwRoute| {
            chosen.is_some_and(|c| {
                r.blackhole == routes[c].blackhole
                    && attachment_ids(r) == attachment_ids(&routes[c])
            })
        };
        let mut elsewhere: Vec<usize> = routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.destination.prefix_len() > block.prefix_len())
            .filter(|(_, r)| cidr::contains(&block, &r.destination))
            .filter(|(_, r)| !same_way(r))
            .map(|(i, _)| i)
            .collect();
        elsewhere.sort_unstable();
        (chosen, elsewhere)
    }

    fn net(address: u32, len: u8) -> Ipv4Net {
        Ipv4Net::new(std::net::Ipv4Addr::from(address), len)
            .map(|n| n.trunc())
            .unwrap_or_default()
    }

    prop_compose! {
        /// A route inside 10.0.0.0/14 (so routes overlap often), to one of three attachments
        /// or a blackhole.
        fn route()(offset in 0u32..(1 << 18), len in 12u8..=30, to in 0usize..4, propagated: bool) -> TgwRoute {
            TgwRoute {
                destination: net(0x0a00_0000 + (offset << 6), len),
                attachments: if to == 3 {
                    Vec::new()
                } else {
                    vec![TgwLink {
                        attachment_id: format!("tgw-attach-{to}"),
                        resource_id: None,
                        resource_type: Some("vpc".to_owned()),
                    }]
                },
                propagated,
                blackhole: to == 3,
            }
        }
    }

    proptest! {
        #[test]
        fn the_binary_search_finds_what_a_scan_of_every_route_finds(
            mut routes in proptest::collection::vec(route(), 0..60),
            offset in 0u32..(1 << 18),
            len in 10u8..=32,
        ) {
            let block = net(0x0a00_0000 + (offset << 6), len);
            // As the model leaves them: ordered, with the prefix lengths present.
            routes.sort_by_key(TgwRoute::order);
            let prefix_lengths = routes.iter().fold(0, |b, r| b | 1 << r.destination.prefix_len());
            let expected = by_scan(&routes, block);
            let table = TgwRouteTable {
                id: "tgw-rtb-1".to_owned(),
                tgw_id: "tgw-1".to_owned(),
                state: "available".to_owned(),
                associations: None,
                propagations: None,
                routes: Some(TgwRoutes {
                    routes,
                    prefix_lengths,
                    searched: None,
                    incomplete: Vec::new(),
                }),
                file: "ec2/tgw.json".to_owned(),
            };
            let all = &table.routes.as_ref().map(|r| r.routes.as_slice()).unwrap_or_default();
            let index = |r: &TgwRoute| all.iter().position(|x| std::ptr::eq(x, r));
            let (chosen, mut elsewhere) = match lookup(&table, block) {
                Lookup::Route(r) => (index(r), Vec::new()),
                Lookup::NoRoute => (None, Vec::new()),
                Lookup::Split { route, elsewhere } => {
                    (route.and_then(index), elsewhere.into_iter().filter_map(index).collect())
                }
                Lookup::Unknown(why) => return Err(TestCaseError::fail(why)),
            };
            elsewhere.sort_unstable();
            // The same route (by position: equal routes differ only by their place).
            prop_assert_eq!(chosen.map(|i| (all[i].destination, all[i].propagated)),
                expected.0.map(|i| (all[i].destination, all[i].propagated)));
            prop_assert_eq!(elsewhere, expected.1);
        }
    }
}
