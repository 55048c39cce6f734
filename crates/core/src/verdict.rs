//! The typed verdicts of one cluster: the table the analysis fills and findings and reports read.
//!
//! A 5,000-node cluster has ~15,000 pod ENIs and ~735,000 pod addresses, and an enterprise VPC
//! ~100 private routes; a table of addresses × routes does not fit a Lambda function. The
//! verdicts are therefore kept as a small matrix: *ENI classes* (ENIs with the same host
//! placement, subnet and node subnet share every input of the procedure) × *destination classes*
//! (blocks whose route target, SNAT and external-service membership and far side are the same for
//! every subnet of the cluster) × the two directions. Everything that grows with the cluster
//! (subjects, blocks) is a list of indices into that matrix, and addresses stay borrowed from
//! the model. This module is data only, so [`crate::analysis`] (which fills it) and
//! [`crate::findings`] (which reads it) do not import each other.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::datapath::{DestinationFlags, HostTable, Placement};
use crate::filters::{PortSet, Way};
use crate::model::{Cluster, Eni, Network, Node};
use crate::report::{Cause, Direction, Hop, Reason, Verdict};

/// Both directions, in report order.
pub const DIRECTIONS: [Direction; 2] = [Direction::PodToPeer, Direction::PeerToPod];

/// A pod-address holder on a node: one ENI (or branch ENI) with its pod addresses.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub node: &'a Node,
    pub eni: &'a Eni,
    pub primary: &'a Eni,
    pub placement: Placement,
    pub pod_ips: Cow<'a, [Ipv4Addr]>,
    pub pod_prefixes: Cow<'a, [Ipv4Net]>,
    /// The part of the ENI's subnet that holds these pod addresses, where every far route table
    /// treats every address alike (see [`ClassKey::pod_source`]).
    pub pod_source: Ipv4Net,
    /// The part of the node's subnet that holds the node IP, likewise.
    pub node_source: Ipv4Net,
    /// Index of the subject's ENI class in [`ClusterVerdicts::classes`].
    pub class: usize,
}

impl Subject<'_> {
    pub fn has_pod_addresses(&self) -> bool {
        !self.pod_ips.is_empty() || !self.pod_prefixes.is_empty()
    }

    pub fn class_key(&self) -> ClassKey {
        ClassKey {
            placement: self.placement,
            eni_subnet: self.eni.subnet_id.clone(),
            node_subnet: self.primary.subnet_id.clone(),
            eni_check: self.eni.source_dest_check,
            primary_check: self.primary.source_dest_check,
            pod_source: self.pod_source,
            node_source: self.node_source,
            eni_groups: sorted(&self.eni.groups),
            primary_groups: sorted(&self.primary.groups),
        }
    }

    pub fn role(&self) -> &'static str {
        match self.placement {
            Placement::PrimaryEni => "primary",
            Placement::SecondaryEni { .. } => "secondary",
            Placement::Branch { .. } => "branch",
        }
    }

    pub fn pod_address_count(&self) -> usize {
        self.pod_ips.len()
            + self
                .pod_prefixes
                .iter()
                .map(|p| 1usize << (32 - p.prefix_len()))
                .sum::<usize>()
    }

    /// Fills the placeholders of a class-level text for this ENI.
    pub fn render(&self, template: &str) -> String {
        template
            .replace("{eni}", &self.eni.id)
            .replace("{primary_eni}", &self.primary.id)
            .replace("{node_ip}", &self.node.ip.to_string())
            .replace("{instance}", &self.node.instance_id)
    }
}

/// ENIs whose verdicts are identical: everything the procedure reads about the pod's side.
///
/// The far side routes replies (and its own connections) by the exact source it sees: the node
/// IP when SNATed, each pod address otherwise. A far route table may cover only part of a
/// subnet (`10.0.1.0/27` of `10.0.1.0/24`), so the key holds, besides the subnets, the part of
/// each that the source address lies in: the subnet cut at every far route inside it
/// (`cidr::split`), so every far route table treats every address of the part alike. Without
/// such routes the part is the whole subnet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassKey {
    pub placement: Placement,
    pub eni_subnet: String,
    pub node_subnet: String,
    pub eni_check: bool,
    pub primary_check: bool,
    /// The part of `eni_subnet` holding the pod addresses (the whole subnet for a secondary ENI
    /// that does not exist yet: its addresses could be anywhere in it).
    pub pod_source: Ipv4Net,
    /// The part of `node_subnet` holding the node IP.
    pub node_source: Ipv4Net,
    /// The security groups of the pod's ENI (its branch ENI with security groups for pods), sorted.
    pub eni_groups: Vec<String>,
    /// The security groups of the node's primary ENI, sorted.
    pub primary_groups: Vec<String>,
}

/// A group list in a canonical order, so ENIs carrying the same groups share a class.
pub fn sorted(groups: &[String]) -> Vec<String> {
    let mut out = groups.to_vec();
    out.sort();
    out.dedup();
    out
}

/// The rule that would admit a flow a filter blocks: typed, so findings write the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterFix {
    /// Add a rule to a security group (`authorize-security-group-ingress`/`-egress`).
    SecurityGroup {
        group_id: String,
        way: Way,
        cidr: Ipv4Net,
        ports: PortSet,
    },
    /// Add an allow entry to a network ACL ahead of the entry that denies.
    Acl {
        acl_id: String,
        way: Way,
        cidr: Ipv4Net,
        ports: PortSet,
        /// One free rule number per port range, all below the entry that denies.
        rule_numbers: Vec<u32>,
    },
}

/// What the security groups and network ACLs of a path admit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOutcome {
    /// The TCP destination ports every forward filter admits (within the `--port`s asked for).
    pub ports: PortSet,
    /// The filters that block, in path order: the reason code and the rule that would admit
    /// what they block.
    pub blocked: Vec<(Cause, FilterFix)>,
}

/// A destination block: a route CIDR, or the part of it that is uniform for every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub block: Ipv4Net,
    /// The private route CIDR this block belongs to.
    pub route: Ipv4Net,
    pub flags: DestinationFlags,
    /// Index of the block's destination class in [`ClusterVerdicts::destinations`].
    pub destination: usize,
}

/// The source address the far side sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceAtPeer {
    /// SNATed to the node's primary IP.
    NodeIp,
    /// The pod's own address.
    PodIp,
}

/// The verdict of one ENI class for one destination and direction, with the trace that led
/// there. Texts carry placeholders (`{eni}`, `{node_ip}`, …) filled per ENI when rendered, and
/// name the block they were evaluated for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub hops: Vec<Hop>,
    pub via: Option<String>,
    pub source: SourceAtPeer,
    /// `true` when the packet toward the peer leaves by the primary ENI.
    pub egress_primary: bool,
    pub host_table: HostTable,
    pub assumptions: Vec<String>,
    /// The security groups' and network ACLs' result; `None` when the snapshot holds neither.
    pub filter: Option<FilterOutcome>,
    /// For pod-initiated paths: the same filters were the far side to see the other source
    /// (the pod address instead of the node IP, or the reverse) from the ENI that would then
    /// send it. A remediation that changes SNAT is checked against it.
    pub source_swap: Option<Box<FilterOutcome>>,
}

impl Evaluation {
    /// The first drop point when unreachable (an undecided check before it is not a drop), the
    /// first undecided check when unknown, none when reachable.
    pub fn cause(&self) -> Option<Cause> {
        let undecided = |c: Cause| matches!(c, Cause::UnknownRemote | Cause::MissingInput);
        match self.verdict {
            Verdict::Reachable => None,
            Verdict::Unreachable => self.reasons.iter().map(|r| r.code).find(|c| !undecided(*c)),
            Verdict::Unknown => self.reasons.first().map(|r| r.code),
        }
    }

    /// The detail of the first reason with `code`, if any.
    pub fn reason_detail(&self, code: Cause) -> Option<&str> {
        self.reasons
            .iter()
            .find(|r| r.code == code)
            .map(|r| r.detail.as_str())
    }

    /// What decides the path's fate, without the texts: two evaluations with the same outcome
    /// are shown as one row.
    pub fn same_outcome(&self, other: &Evaluation) -> bool {
        self.verdict == other.verdict
            && self
                .reasons
                .iter()
                .map(|r| r.code)
                .eq(other.reasons.iter().map(|r| r.code))
            && self.source == other.source
            && self.egress_primary == other.egress_primary
            && self.host_table == other.host_table
            && self.via == other.via
            && self.filter.as_ref().map(|f| &f.ports) == other.filter.as_ref().map(|f| &f.ports)
    }
}

/// Nodes that would get a new secondary ENI of this class (latent risk).
#[derive(Debug, Clone)]
pub struct Hypothetical<'a> {
    pub class: usize,
    pub nodes: Vec<&'a Node>,
}

/// Every verdict of one cluster.
#[derive(Debug)]
pub struct ClusterVerdicts<'a> {
    pub cluster: &'a Cluster,
    pub net: &'a Network,
    pub subjects: Vec<Subject<'a>>,
    /// ENI classes; the matrix's rows.
    pub classes: Vec<ClassKey>,
    /// Private route CIDRs beyond the VPC, sorted.
    pub routes: Vec<Ipv4Net>,
    /// Uniform blocks of those routes, in route order.
    pub blocks: Vec<Block>,
    /// Per destination class, the block it was evaluated for (its representative).
    pub destinations: Vec<usize>,
    /// `classes × destinations × DIRECTIONS`, row-major.
    pub evaluations: Vec<Evaluation>,
    pub hypothetical: Vec<Hypothetical<'a>>,
}

impl ClusterVerdicts<'_> {
    fn index(&self, class: usize, destination: usize, direction: Direction) -> usize {
        let d = match direction {
            Direction::PodToPeer => 0,
            Direction::PeerToPod => 1,
        };
        (class * self.destinations.len() + destination) * DIRECTIONS.len() + d
    }

    /// The verdict of an ENI class for a destination class and direction.
    pub fn evaluation(
        &self,
        class: usize,
        destination: usize,
        direction: Direction,
    ) -> &Evaluation {
        &self.evaluations[self.index(class, destination, direction)]
    }

    /// The verdict of an ENI class for a block.
    pub fn for_block(&self, class: usize, block: &Block, direction: Direction) -> &Evaluation {
        self.evaluation(class, block.destination, direction)
    }

    /// Blocks of each route, as `(route, index of its first block, blocks)` in route order.
    pub fn blocks_by_route(&self) -> impl Iterator<Item = (Ipv4Net, usize, &[Block])> {
        let mut start = 0;
        self.blocks
            .chunk_by(|a, b| a.route == b.route)
            .map(move |chunk| {
                let first = start;
                start += chunk.len();
                (chunk[0].route, first, chunk)
            })
    }

    /// Rows shown for one ENI class and direction: a route whose blocks all have the same
    /// outcome is one row named by the route; otherwise each block is its own row.
    pub fn rows(&self, class: usize, direction: Direction) -> Vec<Row<'_>> {
        let mut out = Vec::new();
        for (route, first_index, blocks) in self.blocks_by_route() {
            let first = self.for_block(class, &blocks[0], direction);
            let uniform = blocks
                .iter()
                .all(|b| self.for_block(class, b, direction).same_outcome(first));
            if uniform && blocks.len() > 1 {
                out.push(Row {
                    destination: route,
                    route,
                    block: first_index,
                    evaluation: first,
                });
            } else {
                for (offset, b) in blocks.iter().enumerate() {
                    out.push(Row {
                        destination: b.block,
                        route,
                        block: first_index + offset,
                        evaluation: self.for_block(class, b, direction),
                    });
                }
            }
        }
        out
    }
}

/// One row of per-ENI output: a destination (a route, or one of its blocks) and its verdict.
#[derive(Debug, Clone, Copy)]
pub struct Row<'v> {
    /// What the row is named by: the route when its blocks agree, else the block.
    pub destination: Ipv4Net,
    pub route: Ipv4Net,
    /// Index of the block whose evaluation is shown (the route's first when they agree).
    pub block: usize,
    pub evaluation: &'v Evaluation,
}
