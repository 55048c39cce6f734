//! The AWS side of a pod's path: the VPC router, peering connections and transit gateways.
//!
//! Once a packet leaves an ENI, the VPC applies the route table of that ENI's subnet, and the
//! object the route names (peering connection, transit gateway, virtual private or local gateway)
//! carries it on; the far side must route the source address it sees back through the same object
//! (docs/datapath.md §4 and `AWS_PATH` in §5.2). Each check yields hops and, when it fails, a reason
//! code; a check whose input is not in the snapshot yields an "unknown" reason instead, so the
//! verdict becomes `unknown` rather than a guess. Security groups and network ACLs are not in
//! the snapshot format, so they are named as assumptions on every verdict, never silently passed.

use ipnet::Ipv4Net;

use crate::cidr;

mod tgw_routes;

use crate::model::{Network, RouteTable, Subnet, Target};
use crate::report::{Cause, Hop, HopOutcome, Reason};
pub(crate) use tgw_routes::{Association, Lookup, lookup, propagates};

/// The far side of a private route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A VPC of the snapshot (peer VPC, or a VPC behind the transit gateway).
    Vpc(String),
    /// On premises (VPN, Direct Connect, Outposts local network): never visible to podreach.
    OnPremises(String),
    /// Beyond the object, but nothing in the snapshot says what is there.
    NotInSnapshot(String),
}

/// Hops and reasons collected along a path, in order.
///
/// What is written down is the trace's [`Record`]: a verdict needs the reasons (they name the
/// cause and make the findings' texts), only a per-ENI row or an explanation needs every hop's
/// text, and a scratch trace (a route looked up only for its target) needs neither. Texts are
/// taken as [`Detail`]s, so a closure is formatted only when its text is kept: at 5,000 nodes
/// the audit evaluates thousands of paths whose hop texts nobody reads.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub hops: Vec<Hop>,
    /// Every reason in path order (first drop point first), failures and unknowns interleaved.
    pub reasons: Vec<Reason>,
    /// `true` once a check failed.
    pub failed: bool,
    /// `true` once a check could not be decided.
    pub undecided: bool,
    pub assumptions: Vec<String>,
    record: Record,
}

/// What a [`Trace`] writes down besides its outcome (`failed`, `undecided`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Record {
    /// Every hop, the reasons and the assumptions: for per-ENI rows and explanations.
    #[default]
    Everything,
    /// The reasons and the assumptions, no hop: for the verdict matrix and the findings.
    Reasons,
    /// Nothing but the outcome: a scratch trace whose texts are thrown away.
    Outcome,
}

/// A hop's or reason's text: a string, or a closure that makes it only when it is kept.
pub trait Detail {
    fn text(self) -> String;
    /// The text when it exists already (a string, not a closure): an assumption repeated on
    /// every evaluation is compared, not copied again.
    fn known(&self) -> Option<&str> {
        None
    }
}

impl Detail for String {
    fn text(self) -> String {
        self
    }
    fn known(&self) -> Option<&str> {
        Some(self)
    }
}

impl Detail for &str {
    fn text(self) -> String {
        self.to_owned()
    }
    fn known(&self) -> Option<&str> {
        Some(self)
    }
}

impl<F: FnOnce() -> String> Detail for F {
    fn text(self) -> String {
        self()
    }
}

impl Trace {
    /// An empty trace that writes down `record`.
    pub fn new(record: Record) -> Trace {
        Trace {
            record,
            ..Trace::default()
        }
    }

    /// A scratch trace for a check made only for its result.
    pub fn scratch() -> Trace {
        Trace::new(Record::Outcome)
    }

    pub fn pass(&mut self, at: &'static str, detail: impl Detail) {
        if self.record == Record::Everything {
            self.hops.push(Hop {
                at,
                detail: detail.text(),
                outcome: HopOutcome::Pass,
            });
        }
    }

    pub fn drop(&mut self, at: &'static str, code: Cause, detail: impl Detail) {
        self.failed = true;
        self.note(at, code, detail, HopOutcome::Drop);
    }

    pub fn unknown(&mut self, at: &'static str, code: Cause, detail: impl Detail) {
        self.undecided = true;
        self.note(at, code, detail, HopOutcome::Unknown);
    }

    fn note(&mut self, at: &'static str, code: Cause, detail: impl Detail, outcome: HopOutcome) {
        if self.record == Record::Outcome {
            return;
        }
        let detail = detail.text();
        if self.record == Record::Everything {
            self.hops.push(Hop {
                at,
                detail: detail.clone(),
                outcome,
            });
        }
        self.reasons.push(Reason { code, detail });
    }

    pub fn assume(&mut self, assumption: impl Detail) {
        if self.record == Record::Outcome {
            return;
        }
        if let Some(text) = assumption.known()
            && self.assumptions.iter().any(|a| a == text)
        {
            return;
        }
        let assumption = assumption.text();
        if !self.assumptions.contains(&assumption) {
            self.assumptions.push(assumption);
        }
    }
}

/// The result of routing a block out of a subnet.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The private object the route names, when a usable route exists (even if later checks fail).
    pub object: Option<Target>,
    pub remote: Option<Remote>,
}

/// The VPC side as seen from one cluster's VPC.
#[derive(Debug, Clone, Copy)]
pub struct VpcView<'a> {
    pub net: &'a Network,
    pub cluster_vpc: &'a str,
}

fn route_label(table: &RouteTable, index: usize) -> String {
    let route = &table.routes[index];
    format!("{} → {}", route.destination, route.target.id())
}

impl<'a> VpcView<'a> {
    pub fn new(net: &'a Network, cluster_vpc: &'a str) -> Self {
        Self { net, cluster_vpc }
    }

    fn table_of(
        &self,
        subnet: &Subnet,
        trace: &mut Trace,
        at: &'static str,
    ) -> Option<&'a RouteTable> {
        match self.net.route_table_of_subnet(&subnet.id) {
            Some(table) => Some(table),
            None => {
                let why = if self.net.has_route_tables_of(&subnet.vpc_id) {
                    format!(
                        "{} has no explicit route table association and the main route table of {} is not in the snapshot",
                        subnet.id, subnet.vpc_id
                    )
                } else {
                    format!(
                        "the route tables of {} are not in the snapshot (aws ec2 describe-route-tables)",
                        subnet.vpc_id
                    )
                };
                let code = if at == "peer" {
                    Cause::UnknownRemote
                } else {
                    Cause::MissingInput
                };
                trace.unknown(at, code, why);
                None
            }
        }
    }

    /// `AWS_PATH` (1)–(3) for a packet to `block` leaving an ENI in `subnet_id`.
    pub fn outbound(&self, subnet_id: &str, block: Ipv4Net, trace: &mut Trace) -> Outbound {
        let none = Outbound {
            object: None,
            remote: None,
        };
        let Some(subnet) = self.net.subnets.get(subnet_id) else {
            trace.unknown("vpc", Cause::MissingInput, || {
                format!("subnet {subnet_id} is not in the snapshot")
            });
            return none;
        };
        let Some(table) = self.table_of(subnet, trace, "vpc") else {
            return none;
        };
        let Some(index) = cidr::longest_match(table.routes.iter().map(|r| &r.destination), &block)
        else {
            trace.drop("vpc", Cause::NoRoute, || {
                format!(
                    "route table {} of {} ({}) has no route for {block}",
                    table.id, subnet.id, subnet.az
                )
            });
            return none;
        };
        let route = &table.routes[index];
        if !route.target.is_private_beyond_vpc() {
            trace.drop("vpc", Cause::NoRoute, || {
                format!(
                    "route table {} of {} ({}) sends {block} by {}, not over a private route",
                    table.id,
                    subnet.id,
                    subnet.az,
                    route_label(table, index)
                )
            });
            return none;
        }
        if route.blackhole {
            trace.drop(
                "vpc",
                Cause::RouteBlackhole,
                || format!(
                    "route table {} of {}: {} is a blackhole (its target no longer exists or is not attached)",
                    table.id,
                    subnet.id,
                    route_label(table, index)
                ),
            );
        } else {
            trace.pass("vpc", || {
                format!(
                    "route table {} of {} ({}): {}",
                    table.id,
                    subnet.id,
                    subnet.az,
                    route_label(table, index)
                )
            });
        }
        let remote = match &route.target {
            Target::Peering(id) => self.check_peering(id, block, trace),
            Target::TransitGateway(id) => self.check_tgw(id, subnet, block, trace),
            Target::VirtualPrivateGateway(id) => {
                trace.assume(format!(
                    "{id} is attached to the VPC and its VPN/Direct Connect side advertises the destinations routed to it (not in the snapshot)"
                ));
                Some(Remote::OnPremises(id.clone()))
            }
            Target::LocalGateway(id) => Some(Remote::OnPremises(id.clone())),
            Target::Local | Target::Other(_) => None,
        };
        Outbound {
            object: Some(route.target.clone()),
            remote,
        }
    }

    fn check_peering(&self, id: &str, block: Ipv4Net, trace: &mut Trace) -> Option<Remote> {
        let Some(peerings) = &self.net.peerings else {
            trace.unknown("vpc", Cause::MissingInput, || {
                format!(
                    "{id}: the snapshot has no `aws ec2 describe-vpc-peering-connections` output"
                )
            });
            // Without the peering document the far side is still the snapshot VPC holding the block.
            return Some(self.vpc_behind(block, None));
        };
        let Some(peering) = peerings.get(id) else {
            trace.unknown("vpc", Cause::MissingInput, || {
                format!("{id} is not in the peering connections of the snapshot")
            });
            return Some(self.vpc_behind(block, None));
        };
        if peering.status != "active" {
            trace.drop("vpc", Cause::PcxNotActive, || {
                format!("{id} is `{}`, not active", peering.status)
            });
        }
        let Some((other_vpc, other_cidrs)) = peering.other_side(self.cluster_vpc) else {
            trace.drop("vpc", Cause::PcxNotDirect, || {
                format!("{id} does not connect {}", self.cluster_vpc)
            });
            return None;
        };
        let other = other_vpc.unwrap_or("the peer VPC").to_owned();
        if cidr::covered_by_any(other_cidrs, &block) {
            trace.pass("vpc", || {
                format!(
                    "{id} ({}) connects to {other}, whose CIDRs hold {block}",
                    peering.status
                )
            });
        } else {
            let cidrs: Vec<String> = other_cidrs.iter().map(ToString::to_string).collect();
            trace.drop(
                "vpc",
                Cause::PcxNotDirect,
                || format!(
                    "{block} is outside {other} ({}): peering is not transitive and offers no edge-to-edge routing",
                    cidrs.join(", ")
                ),
            );
        }
        other_vpc.map(|v| Remote::Vpc(v.to_owned()))
    }

    fn check_tgw(
        &self,
        tgw: &str,
        subnet: &Subnet,
        block: Ipv4Net,
        trace: &mut Trace,
    ) -> Option<Remote> {
        match self.tgw_attachment_in_az(tgw, &subnet.vpc_id, &subnet.az) {
            TgwAz::Unknown(why) => trace.unknown("vpc", Cause::MissingInput, why),
            TgwAz::Fail(code, why) => trace.drop("vpc", code, why),
            TgwAz::Ok(detail) => trace.pass("vpc", detail),
        }
        // Where the gateway's route leads; without one, the VPC holding the block is still
        // checked (docs/datapath.md §5.6: run every step).
        self.tgw_forward(tgw, &subnet.vpc_id, block, trace)
            .or_else(|| Some(self.vpc_behind(block, Some(tgw))))
    }

    /// A transit gateway forwards only from AZs where the VPC's attachment has a subnet.
    fn tgw_attachment_in_az(&self, tgw: &str, vpc: &str, az: &str) -> TgwAz {
        let Some(attachments) = &self.net.tgw_attachments else {
            return TgwAz::Unknown(format!(
                "{tgw}: the snapshot has no `aws ec2 describe-transit-gateway-vpc-attachments` output"
            ));
        };
        let Some(attachment) = attachments
            .iter()
            .find(|a| a.tgw_id == tgw && a.vpc_id == vpc)
        else {
            return TgwAz::Fail(
                Cause::TgwNoAttachment,
                format!("{vpc} has no attachment to {tgw}"),
            );
        };
        if attachment.state != "available" {
            return TgwAz::Fail(
                Cause::TgwAttachmentNotAvailable,
                format!(
                    "attachment {} of {vpc} to {tgw} is `{}`",
                    attachment.id, attachment.state
                ),
            );
        }
        let mut unknown_subnets = Vec::new();
        let mut azs = Vec::new();
        for id in &attachment.subnet_ids {
            match self.net.subnets.get(id) {
                Some(s) => azs.push(s.az.clone()),
                None => unknown_subnets.push(id.clone()),
            }
        }
        if azs.iter().any(|a| a == az) {
            TgwAz::Ok(format!(
                "attachment {} of {tgw} has a subnet in {az}",
                attachment.id
            ))
        } else if !unknown_subnets.is_empty() {
            TgwAz::Unknown(format!(
                "attachment {} subnets {} are not in the snapshot: cannot tell whether one is in {az}",
                attachment.id,
                unknown_subnets.join(", ")
            ))
        } else {
            TgwAz::Fail(
                Cause::TgwNoAzAttachment,
                format!(
                    "attachment {} of {tgw} has no subnet in {az} (only {}): resources in {az} cannot reach the transit gateway",
                    attachment.id,
                    azs.join(", ")
                ),
            )
        }
    }

    /// The snapshot VPC (other than the cluster's) that holds `block`, if any.
    pub fn vpc_behind(&self, block: Ipv4Net, tgw: Option<&str>) -> Remote {
        let holder = self
            .net
            .vpcs
            .values()
            .filter(|v| v.id != self.cluster_vpc)
            .filter(|v| cidr::covered_by_any(&v.cidrs, &block))
            .find(|v| match (tgw, &self.net.tgw_attachments) {
                (Some(tgw), Some(attachments)) => attachments
                    .iter()
                    .any(|a| a.tgw_id == tgw && a.vpc_id == v.id),
                _ => true,
            });
        match holder {
            Some(v) => Remote::Vpc(v.id.clone()),
            None => Remote::NotInSnapshot(tgw.unwrap_or("the route target").to_owned()),
        }
    }

    /// The subnet of `vpc` that holds `block`, if the snapshot lists one.
    pub fn remote_subnet(&self, vpc: &str, block: Ipv4Net) -> Option<&'a Subnet> {
        self.net
            .subnets
            .values()
            .find(|s| cidr::contains(&s.cidr, &block) && s.vpc_id == vpc)
    }

    /// `AWS_PATH` (5) and §5.4 step 1: the remote side, for hosts in `block`, routes
    /// `source_block` through `object` (the same peering connection or transit gateway).
    /// `source_label` names the source in texts (`the node IP {node_ip}`, `the pod subnet …`):
    /// the far side routes by the exact address, so `source_block` is the part of a subnet in
    /// which every address is routed alike, and the label says which address that is.
    pub fn remote_routes(
        &self,
        remote: &Remote,
        block: Ipv4Net,
        object: &Target,
        source_block: Ipv4Net,
        source_label: &str,
        trace: &mut Trace,
    ) {
        let vpc = match remote {
            Remote::Vpc(vpc) => vpc,
            Remote::OnPremises(gateway) => {
                trace.unknown(
                    "peer",
                    Cause::UnknownRemote,
                    || format!("the network behind {gateway} is on premises: podreach cannot see whether it routes {source_label} back"),
                );
                return;
            }
            Remote::NotInSnapshot(via) => {
                trace.unknown(
                    "peer",
                    Cause::UnknownRemote,
                    || format!("no VPC of the snapshot holds {block} behind {via}: the return route for {source_label} cannot be checked"),
                );
                return;
            }
        };
        let subnet = self.remote_subnet(vpc, block);
        let table = match subnet {
            Some(s) => self.net.route_table_of_subnet(&s.id),
            None => self
                .net
                .main_route_tables
                .get(vpc)
                .and_then(|id| self.net.route_tables.get(id)),
        };
        let Some(table) = table else {
            trace.unknown(
                "peer",
                Cause::UnknownRemote,
                || format!(
                    "the route tables of {vpc} are not in the snapshot: cannot check that it routes {source_label} back (add `aws ec2 describe-route-tables --filters Name=vpc-id,Values={vpc}`)"
                ),
            );
            return;
        };
        let where_ = subnet.map_or_else(
            || format!("main route table {} of {vpc}", table.id),
            |s| format!("route table {} of {} in {vpc}", table.id, s.id),
        );
        let index = cidr::longest_match(table.routes.iter().map(|r| &r.destination), &source_block);
        let partial: Vec<String> = table
            .routes
            .iter()
            .filter(|r| {
                r.destination.prefix_len() > source_block.prefix_len()
                    && cidr::contains(&source_block, &r.destination)
            })
            .filter(|r| &r.target != object || r.blackhole)
            .map(|r| format!("{} → {}", r.destination, r.target.id()))
            .collect();
        match index {
            None => trace.drop(
                "peer",
                Cause::PeerNoRoute,
                || format!("{where_} has no route for {source_label}"),
            ),
            Some(i) if table.routes[i].target != *object => trace.drop(
                "peer",
                Cause::PeerNoRoute,
                || format!(
                    "{where_} sends {source_label} by {}, not back through {}",
                    route_label(table, i),
                    object.id()
                ),
            ),
            Some(i) if table.routes[i].blackhole => trace.drop(
                "peer",
                Cause::PeerNoRoute,
                || format!("{where_}: {} is a blackhole", route_label(table, i)),
            ),
            Some(i) if !partial.is_empty() => trace.drop(
                "peer",
                Cause::PeerNoRoute,
                || format!(
                    "{where_} routes {source_label} by {} but more specific routes take part of it elsewhere ({}); the addresses of a new ENI may fall in that part",
                    route_label(table, i),
                    partial.join(", ")
                ),
            ),
            Some(i) => trace.pass("peer", || format!("{where_}: {} covers {source_label}", route_label(table, i))),
        }
        if let (Target::TransitGateway(tgw), Some(s)) = (object, subnet) {
            match self.tgw_attachment_in_az(tgw, vpc, &s.az) {
                TgwAz::Unknown(why) => trace.unknown("peer", Cause::UnknownRemote, why),
                TgwAz::Fail(code, why) => trace.drop("peer", code, why),
                TgwAz::Ok(detail) => trace.pass("peer", detail),
            }
        }
        if let Target::TransitGateway(tgw) = object {
            self.tgw_back(tgw, vpc, source_block, source_label, trace);
        }
    }
}

enum TgwAz {
    Ok(String),
    Fail(Cause, String),
    Unknown(String),
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    /// The same checks written down by each record.
    fn checks(record: Record, formatted: &std::cell::Cell<usize>) -> Trace {
        let text = |s: &'static str| {
            move || {
                formatted.set(formatted.get() + 1);
                s.to_owned()
            }
        };
        let mut trace = Trace::new(record);
        trace.pass("node", text("leaves by eth0"));
        trace.unknown("vpc", Cause::MissingInput, text("route table not read"));
        trace.drop("peer", Cause::PeerNoRoute, text("no route back"));
        trace.assume("an assumption");
        trace.assume("an assumption");
        trace
    }

    #[test]
    fn a_trace_formats_and_keeps_only_what_its_record_asks_for() {
        let formatted = std::cell::Cell::new(0);
        let everything = checks(Record::Everything, &formatted);
        assert_eq!(formatted.get(), 3);
        assert_eq!(everything.hops.len(), 3);

        formatted.set(0);
        let reasons = checks(Record::Reasons, &formatted);
        assert_eq!(formatted.get(), 2, "a passing hop's text is never made");
        assert!(reasons.hops.is_empty());
        assert_eq!(reasons.reasons, everything.reasons);
        assert_eq!(reasons.assumptions, ["an assumption"]);

        formatted.set(0);
        let outcome = checks(Record::Outcome, &formatted);
        assert_eq!(formatted.get(), 0);
        assert!(outcome.reasons.is_empty() && outcome.assumptions.is_empty());
        // The outcome is the same whatever is written down.
        for t in [&everything, &reasons, &outcome] {
            assert!(t.failed && t.undecided);
        }
    }
}
