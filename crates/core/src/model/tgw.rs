//! Transit gateway route tables into the network: the tables of `describe-transit-gateway-route-tables`,
//! then each table's associations, propagations and routes, whatever order the files come in.
//!
//! The three per-table commands do not name their table in the AWS CLI's output, so a document
//! is attributed by its own `TransitGatewayRouteTableId` (podreach's files) or by the
//! `tgw-rtb-…` in its file name; one that names no table, or a table the snapshot does not
//! describe (its gateway would be unknown), is a gap and is not used. Routes to a prefix list
//! are expanded from the list's entries; when the entries are missing the table's routes are
//! marked incomplete, so a lookup in it is unknown rather than a wrong "no route".

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use super::build::{Builder, TablePart};
use super::{TgwLink, TgwRoute, TgwRouteTable, TgwRoutes};
use crate::raw;

impl TablePart<'_> {
    fn own_id(&self) -> Option<&str> {
        match self {
            TablePart::Associations(d) => d.transit_gateway_route_table_id.as_deref(),
            TablePart::Propagations(d) => d.transit_gateway_route_table_id.as_deref(),
            TablePart::Routes(d) => d.transit_gateway_route_table_id.as_deref(),
        }
    }

    fn command(&self) -> &'static str {
        match self {
            TablePart::Associations(_) => "get-transit-gateway-route-table-associations",
            TablePart::Propagations(_) => "get-transit-gateway-route-table-propagations",
            TablePart::Routes(_) => "search-transit-gateway-routes",
        }
    }
}

/// The transit gateway route table a file is named after (`tgw-rtb-0a1b….json`,
/// `routes-tgw-rtb-0a1b….json`).
fn table_in_name(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let start = name.find("tgw-rtb-")?;
    let id: String = name[start..]
        .chars()
        .enumerate()
        .take_while(|(i, c)| *i < 8 || c.is_ascii_hexdigit())
        .map(|(_, c)| c)
        .collect();
    (id.len() > 8).then_some(id)
}

fn link(l: &raw::TransitGatewayRouteTableLink) -> TgwLink {
    TgwLink {
        attachment_id: l.transit_gateway_attachment_id.clone(),
        resource_id: l.resource_id.clone(),
        resource_type: l.resource_type.clone(),
    }
}

impl<'a> Builder<'a> {
    pub(super) fn add_tgw_route_tables(
        &mut self,
        file: &str,
        d: &raw::DescribeTransitGatewayRouteTables,
    ) {
        for t in &d.transit_gateway_route_tables {
            let id = t.transit_gateway_route_table_id.clone();
            self.network
                .tgw_route_tables
                .entry(id.clone())
                .or_insert_with(|| TgwRouteTable {
                    id,
                    tgw_id: t.transit_gateway_id.clone(),
                    state: t.state.clone().unwrap_or_else(|| "available".to_owned()),
                    associations: None,
                    propagations: None,
                    routes: None,
                    file: file.to_owned(),
                });
        }
    }

    /// Attributes every per-table document to its table (after every document is read).
    pub(super) fn finish_tgw_route_tables(&mut self) {
        for (part, file) in std::mem::take(&mut self.tgw_parts) {
            let Some(id) = part
                .own_id()
                .map(str::to_owned)
                .or_else(|| table_in_name(file))
            else {
                self.gap(
                    file,
                    part.command(),
                    "the output does not say which transit gateway route table it answers for: name the file \
                     after it (tgw-rtb-….json); it is not used",
                );
                continue;
            };
            if !self.network.tgw_route_tables.contains_key(&id) {
                self.gap(
                    file,
                    id.as_str(),
                    format!(
                        "{} output for a table that `aws ec2 describe-transit-gateway-route-tables` does not list: \
                         its transit gateway is unknown, so it is not used",
                        part.command()
                    ),
                );
                continue;
            }
            let routes = match &part {
                TablePart::Routes(d) => Some(self.tgw_routes(file, &id, d)),
                _ => None,
            };
            let Some(table) = self.network.tgw_route_tables.get_mut(&id) else {
                continue;
            };
            match part {
                TablePart::Associations(d) => {
                    table.associations.get_or_insert_with(Vec::new).extend(
                        d.associations
                            .iter()
                            .filter(|a| a.state.as_deref().is_none_or(|s| s == "associated"))
                            .map(link),
                    )
                }
                TablePart::Propagations(d) => {
                    table.propagations.get_or_insert_with(Vec::new).extend(
                        d.transit_gateway_route_table_propagations
                            .iter()
                            .filter(|p| p.state.as_deref().is_none_or(|s| s == "enabled"))
                            .map(link),
                    )
                }
                TablePart::Routes(_) => {
                    let Some(new) = routes else { continue };
                    let merged = table.routes.get_or_insert_with(|| TgwRoutes {
                        searched: Some(Vec::new()),
                        ..TgwRoutes::default()
                    });
                    merged.routes.extend(new.routes);
                    merged.incomplete.extend(new.incomplete);
                    merged.searched = match (merged.searched.take(), new.searched) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Some(a)
                        }
                        // A whole-table document covers every prefix.
                        _ => None,
                    };
                }
            }
        }
        // The same route read by two searches (a prefix and a subnet of it) is one route.
        for table in self.network.tgw_route_tables.values_mut() {
            if let Some(routes) = &mut table.routes {
                let mut seen = BTreeMap::new();
                routes.routes.retain(|r| {
                    let key = (
                        r.destination,
                        r.attachments
                            .iter()
                            .map(|a| a.attachment_id.clone())
                            .collect::<Vec<_>>(),
                        r.blackhole,
                    );
                    seen.insert(key, ()).is_none()
                });
                // By destination, so that a lookup finds the routes covering or inside a block
                // by binary search (2,000 routes per table are common); stable, so routes of the
                // same destination keep the documents' order.
                routes.routes.sort_by_key(TgwRoute::order);
                routes.prefix_lengths = routes
                    .routes
                    .iter()
                    .fold(0, |bits, r| bits | 1 << r.destination.prefix_len());
            }
        }
    }

    fn tgw_routes(
        &mut self,
        file: &str,
        table: &str,
        d: &raw::SearchTransitGatewayRoutes,
    ) -> TgwRoutes {
        let mut out = TgwRoutes::default();
        if d.additional_routes_available {
            out.incomplete.push(format!(
                "the search of {table} in {file} returned {} routes and AWS has more (AdditionalRoutesAvailable)",
                d.routes.len()
            ));
        }
        out.searched = d.searched_prefixes.as_ref().map(|list| {
            list.iter()
                .filter_map(|p| self.cidr(file, table, p))
                .collect()
        });
        for r in &d.routes {
            let state = r.state.as_deref().unwrap_or("active");
            // `pending`, `deleting` and `deleted` routes forward nothing (yet, or any more).
            if state != "active" && state != "blackhole" {
                continue;
            }
            let destinations: Vec<Ipv4Net> = match (&r.destination_cidr_block, &r.prefix_list_id) {
                (Some(cidr), _) if cidr.contains(':') => continue,
                (Some(cidr), _) => self.cidr(file, table, cidr).into_iter().collect(),
                (None, Some(list)) => match self.network.prefix_lists.get(list) {
                    Some(entries) => entries.clone(),
                    None => {
                        out.incomplete.push(format!(
                            "a route of {table} names prefix list {list}, whose entries are not in the snapshot \
                             (aws ec2 get-managed-prefix-list-entries --prefix-list-id {list})"
                        ));
                        continue;
                    }
                },
                (None, None) => continue,
            };
            let attachments: Vec<TgwLink> = r
                .transit_gateway_attachments
                .iter()
                .map(|a| TgwLink {
                    attachment_id: a.transit_gateway_attachment_id.clone(),
                    resource_id: a.resource_id.clone(),
                    resource_type: a.resource_type.clone(),
                })
                .collect();
            for destination in destinations {
                out.routes.push(TgwRoute {
                    destination,
                    attachments: attachments.clone(),
                    propagated: r.kind.as_deref() == Some("propagated"),
                    blackhole: state == "blackhole",
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::table_in_name;

    #[test]
    fn a_table_is_read_from_the_file_name() {
        assert_eq!(
            table_in_name("ec2/tgw/routes-tgw-rtb-0a1b2c3d4e5f60718.json").as_deref(),
            Some("tgw-rtb-0a1b2c3d4e5f60718")
        );
        assert_eq!(table_in_name("ec2/routes.json"), None);
        assert_eq!(table_in_name("tgw-rtb-.json"), None);
    }
}
