//! The lab's own reading of transit gateway route tables, for the routes it builds.
//!
//! AWS (Amazon VPC Transit Gateways guide, "Transit gateway route tables", "Route evaluation
//! order"): a packet entering the gateway from an attachment is routed by the table associated
//! with that attachment; no association, no route, or a `blackhole` route drops it; the most
//! specific route wins and, for the same prefix, a static route wins over a propagated one. This
//! module applies those rules to the tables in the model's network (the snapshot as read), with
//! no call into `podreach_core::vpc_path`, so the differential test holds the model's reading
//! against an independent one. A route the gateway would not carry becomes a kernel route that
//! drops, more specific than the VPC route it splits, with the reason the fabric counts.

use ipnet::Ipv4Net;
use podreach_core::cidr;
use podreach_core::model::{Network, TgwRoute};

/// What the gateway does with the addresses of `block` entering from `from_vpc`'s attachment:
/// `Ok` when it sends them to `toward` (an attachment id) or, with `toward` `None`, to a VPC
/// attachment whose VPC holds them. `None` when the snapshot has no table of the gateway (the lab
/// then takes it as routing; the model says unknown, which is not compared).
fn decide(
    network: &Network,
    tgw: &str,
    from_vpc: &str,
    block: Ipv4Net,
    toward: Option<&str>,
) -> Option<Result<(), String>> {
    let tables: Vec<_> = network
        .tgw_route_tables
        .values()
        .filter(|t| t.tgw_id == tgw)
        .collect();
    if tables.is_empty() {
        return None;
    }
    let attachment = network
        .tgw_attachments
        .iter()
        .flatten()
        .find(|a| a.tgw_id == tgw && a.vpc_id == from_vpc)?;
    let Some(table) = tables.iter().find(|t| {
        t.associations
            .iter()
            .flatten()
            .any(|l| l.attachment_id == attachment.id)
    }) else {
        return Some(Err(format!(
            "TGW_NO_ROUTE {} is associated with no route table of {tgw}",
            attachment.id
        )));
    };
    let routes = table.routes.as_ref()?;
    let best: Option<&TgwRoute> = routes
        .routes
        .iter()
        .filter(|r| cidr::contains(&r.destination, &block))
        .fold(None, |best, r| match best {
            Some(b)
                if (b.destination.prefix_len(), !b.propagated)
                    >= (r.destination.prefix_len(), !r.propagated) =>
            {
                Some(b)
            }
            _ => Some(r),
        });
    let Some(route) = best else {
        return Some(Err(format!(
            "TGW_NO_ROUTE {} has no route for {block}",
            table.id
        )));
    };
    if route.blackhole {
        return Some(Err(format!(
            "TGW_BLACKHOLE {} drops {block} ({})",
            table.id, route.destination
        )));
    }
    let leads = route.attachments.iter().any(|a| match toward {
        Some(id) => a.attachment_id == id,
        None => a.resource_id.as_deref().is_some_and(|vpc| {
            network
                .vpcs
                .get(vpc)
                .is_some_and(|v| v.cidrs.iter().any(|c| cidr::contains(c, &block)))
        }),
    });
    if leads {
        Some(Ok(()))
    } else {
        Some(Err(format!(
            "TGW_NO_RETURN {} sends {block} by {} elsewhere",
            table.id, route.destination
        )))
    }
}

/// `destination` (a VPC route's) and every route of the gateway's tables strictly inside it,
/// each with what the gateway does with it: the kernel routes that make the lab's fabric route
/// like the gateway (the longest prefix decides in the kernel as in the gateway).
pub(super) fn parts(
    network: &Network,
    tgw: &str,
    from_vpc: &str,
    destination: Ipv4Net,
    toward: Option<&str>,
) -> Vec<(Ipv4Net, Result<(), String>)> {
    let mut blocks = vec![destination];
    for table in network
        .tgw_route_tables
        .values()
        .filter(|t| t.tgw_id == tgw)
    {
        for r in table.routes.iter().flat_map(|rs| rs.routes.iter()) {
            if r.destination.prefix_len() > destination.prefix_len()
                && cidr::contains(&destination, &r.destination)
                && !blocks.contains(&r.destination)
            {
                blocks.push(r.destination);
            }
        }
    }
    blocks
        .into_iter()
        .filter_map(|b| decide(network, tgw, from_vpc, b, toward).map(|d| (b, d)))
        .collect()
}

/// The attachment of `vpc` to `tgw`.
pub(super) fn attachment_of<'n>(network: &'n Network, tgw: &str, vpc: &str) -> Option<&'n str> {
    network
        .tgw_attachments
        .iter()
        .flatten()
        .find(|a| a.tgw_id == tgw && a.vpc_id == vpc)
        .map(|a| a.id.as_str())
}
