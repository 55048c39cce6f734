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
use std::fmt;

use ipnet::Ipv4Net;

use crate::filters::{
    self, EPHEMERAL_FAR, EPHEMERAL_LINUX, EPHEMERAL_SNAT, NetworkAcl, Peer, PortSet, SecurityGroup,
    Way,
};
use crate::model::Target;
use crate::report::{Cause, Direction};
use crate::verdict::{Block, ClassKey, FilterFix, FilterOutcome, SourceAtPeer};
use crate::vpc_path::{Remote, Trace};

use super::context::ClusterContext;

mod acls;
mod far_end;
mod security_groups;

use acls::AclCheck;
use far_end::far_peers;
use security_groups::SgCheck;

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
        references: HopRefs,
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
    /// Cannot tell (why): a transit gateway whose `SecurityGroupReferencingSupport` the
    /// snapshot does not show.
    Unknown(String),
}

/// Whether references cross one hop, and in which rules.
#[derive(Debug, Clone)]
struct HopRefs {
    refs: Refs,
    /// Over a transit gateway (docs/datapath.md §5.7), AWS passes references in inbound rules
    /// only ("Outbound security rules referencing over Transit Gateway aren't supported", AWS
    /// Networking blog, "Introducing security group referencing for AWS Transit Gateway", 2024),
    /// and an inbound rule matches only when `SecurityGroupReferencingSupport` is enabled on the
    /// transit gateway (disabled by default) and on both VPC attachments (enabled by default;
    /// `CreateTransitGatewayVpcAttachment` options).
    inbound_only: bool,
}

impl HopRefs {
    fn across(refs: Refs) -> Self {
        HopRefs {
            refs,
            inbound_only: false,
        }
    }

    /// Whether rules of `way` can match the other end's groups across this hop.
    fn for_rules(&self, way: Way) -> Refs {
        if self.inbound_only && way == Way::Outbound {
            Refs::Never
        } else {
            self.refs.clone()
        }
    }
}

/// Group sets of the other end of a hop, one per endpoint; `None`: no group can match.
type GroupSets = Vec<Option<Vec<String>>>;

/// The group sets a security-group rule may see on the other end of a hop.
pub(super) struct PeerGroups {
    /// What the check uses: the other end's group sets when references cross, `[None]` (a
    /// reference cannot match) when they do not or cannot be told to.
    sets: GroupSets,
    /// When whether references cross cannot be told: why, and the group sets they would see if
    /// they crossed (`None` when those are not in the snapshot either). The check is unknown
    /// only when its outcome differs between the two.
    undecided: Option<(String, Option<GroupSets>)>,
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
            self.trace.pass(at, || passing(admitted));
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
            self.trace.pass(at, passing);
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
        let peers = far_peers(far, Way::Outbound);
        self.sg_step(
            run,
            SgCheck {
                at: "node",
                code: Cause::SgEgress,
                eni: &leaving.eni,
                groups: leaving.groups,
                way: Way::Outbound,
                block: d,
                peers: &peers,
                peer_label: &format_args!("{d}"),
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
                peer_label: &format_args!("to {d}"),
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
                peer_label: &format_args!("from {d}"),
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
                peer_label: &format_args!("from {d}"),
                fix_cidr: d,
                reply: None,
            },
        );
        // 4. The pod ENI's groups inbound, for the far host (or its groups across peering).
        let peers = far_peers(far, Way::Inbound);
        self.sg_step(
            run,
            SgCheck {
                at: "node",
                code: Cause::SgIngress,
                eni: &entering.eni,
                groups: entering.groups,
                way: Way::Inbound,
                block: d,
                peers: &peers,
                peer_label: &format_args!("{d}"),
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
                peer_label: &format_args!("to {d}"),
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
}

/// How texts name the near end: the node IP or pod address, and its subnet. (The verdict holds
/// for the part of the subnet the analysis grouped it in; rules cut parts, so naming the
/// address is exact.)
fn near_text(
    label: &str,
    subnet: Ipv4Net,
) -> Lazy<impl Fn(&mut fmt::Formatter<'_>) -> fmt::Result> {
    Lazy(move |f: &mut fmt::Formatter<'_>| write!(f, "{label} (subnet {subnet})"))
}

/// A text put together only when it is written. Most checks pass and write nothing, yet each
/// evaluation named its ends and peers about ten times over; building those names eagerly
/// cost a seventh of the verdict matrix at 5,000 nodes.
#[derive(Clone, Copy)]
struct Lazy<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// How texts name a subnet whose network ACL is checked: a cluster subnet by its id, a far one
/// with its VPC.
#[derive(Debug, Clone, Copy)]
enum SubnetName<'c> {
    Near(&'c str),
    Far { subnet: &'c str, vpc: &'c str },
}

impl fmt::Display for SubnetName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubnetName::Near(subnet) => f.write_str(subnet),
            SubnetName::Far { subnet, vpc } => write!(f, "{subnet} in {vpc}"),
        }
    }
}
