//! The fixes of a transit gateway route table finding (`TGW_NO_ROUTE`, `TGW_BLACKHOLE`,
//! `TGW_NO_RETURN`): the exact `aws ec2` command on the table that decides the leg.
//!
//! Each leg is looked up again in the model (never read back from the report's text): the
//! forward leg in the table associated with the cluster VPC's attachment, toward the far VPC's
//! attachment; the return leg in the far attachment's table, toward the cluster VPC's attachment.
//! A fix is chosen to be safe: enabling the missing propagation adds only the routes of the VPC
//! the traffic is for, and only when no route at least as specific would still win over them;
//! otherwise a static route for that VPC's CIDR (replacing a static blackhole of the same prefix,
//! or added more specific than a wider blackhole, so the rest of the wider route is untouched),
//! and a more specific route that takes part of the block elsewhere is pointed at the right
//! attachment by its own route. A gateway owned by another account says so: its route tables
//! are changed there.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;

use crate::cidr;
use crate::model::{TgwAttachment, TgwRouteTable};
use crate::report::Remediation;
use crate::verdict::ClusterVerdicts;
use crate::vpc_path::{Association, Lookup, Remote, VpcView, lookup, propagates};

use super::witness::{Witness, push_once};

/// The fixes for every transit gateway leg of the witnesses that fails; `source_subnets` are the
/// subnets of the addresses the far side sees.
pub(crate) fn tgw_route_fixes(
    v: &ClusterVerdicts<'_>,
    witnesses: &[Witness<'_>],
    source_subnets: &BTreeSet<&str>,
) -> Vec<Remediation> {
    let net = v.net;
    let view = VpcView::new(net, &v.cluster.vpc_id);
    let mut fixes = Vec::new();
    for w in witnesses {
        let Some(tgw) = w
            .evaluation
            .via
            .as_deref()
            .filter(|v| v.starts_with("tgw-"))
        else {
            continue;
        };
        let Some(ours) = view.tgw_attachment_of(tgw, &v.cluster.vpc_id) else {
            continue;
        };
        let Remote::Vpc(far_vpc) = view.vpc_behind(w.block.block, Some(tgw)) else {
            continue;
        };
        let Some(far) = view.tgw_attachment_of(tgw, &far_vpc) else {
            continue;
        };
        let cluster_cidrs = net
            .vpcs
            .get(&v.cluster.vpc_id)
            .map(|x| x.cidrs.clone())
            .unwrap_or_default();
        let far_cidrs = net
            .vpcs
            .get(&far_vpc)
            .map(|x| x.cidrs.clone())
            .unwrap_or_default();
        // Forward: the cluster attachment's table toward the far VPC.
        leg_fixes(&view, tgw, ours, w.block.block, far, &far_cidrs, &mut fixes);
        // Return: the far attachment's table toward the cluster VPC, for every source subnet.
        let mut sources: Vec<Ipv4Net> = source_subnets
            .iter()
            .filter_map(|s| net.subnets.get(*s).map(|s| s.cidr))
            .collect();
        if sources.is_empty()
            && let Some(s) = net.subnets.get(w.source_subnet())
        {
            sources.push(s.cidr);
        }
        for source in sources {
            leg_fixes(&view, tgw, far, source, ours, &cluster_cidrs, &mut fixes);
        }
    }
    fixes
}

/// The fixes that make the table associated with `from` route `block` to `toward`, whose VPC
/// holds `toward_cidrs`.
fn leg_fixes(
    view: &VpcView<'_>,
    tgw: &str,
    from: &TgwAttachment,
    block: Ipv4Net,
    toward: &TgwAttachment,
    toward_cidrs: &[Ipv4Net],
    fixes: &mut Vec<Remediation>,
) {
    let owner = view
        .net
        .tgw_owners
        .get(tgw)
        .filter(|o| from.owner.as_deref().is_some_and(|ours| ours != o.as_str()))
        .map(|o| format!(" (in account {o}, which owns {tgw})"))
        .unwrap_or_default();
    let table = match view.tgw_association(tgw, &from.id) {
        Association::Table(t) => t,
        Association::Nowhere => {
            push_once(
                fixes,
                Remediation {
                    action: format!(
                        "associate {} ({}) with the route table of {tgw} that routes its traffic{owner}",
                        from.id, from.vpc_id
                    ),
                    command: Some(format!(
                        "aws ec2 associate-transit-gateway-route-table --transit-gateway-route-table-id <tgw-rtb-…> --transit-gateway-attachment-id {}",
                        from.id
                    )),
                    breaks: Vec::new(),
                },
            );
            return;
        }
        Association::Unknown(..) => return,
    };
    let leads = |r: &crate::model::TgwRoute| {
        !r.blackhole && r.attachments.iter().any(|a| a.attachment_id == toward.id)
    };
    let (route, elsewhere) = match lookup(table, block) {
        Lookup::Route(r) if leads(r) => return,
        Lookup::Route(r) => (Some(r), Vec::new()),
        Lookup::NoRoute => (None, Vec::new()),
        Lookup::Split { route, elsewhere } => (route.filter(|r| !leads(r)), elsewhere),
        Lookup::Unknown(_) => return,
    };
    // The prefix to route: the toward VPC's CIDR holding the block, else the block itself.
    let cidr = toward_cidrs
        .iter()
        .find(|c| cidr::contains(c, &block))
        .copied()
        .unwrap_or(block);
    let beaten = |at: Ipv4Net| {
        // A propagated route for `at` loses to any route at least as specific that covers it.
        table.routes.as_ref().is_some_and(|rs| {
            rs.routes.iter().any(|r| {
                cidr::contains(&r.destination, &block)
                    && (r.destination.prefix_len() > at.prefix_len()
                        || (r.destination == at && !r.propagated))
            })
        })
    };
    let needs_cover = route.is_some() || elsewhere.is_empty();
    if needs_cover {
        if propagates(table, &toward.id) == Some(false) && !beaten(cidr) {
            push_once(
                fixes,
                Remediation {
                    action: format!(
                        "propagate {} ({}) into {}, the table of {}{owner}: it adds routes only for {}'s CIDRs",
                        toward.id, toward.vpc_id, table.id, from.id, toward.vpc_id
                    ),
                    command: Some(format!(
                        "aws ec2 enable-transit-gateway-route-table-propagation --transit-gateway-route-table-id {} --transit-gateway-attachment-id {}",
                        table.id, toward.id
                    )),
                    breaks: Vec::new(),
                },
            );
        } else {
            static_route(table, cidr, toward, &owner, fixes);
        }
    }
    for r in elsewhere {
        static_route(table, r.destination, toward, &owner, fixes);
    }
}

/// `create-` or `replace-transit-gateway-route` for `cidr` toward `toward`: replace when a static
/// route of the same prefix exists (a blackhole, or to another attachment), create otherwise (a
/// static route wins over a propagated one of the same prefix, and a wider route keeps the rest).
fn static_route(
    table: &TgwRouteTable,
    cidr: Ipv4Net,
    toward: &TgwAttachment,
    owner: &str,
    fixes: &mut Vec<Remediation>,
) {
    let existing_static = table.routes.as_ref().is_some_and(|rs| {
        rs.routes
            .iter()
            .any(|r| r.destination == cidr && !r.propagated)
    });
    let verb = if existing_static { "replace" } else { "create" };
    push_once(
        fixes,
        Remediation {
            action: format!(
                "route {cidr} to {} ({}) in transit gateway route table {}{owner}",
                toward.id, toward.vpc_id, table.id
            ),
            command: Some(format!(
                "aws ec2 {verb}-transit-gateway-route --transit-gateway-route-table-id {} --destination-cidr-block {cidr} --transit-gateway-attachment-id {}",
                table.id, toward.id
            )),
            breaks: Vec::new(),
        },
    );
}
