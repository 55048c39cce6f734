//! docs/datapath.md §5.7: the security groups and network ACLs a connection crosses, on both
//! sides, with the exact source and destination each one sees.
//!
//! The host half of the procedure decides which ENI a packet really leaves by and which source
//! the far side sees; this stage runs the VPC's filters on exactly that: the security groups of
//! the leaving ENI (the node's primary ENI when SNATed to it, the pod's ENI or branch ENI
//! otherwise), the network ACL of the subnet the packet leaves and of the one it enters, the far
//! destination's security groups for the source it sees, and the stateless ACL rules the reply
//! needs toward the client's ephemeral ports. A connection is reachable on the TCP ports every
//! forward filter admits (the requested `--port`s, else any), and only if every reply filter
//! admits the whole ephemeral range. Every filter whose input the snapshot lacks is unknown,
//! never a guess; filters the snapshot holds no output for at all are named as assumptions.
//!
//! It records typed facts ([`FilterOutcome`]: the passing ports and, per blocking rule, the
//! exact rule that would admit the flow) so findings can write the fix and check a remediation
//! that changes the source the far side sees.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::filters::{
    self, EPHEMERAL_FAR, EPHEMERAL_LINUX, EPHEMERAL_SNAT, NetworkAcl, Peer, PortSet, SecurityGroup,
    Way,
};
use crate::model::{Eni, Target};
use crate::report::{Cause, Direction};
use crate::verdict::{Block, ClassKey, FilterFix, FilterOutcome, SourceAtPeer};
use crate::vpc_path::{Remote, Trace};

use super::procedure::ClusterContext;

/// Assumption when the snapshot holds no `describe-security-groups` output at all.
pub const SG_ASSUMPTION: &str = "security groups are not in the snapshot (aws ec2 describe-security-groups): assumed to admit the flow both ways";
/// Assumption when the snapshot holds no `describe-network-acls` output at all.
pub const ACL_ASSUMPTION: &str = "network ACLs are not in the snapshot (aws ec2 describe-network-acls): assumed to admit the flow both ways, including replies to ephemeral ports";
/// What podreach assumes of client ports (see `crate::filters`).
pub const EPHEMERAL_ASSUMPTION: &str = "replies go to the client's ephemeral port: 32768-60999 (Linux's default ip_local_port_range) for a pod's own address, 1024-65535 after SNAT (--random-fully), and 32768-65535 (the Linux and Windows defaults) for hosts beyond the VPC, whose system podreach cannot see (a NAT device there may use lower ports)";

/// One end of a connection as the filters see it.
#[derive(Debug, Clone)]
struct NearEnd<'c> {
    /// `{eni}` or `{primary_eni}`: the ENI the packet leaves (or enters) by.
    eni: &'static str,
    groups: &'c [String],
    subnet: &'c str,
    /// The address the far side sees, as the part of a subnet every rule treats alike.
    address: Ipv4Net,
    /// The whole subnet of that address: what a fix admits, so every node or pod of it works.
    address_subnet: Ipv4Net,
    label: &'static str,
}

/// The far end: a block of a VPC of the snapshot, or something podreach cannot see into.
#[derive(Debug, Clone)]
enum FarEnd<'a> {
    Vpc {
        vpc: String,
        /// The far subnet's id and network ACL, or why it is unknown.
        acl: Result<(&'a str, &'a NetworkAcl), String>,
        /// The distinct group sets of the far ENIs in the block, with one ENI of each; `Err`
        /// when the far VPC's ENIs are not in the snapshot.
        endpoints: Result<Vec<(Vec<String>, &'a str)>, String>,
        /// Whether a security-group reference can cross to this side.
        references: Refs,
    },
    /// On premises (VPN, Direct Connect, Outposts): no VPC filter there.
    Outside(String),
    /// A VPC whose configuration podreach cannot read.
    Unreadable,
}

/// Whether a security-group reference in one VPC can match an ENI of the other.
#[derive(Debug, Clone)]
enum Refs {
    /// Yes: an active VPC peering connection within one Region.
    Cross,
    /// No: another Region, an inactive peering connection, on premises.
    Never,
    /// Cannot tell (why): a transit gateway passes references only when its attachments enable
    /// `SecurityGroupReferencingSupport`, which the snapshot does not hold.
    Unknown(String),
}

/// Accumulates the forward ports and the typed fixes while hops are recorded.
struct Run<'t> {
    trace: &'t mut Trace,
    requested: Option<PortSet>,
    remaining: PortSet,
    blocked: Vec<(Cause, FilterFix)>,
    evaluated: bool,
}

impl Run<'_> {
    /// The ports a forward filter admitting `admitted` would drop (see [`Run::forward`]).
    fn lost(&self, admitted: &PortSet) -> PortSet {
        match &self.requested {
            Some(requested) => requested.difference(admitted),
            None if admitted.is_empty() || self.remaining.intersect(admitted).is_empty() => {
                PortSet::all()
            }
            None => PortSet::empty(),
        }
    }

    /// A forward filter admitting `admitted`: drops what it takes from the requested ports (or,
    /// with none requested, the last port still open).
    fn forward(
        &mut self,
        at: &'static str,
        code: Cause,
        admitted: &PortSet,
        passing: impl FnOnce(&PortSet) -> String,
        failing: impl FnOnce(&PortSet) -> String,
        fix: impl FnOnce(&PortSet) -> FilterFix,
    ) {
        self.evaluated = true;
        let before = self.remaining.clone();
        self.remaining = self.remaining.intersect(admitted);
        let lost = match &self.requested {
            Some(requested) => requested.difference(admitted),
            None if admitted.is_empty() || (self.remaining.is_empty() && !before.is_empty()) => {
                PortSet::all()
            }
            None => PortSet::empty(),
        };
        if lost.is_empty() {
            self.trace.pass(at, passing(admitted));
        } else {
            let wanted = self.requested.clone().unwrap_or_else(|| before.clone());
            let fix_ports = if wanted.is_empty() {
                PortSet::all()
            } else {
                wanted.difference(admitted)
            };
            let fix_ports = if fix_ports.is_empty() {
                lost.clone()
            } else {
                fix_ports
            };
            self.trace.drop(at, code, failing(&fix_ports));
            self.blocked.push((code, fix(&fix_ports)));
        }
    }

    /// A reply filter: must admit the whole ephemeral `range`.
    fn reply(
        &mut self,
        at: &'static str,
        admitted: &PortSet,
        range: (u16, u16),
        passing: impl FnOnce() -> String,
        failing: impl FnOnce(&PortSet) -> String,
        fix: impl FnOnce(&PortSet) -> FilterFix,
    ) {
        self.evaluated = true;
        let needed = PortSet::range(range.0, range.1);
        let missing = needed.difference(admitted);
        if missing.is_empty() {
            self.trace.pass(at, passing());
        } else {
            // The cluster side's ACL, or the far side's (docs/datapath.md §5.5).
            let code = if at == "peer" {
                Cause::PeerNacl
            } else {
                Cause::NaclLocal
            };
            self.trace.drop(at, code, failing(&missing));
            self.blocked.push((code, fix(&needed)));
        }
    }

    fn finish(self) -> Option<FilterOutcome> {
        self.evaluated.then_some(FilterOutcome {
            ports: self.remaining,
            blocked: self.blocked,
        })
    }
}

impl<'a> ClusterContext<'a> {
    fn groups(&self) -> Option<&'a std::collections::BTreeMap<String, SecurityGroup>> {
        self.net.security_groups.as_ref()
    }

    /// The far end of `block`, reached over `object` toward `remote`.
    fn far_end(
        &self,
        block: Ipv4Net,
        object: Option<&Target>,
        remote: Option<&Remote>,
    ) -> FarEnd<'a> {
        match remote {
            Some(Remote::Vpc(vpc)) => {
                let acl = match self.vpc.remote_subnet(vpc, block) {
                    Some(subnet) => self.acl_of(&subnet.id).map(|a| (subnet.id.as_str(), a)),
                    None => Err(format!("no subnet of {vpc} in the snapshot holds {block}")),
                };
                let endpoints = if self.vpcs_with_enis.contains(vpc.as_str()) {
                    let mut sets: Vec<(Vec<String>, &'a str)> = Vec::new();
                    let start = self
                        .far_enis
                        .partition_point(|(ip, _)| *ip < block.network());
                    for (ip, eni) in &self.far_enis[start..] {
                        if !block.contains(ip) {
                            break;
                        }
                        if eni.vpc_id != *vpc {
                            continue; // another VPC with the same addresses
                        }
                        let mut groups = eni.groups.clone();
                        groups.sort();
                        if !sets.iter().any(|(g, _)| *g == groups) {
                            sets.push((groups, eni.id.as_str()));
                        }
                    }
                    sets.sort();
                    Ok(sets)
                } else {
                    Err(format!(
                        "the ENIs of {vpc} are not in the snapshot (aws ec2 describe-network-interfaces --filters Name=vpc-id,Values={vpc})"
                    ))
                };
                let references = match object {
                    Some(Target::Peering(id)) => {
                        let crosses = self
                            .net
                            .peerings
                            .as_ref()
                            .and_then(|p| p.get(id))
                            .is_some_and(|p| p.same_region() && p.status == "active");
                        if crosses { Refs::Cross } else { Refs::Never }
                    }
                    Some(Target::TransitGateway(id)) => Refs::Unknown(format!(
                        "{id} passes security-group references only when its VPC attachments enable SecurityGroupReferencingSupport, which podreach does not read"
                    )),
                    _ => Refs::Never,
                };
                FarEnd::Vpc {
                    vpc: vpc.clone(),
                    acl,
                    endpoints,
                    references,
                }
            }
            Some(Remote::OnPremises(object)) => FarEnd::Outside(object.clone()),
            Some(Remote::NotInSnapshot(_)) | None => FarEnd::Unreadable,
        }
    }

    /// The network ACL of a subnet, or why it is unknown.
    fn acl_of(&self, subnet: &str) -> Result<&'a NetworkAcl, String> {
        self.net.acl_of_subnet(subnet).ok_or_else(|| {
            let vpc = self
                .net
                .subnets
                .get(subnet)
                .map_or("its VPC", |s| s.vpc_id.as_str());
            format!(
                "the network ACL of {subnet} is not in the snapshot (aws ec2 describe-network-acls --filters Name=vpc-id,Values={vpc})"
            )
        })
    }

    fn far_end_of(&self, class: &ClassKey, block: &Block, out_primary: bool) -> FarEnd<'a> {
        let subnet = if out_primary {
            &class.node_subnet
        } else {
            &class.eni_subnet
        };
        let mut scratch = Trace::default();
        let outbound = self.vpc.outbound(subnet, block.block, &mut scratch);
        if outbound.object.is_some() {
            return self.far_end(
                block.block,
                outbound.object.as_ref(),
                outbound.remote.as_ref(),
            );
        }
        let (object, remote) = self.object_towards(class, block.block);
        self.far_end(block.block, object.as_ref(), remote.as_ref())
    }

    fn near_end<'c>(
        &self,
        class: &'c ClassKey,
        primary: bool,
        source: SourceAtPeer,
    ) -> NearEnd<'c> {
        let (eni, groups, subnet) = if primary {
            (
                "{primary_eni}",
                &class.primary_groups,
                class.node_subnet.as_str(),
            )
        } else {
            ("{eni}", &class.eni_groups, class.eni_subnet.as_str())
        };
        let (address, label, home) = match source {
            SourceAtPeer::NodeIp => (
                class.node_source,
                "the node IP {node_ip}",
                &class.node_subnet,
            ),
            SourceAtPeer::PodIp => (class.pod_source, "the pod address", &class.eni_subnet),
        };
        NearEnd {
            eni,
            groups,
            subnet,
            address,
            address_subnet: self.subnet_cidr(home).unwrap_or(address),
            label,
        }
    }

    /// Runs every filter of a connection in `direction` between `class` and `block`, given what
    /// the host half decided: the ENI the first packet leaves by (egress) or the reply leaves by
    /// (ingress), and the source the far side sees.
    pub(crate) fn filters(
        &self,
        trace: &mut Trace,
        class: &ClassKey,
        block: &Block,
        direction: Direction,
        out_primary: bool,
        source: SourceAtPeer,
    ) -> Option<FilterOutcome> {
        self.filters_for(
            trace,
            class,
            block,
            direction,
            out_primary,
            source,
            self.ports.clone(),
        )
    }

    /// [`Self::filters`] for the TCP ports `requested` (`None`: any).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn filters_for(
        &self,
        trace: &mut Trace,
        class: &ClassKey,
        block: &Block,
        direction: Direction,
        out_primary: bool,
        source: SourceAtPeer,
        requested: Option<PortSet>,
    ) -> Option<FilterOutcome> {
        let far = self.far_end_of(class, block, out_primary);
        let mut run = Run {
            trace,
            remaining: requested.clone().unwrap_or_else(PortSet::all),
            requested,
            blocked: Vec::new(),
            evaluated: false,
        };
        if self.net.security_groups.is_some() || self.net.network_acls.is_some() {
            run.trace.assume(EPHEMERAL_ASSUMPTION);
        }
        match direction {
            Direction::PodToPeer => {
                let leaving = self.near_end(class, out_primary, source);
                // The reply comes back to the ENI that owns the address the far side saw.
                let arrival_primary = match source {
                    SourceAtPeer::NodeIp => true,
                    SourceAtPeer::PodIp => class.placement.is_primary(),
                };
                let arrival = self.near_end(class, arrival_primary, source);
                let ephemeral = match source {
                    SourceAtPeer::NodeIp => EPHEMERAL_SNAT,
                    SourceAtPeer::PodIp => EPHEMERAL_LINUX,
                };
                self.pod_initiated(&mut run, block.block, &leaving, &arrival, &far, ephemeral);
            }
            Direction::PeerToPod => {
                let entering =
                    self.near_end(class, class.placement.is_primary(), SourceAtPeer::PodIp);
                let replying = self.near_end(class, out_primary, SourceAtPeer::PodIp);
                self.peer_initiated(&mut run, block.block, &entering, &replying, &far);
            }
        }
        run.finish()
    }

    /// Pod → far: leaving ENI's groups outbound, leaving subnet's ACL outbound, far ACL inbound,
    /// far groups inbound; the reply: far ACL outbound, arrival subnet's ACL inbound, and the
    /// arrival ENI's groups when the reply enters by another ENI than the request left by.
    fn pod_initiated(
        &self,
        run: &mut Run<'_>,
        d: Ipv4Net,
        leaving: &NearEnd<'_>,
        arrival: &NearEnd<'_>,
        far: &FarEnd<'a>,
        ephemeral: (u16, u16),
    ) {
        // 1. The leaving ENI's security groups, outbound to the destination.
        let (peers, undecided) = far_peers(far);
        self.sg_step(
            run,
            SgCheck {
                at: "node",
                code: Cause::SgEgress,
                eni: leaving.eni,
                groups: leaving.groups,
                way: Way::Outbound,
                block: d,
                peers: &peers,
                references_undecided: undecided,
                peer_label: &format!("{d}"),
                fix_cidr: d,
            },
        );
        // 2. The leaving subnet's network ACL, outbound.
        self.acl_step(
            run,
            AclCheck {
                at: "vpc",
                acl: self.near_acl(leaving.subnet),
                way: Way::Outbound,
                peer: d,
                peer_label: &format!("to {d}"),
                fix_cidr: d,
                reply: None,
            },
        );
        // 3–4. The far side: its subnet's ACL inbound, its ENIs' groups inbound.
        let source_groups = Some(leaving.groups.to_vec());
        self.far_forward(run, far, leaving, source_groups, Way::Inbound);
        // 5. The reply leaves the far subnet to the client's ephemeral port.
        self.far_reply(run, far, leaving, Way::Outbound, ephemeral);
        // 6. It enters the subnet of the ENI owning that address.
        self.acl_step(
            run,
            AclCheck {
                at: "vpc",
                acl: self.near_acl(arrival.subnet),
                way: Way::Inbound,
                peer: d,
                peer_label: &format!("from {d}"),
                fix_cidr: d,
                reply: Some(ephemeral),
            },
        );
        // 7. No connection is tracked on an ENI the request did not leave by.
        if arrival.eni != leaving.eni {
            self.sg_reply(run, arrival.eni, arrival.groups, Way::Inbound, d, ephemeral);
        }
    }

    /// Far → pod: far groups and ACL outbound, the pod subnet's ACL inbound, the pod ENI's groups
    /// inbound; the reply: the ACL of the subnet it leaves, the far ACL inbound, and the leaving
    /// ENI's groups when the reply leaves by another ENI than the request entered by.
    fn peer_initiated(
        &self,
        run: &mut Run<'_>,
        d: Ipv4Net,
        entering: &NearEnd<'_>,
        replying: &NearEnd<'_>,
        far: &FarEnd<'a>,
    ) {
        // 1–2. The far initiator's groups and subnet ACL, outbound to the pod address.
        self.far_forward(
            run,
            far,
            entering,
            Some(entering.groups.to_vec()),
            Way::Outbound,
        );
        // 3. The pod subnet's ACL inbound from the far host.
        self.acl_step(
            run,
            AclCheck {
                at: "vpc",
                acl: self.near_acl(entering.subnet),
                way: Way::Inbound,
                peer: d,
                peer_label: &format!("from {d}"),
                fix_cidr: d,
                reply: None,
            },
        );
        // 4. The pod ENI's groups inbound, for the far host (or its groups across peering).
        let (peers, undecided) = far_peers(far);
        self.sg_step(
            run,
            SgCheck {
                at: "node",
                code: Cause::SgIngress,
                eni: entering.eni,
                groups: entering.groups,
                way: Way::Inbound,
                block: d,
                peers: &peers,
                references_undecided: undecided,
                peer_label: &format!("{d}"),
                fix_cidr: d,
            },
        );
        // 5. The reply leaves the subnet of the ENI it leaves by, to the far client's port.
        self.acl_step(
            run,
            AclCheck {
                at: "vpc",
                acl: self.near_acl(replying.subnet),
                way: Way::Outbound,
                peer: d,
                peer_label: &format!("to {d}"),
                fix_cidr: d,
                reply: Some(EPHEMERAL_FAR),
            },
        );
        // 6. It enters the far subnet.
        self.far_reply(run, far, entering, Way::Inbound, EPHEMERAL_FAR);
        // 7. No connection is tracked on an ENI the request did not enter by.
        if replying.eni != entering.eni {
            self.sg_reply(
                run,
                replying.eni,
                replying.groups,
                Way::Outbound,
                d,
                EPHEMERAL_FAR,
            );
        }
    }

    /// A security-group check of one ENI (near, or a far endpoint) for a forward packet. The
    /// ports admitted are those every peer group set gets. When the check would drop ports but
    /// depends on what the snapshot lacks (a group, a prefix list, or whether a reference
    /// crosses), it is unknown, never a drop; when it admits them anyway, what is missing is
    /// only noted.
    fn sg_step(&self, run: &mut Run<'_>, check: SgCheck<'_>) {
        let SgCheck {
            at,
            code,
            eni,
            groups,
            way,
            block,
            peers,
            references_undecided,
            peer_label,
            fix_cidr,
        } = check;
        let Some(all) = self.groups() else {
            run.trace.assume(SG_ASSUMPTION);
            return;
        };
        if groups.is_empty() {
            // Every ENI has at least one group: an empty list means the dump did not say.
            run.trace.unknown(
                at,
                Cause::MissingInput,
                format!("the snapshot does not list the security groups of {eni} (`Groups` of describe-network-interfaces)"),
            );
            return;
        }
        let mut admitted = PortSet::all();
        let mut rules = BTreeSet::new();
        let mut missing: BTreeSet<String> = BTreeSet::new();
        for peer in peers {
            let verdict = filters::sg_admits(
                groups,
                all,
                &self.net.prefix_lists,
                way,
                Peer {
                    block,
                    groups: peer.as_deref(),
                },
            );
            missing.extend(verdict.missing_groups);
            missing.extend(verdict.missing_prefix_lists);
            admitted = admitted.intersect(&verdict.ports);
            rules.extend(verdict.rules);
        }
        let references = |g: &String| {
            all.get(g).is_some_and(|g| {
                let rules = match way {
                    Way::Inbound => &g.inbound,
                    Way::Outbound => &g.outbound,
                };
                rules
                    .iter()
                    .any(|r| matches!(r.peer, crate::filters::SgPeer::Group { .. }))
            })
        };
        let undecided = match (&references_undecided, groups.iter().any(references)) {
            (Some(why), true) => Some(format!(
                "a rule of {eni}'s groups names a security group, and {why}"
            )),
            _ => None,
        };
        if !run.lost(&admitted).is_empty() && (!missing.is_empty() || undecided.is_some()) {
            let mut why = Vec::new();
            if !missing.is_empty() {
                why.push(format!(
                    "{} named by {eni}'s groups {} not in the snapshot (aws ec2 describe-security-groups / get-managed-prefix-list-entries)",
                    missing.iter().cloned().collect::<Vec<_>>().join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ));
            }
            why.extend(undecided);
            run.trace.unknown(
                at,
                Cause::MissingInput,
                format!("whether the security groups of {eni} allow {} {peer_label} depends on what podreach cannot see: {}", way.as_str(), why.join("; ")),
            );
            return;
        }
        if !missing.is_empty() {
            run.trace.assume(format!(
                "{} named by {eni}'s groups not in the snapshot; the rules present already admit the flow",
                missing.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let group_list = groups.join(", ");
        let first_group = groups.first().cloned().unwrap_or_default();
        let dir = way.as_str();
        let to_from = if way == Way::Inbound { "from" } else { "to" };
        run.forward(
            at,
            code,
            &admitted,
            |ports| {
                format!(
                    "security groups of {eni} ({group_list}) allow {dir} {ports} {to_from} {peer_label}: {}",
                    rules.iter().cloned().collect::<Vec<_>>().join("; ")
                )
            },
            |missing| {
                format!(
                    "security groups of {eni} ({group_list}) do not allow {dir} {missing} {to_from} {peer_label}{}",
                    if admitted.is_empty() { String::new() } else { format!(" (they allow {admitted})") }
                )
            },
            |ports| FilterFix::SecurityGroup {
                group_id: first_group,
                way,
                cidr: fix_cidr,
                ports: ports.clone(),
            },
        );
    }

    /// A near security group for a reply on an ENI with no tracked connection.
    fn sg_reply(
        &self,
        run: &mut Run<'_>,
        eni: &'static str,
        groups: &[String],
        way: Way,
        d: Ipv4Net,
        range: (u16, u16),
    ) {
        let Some(all) = self.groups() else {
            run.trace.assume(SG_ASSUMPTION);
            return;
        };
        if groups.is_empty() {
            run.trace.unknown(
                "node",
                Cause::MissingInput,
                format!("the snapshot does not list the security groups of {eni} (`Groups` of describe-network-interfaces)"),
            );
            return;
        }
        let verdict = filters::sg_admits(
            groups,
            all,
            &self.net.prefix_lists,
            way,
            Peer {
                block: d,
                groups: None,
            },
        );
        let group_list = groups.join(", ");
        let first_group = groups.first().cloned().unwrap_or_default();
        let dir = way.as_str();
        run.evaluated = true;
        let needed = PortSet::range(range.0, range.1);
        let missing = needed.difference(&verdict.ports);
        let unseen: Vec<String> = verdict
            .missing_groups
            .iter()
            .chain(&verdict.missing_prefix_lists)
            .cloned()
            .collect();
        if !missing.is_empty() && !unseen.is_empty() {
            run.trace.unknown(
                "node",
                Cause::MissingInput,
                format!("the reply crosses {eni}, which tracks no connection for it; whether its groups allow it depends on {}, not in the snapshot", unseen.join(", ")),
            );
            return;
        }
        if missing.is_empty() {
            run.trace.pass(
                "node",
                format!("the reply crosses {eni}, which tracks no connection for it; its security groups ({group_list}) allow {dir} {needed} for {d}"),
            );
        } else {
            let code = if way == Way::Inbound {
                Cause::SgIngress
            } else {
                Cause::SgEgress
            };
            run.trace.drop(
                "node",
                code,
                format!("the reply crosses {eni}, which tracks no connection for it (the request used another ENI): its security groups ({group_list}) do not allow {dir} {missing} for {d}"),
            );
            run.blocked.push((
                code,
                FilterFix::SecurityGroup {
                    group_id: first_group,
                    way,
                    cidr: d,
                    ports: needed,
                },
            ));
        }
    }

    /// A network ACL check (near or far): the request to the destination port, or the reply to
    /// the client's ephemeral range. No ACL output at all is an assumption; an ACL the snapshot
    /// lacks for this subnet, an unknown hop.
    fn acl_step(&self, run: &mut Run<'_>, check: AclCheck<'_>) {
        let AclCheck {
            at,
            acl,
            way,
            peer,
            peer_label,
            fix_cidr,
            reply,
        } = check;
        if self.net.network_acls.is_none() {
            run.trace.assume(ACL_ASSUMPTION);
            return;
        }
        let (subnet, acl) = match acl {
            Ok(found) => found,
            Err(why) => {
                run.trace.unknown(at, Cause::MissingInput, why);
                return;
            }
        };
        let verdict = filters::acl_admits(acl, way, peer);
        let entries = match way {
            Way::Inbound => &acl.inbound,
            Way::Outbound => &acl.outbound,
        };
        let dir = way.as_str();
        let deciding = |ports: &PortSet, what: &str| -> String {
            match verdict.first_deny(ports) {
                Some(Some(n)) => entries
                    .iter()
                    .find(|e| e.rule_number == n)
                    .map_or_else(|| format!("rule {n}"), |e| e.describe()),
                _ => format!("the final * deny (no rule allows {what})"),
            }
        };
        let fix = |ports: &PortSet, deny: Option<u32>| FilterFix::Acl {
            acl_id: acl.id.clone(),
            way,
            cidr: fix_cidr,
            ports: ports.clone(),
            rule_numbers: filters::free_rule_numbers(entries, deny, ports.ranges().len()),
        };
        let id = &acl.id;
        match reply {
            None => run.forward(
                at,
                // The cluster side's ACL, or the far side's (docs/datapath.md §5.5).
                if at == "peer" {
                    Cause::PeerNacl
                } else {
                    Cause::NaclLocal
                },
                &verdict.allowed,
                |ports| format!("network ACL {id} of {subnet} allows {dir} {ports} {peer_label}"),
                |missing| {
                    format!(
                        "network ACL {id} of {subnet} denies {dir} {missing} {peer_label}: {} decides first",
                        deciding(missing, "it")
                    )
                },
                |ports| fix(ports, verdict.first_deny(ports).flatten()),
            ),
            Some(range) => {
                let needed = PortSet::range(range.0, range.1);
                let deny = verdict.first_deny(&needed).flatten();
                let decides = deciding(&needed, "them");
                run.reply(
                    at,
                    &verdict.allowed,
                    range,
                    || format!("network ACL {id} of {subnet} allows the reply {dir} to ephemeral ports {needed} {peer_label} (stateless: the reply needs its own rule)"),
                    |missing| format!("network ACL {id} of {subnet} denies the reply {dir} to ephemeral ports {missing} {peer_label}: {decides} decides first (stateless: the reply needs its own rule for {needed})"),
                    |ports| fix(ports, deny),
                );
            }
        }
    }

    /// The network ACL of a cluster subnet, as an [`AclCheck`] reads it.
    fn near_acl(&self, subnet: &str) -> Result<(String, &'a NetworkAcl), String> {
        self.acl_of(subnet).map(|acl| (subnet.to_owned(), acl))
    }

    /// The far subnet's ACL and the far ENIs' groups for a forward packet whose near end is
    /// `near` (as the far side sees it): inbound when the pod initiated, outbound when the far
    /// host did.
    fn far_forward(
        &self,
        run: &mut Run<'_>,
        far: &FarEnd<'a>,
        near_end: &NearEnd<'_>,
        near_groups: Option<Vec<String>>,
        way: Way,
    ) {
        let (near, near_label, fix_cidr) =
            (near_end.address, near_end.label, near_end.address_subnet);
        let (vpc, acl, endpoints, references) = match far {
            FarEnd::Vpc {
                vpc,
                acl,
                endpoints,
                references,
            } => (vpc, acl, endpoints, references),
            FarEnd::Outside(object) => {
                run.trace.assume(format!(
                    "filters beyond {object} (on-premises firewalls) are not visible to podreach: assumed to admit the flow"
                ));
                return;
            }
            FarEnd::Unreadable => return, // the path is already unknown (UNKNOWN_REMOTE)
        };
        let to_from = if way == Way::Inbound { "from" } else { "to" };
        let near_text = near_text(near_label, fix_cidr);
        // A packet leaving the far host crosses its ENI's groups, then its subnet's ACL; one
        // arriving crosses the ACL first.
        let peer_label = format!("{to_from} {near_text}");
        let far_acl = |run: &mut Run<'_>| {
            self.acl_step(
                run,
                AclCheck {
                    at: "peer",
                    acl: far_acl_of(vpc, acl),
                    way,
                    peer: near,
                    peer_label: &peer_label,
                    fix_cidr,
                    reply: None,
                },
            );
        };
        if way == Way::Inbound {
            far_acl(run);
        }
        if self.groups().is_none() {
            run.trace.assume(SG_ASSUMPTION);
        } else {
            match endpoints {
                Err(why) => run.trace.unknown("peer", Cause::MissingInput, why.clone()),
                Ok(e) if e.is_empty() => run.trace.assume(format!(
                    "no ENI of {vpc} holds an address of the destination block, so nothing answers there now; its security groups are not evaluated"
                )),
                Ok(endpoints) => {
                    let (peer_groups, undecided) = match references {
                        Refs::Cross => (near_groups, None),
                        Refs::Never => (None, None),
                        Refs::Unknown(why) => (None, Some(why.clone())),
                    };
                    let code = Cause::PeerSg;
                    let peers = [peer_groups];
                    for (groups, example) in endpoints {
                        self.sg_step(
                            run,
                            SgCheck {
                                at: "peer",
                                code,
                                eni: &format!("{example} in {vpc}"),
                                groups,
                                way,
                                block: near,
                                peers: &peers,
                                references_undecided: undecided.clone(),
                                peer_label: &near_text,
                                fix_cidr,
                            },
                        );
                    }
                }
            }
        }
        if way == Way::Outbound {
            far_acl(run);
        }
    }

    /// The far subnet's ACL for a reply packet.
    fn far_reply(
        &self,
        run: &mut Run<'_>,
        far: &FarEnd<'a>,
        near_end: &NearEnd<'_>,
        way: Way,
        range: (u16, u16),
    ) {
        let FarEnd::Vpc { vpc, acl, .. } = far else {
            return;
        };
        let to_from = if way == Way::Inbound { "from" } else { "to" };
        self.acl_step(
            run,
            AclCheck {
                at: "peer",
                acl: far_acl_of(vpc, acl),
                way,
                peer: near_end.address,
                peer_label: &format!(
                    "{to_from} {}",
                    near_text(near_end.label, near_end.address_subnet)
                ),
                fix_cidr: near_end.address_subnet,
                reply: Some(range),
            },
        );
    }
}

/// The far subnet's ACL as an [`AclCheck`] reads it: named with its VPC.
fn far_acl_of<'a>(
    vpc: &str,
    acl: &Result<(&'a str, &'a NetworkAcl), String>,
) -> Result<(String, &'a NetworkAcl), String> {
    match acl {
        Ok((subnet, acl)) => Ok((format!("{subnet} in {vpc}"), *acl)),
        Err(why) => Err(why.clone()),
    }
}

/// One network ACL check: the ACL (the subnet as texts name it) or why it is unknown, which way,
/// the other end, and whether the packet is the request or the reply to `reply`'s ports.
struct AclCheck<'c> {
    at: &'static str,
    acl: Result<(String, &'c NetworkAcl), String>,
    way: Way,
    peer: Ipv4Net,
    peer_label: &'c str,
    /// The CIDR a fix admits.
    fix_cidr: Ipv4Net,
    /// `Some(ephemeral range)` for a reply.
    reply: Option<(u16, u16)>,
}

/// One security-group check: whose groups, which way, and the other end as the groups see it.
struct SgCheck<'c> {
    at: &'static str,
    code: Cause,
    /// How texts name the ENI (`{eni}`, or a far ENI with its VPC).
    eni: &'c str,
    groups: &'c [String],
    way: Way,
    /// The other end's address block.
    block: Ipv4Net,
    /// The group sets the other end may carry (`None`: references cannot match).
    peers: &'c [Option<Vec<String>>],
    /// Why a reference to the other end's groups cannot be decided, if it cannot.
    references_undecided: Option<String>,
    peer_label: &'c str,
    /// The CIDR a fix admits.
    fix_cidr: Ipv4Net,
}

/// The group sets a near ENI's rules may see on the far end: one per far endpoint when
/// references cross, else `None`; and why that cannot be told, when it cannot (the far ENIs
/// are not in the snapshot, or a transit gateway's referencing support is unknown).
fn far_peers(far: &FarEnd<'_>) -> (Vec<Option<Vec<String>>>, Option<String>) {
    match far {
        FarEnd::Vpc {
            endpoints,
            references,
            ..
        } => match (references, endpoints) {
            (Refs::Cross, Ok(e)) if !e.is_empty() => {
                (e.iter().map(|(g, _)| Some(g.clone())).collect(), None)
            }
            (Refs::Cross, Ok(_)) | (Refs::Never, _) => (vec![None], None),
            (Refs::Cross, Err(why)) | (Refs::Unknown(why), Err(_)) => {
                (vec![None], Some(why.clone()))
            }
            (Refs::Unknown(why), Ok(_)) => (vec![None], Some(why.clone())),
        },
        FarEnd::Outside(_) | FarEnd::Unreadable => (vec![None], None),
    }
}

/// How texts name the near end: the node IP or pod address, and its subnet. (The verdict holds
/// for the part of the subnet the analysis grouped it in; rules cut parts, so naming the
/// address is exact.)
fn near_text(label: &str, subnet: Ipv4Net) -> String {
    format!("{label} (subnet {subnet})")
}

/// Every address of the far VPCs' ENIs, sorted: the far side's destinations.
pub(crate) fn far_enis<'a>(
    enis: impl Iterator<Item = &'a Eni>,
    cluster_vpc: &str,
) -> (Vec<(Ipv4Addr, &'a Eni)>, BTreeSet<&'a str>) {
    let mut out = Vec::new();
    let mut vpcs = BTreeSet::new();
    for eni in enis.filter(|e| e.vpc_id != cluster_vpc) {
        vpcs.insert(eni.vpc_id.as_str());
        out.push((eni.primary_ip, eni));
        out.extend(eni.secondary_ips.iter().map(|ip| (*ip, eni)));
    }
    out.sort_by_key(|(ip, _)| *ip);
    (out, vpcs)
}
