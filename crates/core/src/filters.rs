//! Security groups and network ACLs: the VPC's two packet filters, and the TCP ports they admit.
//!
//! Both are evaluated on what the packet really carries at that point: the source address the
//! filter sees (the node IP when SNATed, the pod address otherwise) and, for a security-group
//! reference, the groups of the ENI the packet really left by. A security group is stateful
//! (the reply of a connection it admitted passes by connection tracking on the same ENI); a
//! network ACL is stateless (the reply is a packet of its own, to the client's ephemeral port)
//! and ordered (the lowest-numbered rule that matches decides). Each function here answers for
//! a *block* of addresses: the analysis cuts its blocks and source parts at every CIDR a rule
//! names, so a rule's CIDR either holds the whole block or none of it.
//!
//! Sources: Amazon VPC User Guide, "Security group rules" (stateful; rules are permissive only,
//! the union of every group's rules applies; a referenced group matches the private addresses
//! of every ENI carrying it, across a peering connection only in the same Region) and
//! "Network ACL rules" (rules evaluated in order starting with the lowest number; the first
//! match decides; the final `*` rule denies; replies need their own rule for the ephemeral
//! ports). The ephemeral ranges are in [`EPHEMERAL_LINUX`], [`EPHEMERAL_SNAT`] and
//! [`EPHEMERAL_FAR`].

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;

use crate::cidr;

/// The client ports of a connection a Linux pod or node opens itself: the kernel's default
/// `net.ipv4.ip_local_port_range` (`32768 60999`, `inet_init_net()` in net/ipv4/af_inet.c).
pub const EPHEMERAL_LINUX: (u16, u16) = (32768, 60999);
/// Appends `range` (which starts at or after the last range's start) to a canonical list,
/// joined with the last range when they overlap or touch.
fn push_merged(out: &mut Vec<(u16, u16)>, (a, b): (u16, u16)) {
    match out.last_mut() {
        Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
        _ => out.push((a, b)),
    }
}

/// The client ports after SNAT: the VPC CNI's SNAT rule uses `--random-fully` (default
/// `AWS_VPC_K8S_CNI_RANDOMIZESNAT=prng`), and netfilter then picks from 1024–65535 for a
/// source port ≥ 1024 (`nf_nat_l4proto_unique_tuple()` in net/netfilter/nf_nat_core.c).
pub const EPHEMERAL_SNAT: (u16, u16) = (1024, 65535);
/// The client ports of a host beyond the VPC that opens a connection to a pod: podreach cannot
/// see its system, so it asks for the defaults of the two common ones together, Linux's
/// 32768–60999 and Windows' 49152–65535 (`netsh int ipv4 show dynamicport tcp`). A NAT device
/// on the far side can use ports below 32768 (a NAT gateway uses 1024–65535); that is an
/// assumption the output states. The datapath lab's differential run showed why not to require
/// 1024–65535 here: an ACL that denies one low port (a service port such as 7000) would have
/// made every reply unreachable, while the far host's replies never use it.
pub const EPHEMERAL_FAR: (u16, u16) = (32768, 65535);

/// A set of TCP ports: sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSet(Vec<(u16, u16)>);

impl PortSet {
    pub fn empty() -> Self {
        PortSet(Vec::new())
    }

    pub fn all() -> Self {
        PortSet(vec![(0, 65535)])
    }

    pub fn range(from: u16, to: u16) -> Self {
        if from > to {
            return Self::empty();
        }
        PortSet(vec![(from, to)])
    }

    pub fn from_ports(ports: &[u16]) -> Self {
        ports
            .iter()
            .fold(Self::empty(), |set, &p| set.union(&Self::range(p, p)))
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(a, b)| a <= port && port <= b)
    }

    /// `true` when every port of `other` is in `self`.
    pub fn covers(&self, other: &PortSet) -> bool {
        other.difference(self).is_empty()
    }

    /// Both sets are canonical, so their union is one merge of two sorted lists (the analysis
    /// takes tens of thousands of unions and intersections per cluster).
    pub fn union(&self, other: &PortSet) -> PortSet {
        if other.0.is_empty() || self.is_all() {
            return self.clone();
        }
        if self.0.is_empty() || other.is_all() {
            return other.clone();
        }
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(self.0.len() + other.0.len());
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() || j < other.0.len() {
            let next = match (self.0.get(i), other.0.get(j)) {
                (Some(a), Some(b)) if a <= b => {
                    i += 1;
                    *a
                }
                (Some(_), Some(b)) | (None, Some(b)) => {
                    j += 1;
                    *b
                }
                (Some(a), None) => {
                    i += 1;
                    *a
                }
                (None, None) => break,
            };
            push_merged(&mut out, next);
        }
        PortSet(out)
    }

    /// One walk through both canonical sets; touching pieces are joined as they come.
    pub fn intersect(&self, other: &PortSet) -> PortSet {
        if self.is_all() {
            return other.clone();
        }
        if other.is_all() {
            return self.clone();
        }
        let mut out: Vec<(u16, u16)> = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a, b)), Some(&(c, d))) = (self.0.get(i), other.0.get(j)) {
            let (lo, hi) = (a.max(c), b.min(d));
            if lo <= hi {
                push_merged(&mut out, (lo, hi));
            }
            if b < d {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortSet(out)
    }

    fn is_all(&self) -> bool {
        self.0.as_slice() == [(0, 65535)]
    }

    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        for &(a, b) in &self.0 {
            let mut start = u32::from(a);
            let end = u32::from(b);
            for &(c, d) in &other.0 {
                let (c, d) = (u32::from(c), u32::from(d));
                if d < start || c > end {
                    continue;
                }
                if c > start {
                    out.push((start as u16, (c - 1) as u16));
                }
                start = d + 1;
                if start > end {
                    break;
                }
            }
            if start <= end {
                out.push((start as u16, end as u16));
            }
        }
        PortSet(out)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == [(0, 65535)] || self.0 == [(1, 65535)] {
            return f.write_str("every TCP port");
        }
        if self.0.is_empty() {
            return f.write_str("no TCP port");
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    format!("tcp/{a}")
                } else {
                    format!("tcp/{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Reads `tcp/5432` (or `5432`): a TCP port the verdicts should be about. Verdicts concern TCP
/// only, so another protocol is an error that says so.
pub fn parse_port(text: &str) -> Result<u16, String> {
    let text = text.trim();
    let number = match text.split_once('/') {
        Some((protocol, number)) if protocol.eq_ignore_ascii_case("tcp") => number,
        Some((protocol, _)) => {
            return Err(format!(
                "`{text}`: podreach's verdicts concern TCP; `{protocol}` is not checked (write tcp/N)"
            ));
        }
        None => text,
    };
    match number.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "`{text}` is not a TCP port (write tcp/N with N from 1 to 65535)"
        )),
    }
}

/// Reads a comma- or space-separated list of [`parse_port`]s (the functions' `TCP_PORTS`
/// setting).
pub fn parse_ports(text: &str) -> Result<Vec<u16>, String> {
    text.split([',', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(parse_port)
        .collect()
}

/// The protocol of a rule, as far as TCP is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `-1`: every protocol, every port.
    All,
    /// `tcp` / `6`.
    Tcp,
    /// Anything else: never matches TCP.
    Other,
}

impl Protocol {
    /// Reads `IpProtocol` (security groups: `tcp`, `6`, `-1`, …) and `Protocol` (network ACLs:
    /// `6`, `-1`, …).
    pub fn parse(text: &str) -> Protocol {
        match text.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            _ => Protocol::Other,
        }
    }
}

/// What a security group rule matches the other end of the packet by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SgPeer {
    Cidr(Ipv4Net),
    /// A managed prefix list, by id (its entries are in [`crate::model::Network::prefix_lists`]).
    PrefixList(String),
    /// Another security group: packets from (or to) the private addresses of an ENI that carries
    /// it. `peering` is set when the reference crosses a VPC peering connection.
    Group {
        group_id: String,
        peering: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgRule {
    pub protocol: Protocol,
    /// The TCP ports the rule admits (every port for `-1`).
    pub ports: PortSet,
    pub peer: SgPeer,
}

impl SgRule {
    /// How the rule is named in texts: `tcp/5432 from 10.0.0.0/16`.
    pub fn describe(&self, inbound: bool) -> String {
        let ports = match self.protocol {
            Protocol::All => "all traffic".to_owned(),
            _ => self.ports.to_string(),
        };
        let peer = match &self.peer {
            SgPeer::Cidr(c) => c.to_string(),
            SgPeer::PrefixList(p) => p.clone(),
            SgPeer::Group { group_id, peering } => match peering {
                Some(p) => format!("{group_id} (across {p})"),
                None => group_id.clone(),
            },
        };
        format!("{ports} {} {peer}", if inbound { "from" } else { "to" })
    }
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    pub name: Option<String>,
    pub vpc_id: Option<String>,
    pub inbound: Vec<SgRule>,
    pub outbound: Vec<SgRule>,
    pub file: String,
}

/// One network ACL entry (IPv4 only; IPv6 entries never match an IPv4 packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub rule_number: u32,
    pub protocol: Protocol,
    /// Destination ports for TCP (every port for `-1`).
    pub ports: PortSet,
    pub cidr: Ipv4Net,
    pub allow: bool,
}

impl AclEntry {
    pub fn describe(&self) -> String {
        let what = match self.protocol {
            Protocol::All => "all traffic".to_owned(),
            _ => self.ports.to_string(),
        };
        format!(
            "rule {} {} {what} {}",
            self.rule_number,
            if self.allow { "allow" } else { "deny" },
            self.cidr
        )
    }
}

#[derive(Debug, Clone)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    /// Inbound entries, by rule number.
    pub inbound: Vec<AclEntry>,
    /// Outbound entries, by rule number.
    pub outbound: Vec<AclEntry>,
    pub file: String,
}

/// Which way a packet crosses a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Inbound,
    Outbound,
}

impl Way {
    pub fn as_str(&self) -> &'static str {
        match self {
            Way::Inbound => "inbound",
            Way::Outbound => "outbound",
        }
    }
}

/// The other end of a packet as a filter sees it.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// The address block the packet's other end lies in (the analysis's uniform block).
    pub block: Ipv4Net,
    /// The security groups of the ENI at the other end, when a security-group reference can
    /// match it (same VPC, or across an active peering connection in the same Region); `None`
    /// when references cannot match (transit gateway, on premises, another Region).
    pub groups: Option<&'a [String]>,
}

/// What a set of security groups admits for one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgVerdict<'a> {
    /// The TCP destination ports admitted.
    pub ports: PortSet,
    /// The rules that admitted some of them (named in texts only when a text is kept).
    pub rules: Vec<Admitting<'a>>,
    /// Groups an ENI carries that the snapshot does not hold.
    pub missing_groups: Vec<String>,
    /// Prefix lists a rule names whose entries the snapshot does not hold.
    pub missing_prefix_lists: Vec<String>,
}

/// A rule of a group that admitted a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitting<'a> {
    pub group: &'a str,
    pub rule: &'a SgRule,
    pub way: Way,
}

impl fmt::Display for Admitting<'_> {
    /// `sg-… tcp/443 from 10.0.0.0/16`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.group,
            self.rule.describe(self.way == Way::Inbound)
        )
    }
}

/// The union of what `groups` admit `way` for `peer` (security groups only allow, and every
/// group of an ENI applies).
pub fn sg_admits<'a>(
    groups: &[String],
    all: &'a BTreeMap<String, SecurityGroup>,
    prefix_lists: &BTreeMap<String, Vec<Ipv4Net>>,
    way: Way,
    peer: Peer<'_>,
) -> SgVerdict<'a> {
    let mut verdict = SgVerdict::default();
    for id in groups {
        let Some(group) = all.get(id) else {
            verdict.missing_groups.push(id.clone());
            continue;
        };
        let rules = match way {
            Way::Inbound => &group.inbound,
            Way::Outbound => &group.outbound,
        };
        for rule in rules {
            if rule.protocol == Protocol::Other {
                continue;
            }
            let matches = match &rule.peer {
                SgPeer::Cidr(c) => cidr::contains(c, &peer.block),
                SgPeer::PrefixList(id) => match prefix_lists.get(id) {
                    Some(entries) => cidr::covered_by_any(entries, &peer.block),
                    None => {
                        if !verdict.missing_prefix_lists.contains(id) {
                            verdict.missing_prefix_lists.push(id.clone());
                        }
                        false
                    }
                },
                SgPeer::Group { group_id, .. } => {
                    peer.groups.is_some_and(|g| g.iter().any(|x| x == group_id))
                }
            };
            if matches {
                verdict.ports = verdict.ports.union(&rule.ports);
                verdict.rules.push(Admitting {
                    group: &group.id,
                    rule,
                    way,
                });
            }
        }
    }
    verdict
}

/// What a network ACL does with TCP packets to/from one peer block, port by port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclVerdict {
    /// Destination ports the ACL allows.
    pub allowed: PortSet,
    /// The deciding rule of each denied port range: `(ports, rule number or None for *)`.
    pub denied_by: Vec<(PortSet, Option<u32>)>,
}

impl AclVerdict {
    /// The lowest rule number that denies some of `ports` (`None` for the final `*` rule).
    pub fn first_deny(&self, ports: &PortSet) -> Option<Option<u32>> {
        self.denied_by
            .iter()
            .filter(|(p, _)| !p.intersect(ports).is_empty())
            .map(|(_, n)| *n)
            .min_by_key(|n| n.unwrap_or(u32::MAX))
    }
}

/// Evaluates a network ACL's `way` entries for TCP packets whose far end is `peer` (the source
/// inbound, the destination outbound): in rule-number order, the first entry matching protocol,
/// CIDR and destination port decides; the rest fall to the final `*` deny.
pub fn acl_admits(acl: &NetworkAcl, way: Way, peer: Ipv4Net) -> AclVerdict {
    let entries = match way {
        Way::Inbound => &acl.inbound,
        Way::Outbound => &acl.outbound,
    };
    let mut undecided = PortSet::all();
    let mut verdict = AclVerdict::default();
    for entry in entries {
        if entry.protocol == Protocol::Other || undecided.is_empty() {
            continue;
        }
        if !cidr::contains(&entry.cidr, &peer) {
            continue;
        }
        let decided = undecided.intersect(&entry.ports);
        if decided.is_empty() {
            continue;
        }
        undecided = undecided.difference(&decided);
        if entry.allow {
            verdict.allowed = verdict.allowed.union(&decided);
        } else {
            verdict.denied_by.push((decided, Some(entry.rule_number)));
        }
    }
    if !undecided.is_empty() {
        verdict.denied_by.push((undecided, None));
    }
    verdict
}

/// `count` free rule numbers below `before` (to insert allows ahead of a deny), else after the
/// highest rule below 32767; in increasing order.
pub fn free_rule_numbers(entries: &[AclEntry], before: Option<u32>, count: usize) -> Vec<u32> {
    let mut taken: Vec<AclEntry> = entries.to_vec();
    let mut out = Vec::new();
    for _ in 0..count {
        let n = free_rule_number(&taken, before);
        out.push(n);
        taken.push(AclEntry {
            rule_number: n,
            protocol: Protocol::Other,
            ports: PortSet::empty(),
            cidr: Ipv4Net::default(),
            allow: true,
        });
    }
    out.sort_unstable();
    out
}

/// The lowest free rule number below `before` (to insert an allow ahead of a deny), else the
/// next free number after the highest rule below 32767.
pub fn free_rule_number(entries: &[AclEntry], before: Option<u32>) -> u32 {
    let used = |n: u32| entries.iter().any(|e| e.rule_number == n);
    if let Some(limit) = before {
        // Leave room: the number halfway to the previous rule, else any free one below.
        let previous = entries
            .iter()
            .map(|e| e.rule_number)
            .filter(|&n| n < limit)
            .max()
            .unwrap_or(0);
        let middle = previous + (limit - previous) / 2;
        if middle > previous && !used(middle) {
            return middle;
        }
        if let Some(n) = (1..limit).rev().find(|&n| !used(n)) {
            return n;
        }
    }
    let highest = entries
        .iter()
        .map(|e| e.rule_number)
        .filter(|&n| n < 32767)
        .max()
        .unwrap_or(0);
    (highest + 1..32767).find(|&n| !used(n)).unwrap_or(32766)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(set: &PortSet) -> Vec<bool> {
        (0..=65535u32).map(|p| set.contains(p as u16)).collect()
    }

    fn arb_set() -> impl Strategy<Value = PortSet> {
        let small = proptest::collection::vec((0u16..2000, 0u16..300), 0..5);
        // Ranges anywhere, up to every port (the shortcuts for `all` included).
        let wide = proptest::collection::vec((any::<u16>(), any::<u16>()), 0..4);
        prop_oneof![small, wide, Just(vec![(0, u16::MAX)])].prop_map(|ranges| {
            ranges.into_iter().fold(PortSet::empty(), |s, (a, len)| {
                s.union(&PortSet::range(a, a.saturating_add(len)))
            })
        })
    }

    proptest! {
        #[test]
        fn port_set_algebra_matches_brute_force(a in arb_set(), b in arb_set()) {
            let (x, y) = (brute(&a), brute(&b));
            let union: Vec<bool> = x.iter().zip(&y).map(|(p, q)| *p || *q).collect();
            let inter: Vec<bool> = x.iter().zip(&y).map(|(p, q)| *p && *q).collect();
            let diff: Vec<bool> = x.iter().zip(&y).map(|(p, q)| *p && !*q).collect();
            prop_assert_eq!(brute(&a.union(&b)), union);
            prop_assert_eq!(brute(&a.intersect(&b)), inter);
            prop_assert_eq!(brute(&a.difference(&b)), diff);
            // Canonical: no empty, overlapping or adjacent ranges.
            for set in [a.union(&b), a.intersect(&b), a.difference(&b)] {
                for w in set.ranges().windows(2) {
                    prop_assert!(u32::from(w[0].1) + 1 < u32::from(w[1].0));
                }
            }
        }
    }

    fn entry(n: u32, allow: bool, cidr: &str, ports: Option<(u16, u16)>) -> AclEntry {
        AclEntry {
            rule_number: n,
            protocol: if ports.is_some() {
                Protocol::Tcp
            } else {
                Protocol::All
            },
            ports: ports.map_or_else(PortSet::all, |(a, b)| PortSet::range(a, b)),
            cidr: cidr.parse().expect("test CIDR"),
            allow,
        }
    }

    #[test]
    fn acl_first_match_decides_a_deny_before_an_allow() {
        let acl = NetworkAcl {
            id: "acl-1".into(),
            vpc_id: "vpc-1".into(),
            inbound: vec![
                entry(90, false, "10.0.1.0/24", Some((5432, 5432))),
                entry(100, true, "10.0.0.0/16", None),
            ],
            outbound: vec![],
            file: "f".into(),
        };
        let v = acl_admits(&acl, Way::Inbound, "10.0.1.0/24".parse().expect("cidr"));
        assert!(!v.allowed.contains(5432));
        assert!(v.allowed.contains(443));
        assert_eq!(v.first_deny(&PortSet::range(5432, 5432)), Some(Some(90)));
        let other = acl_admits(&acl, Way::Inbound, "10.0.2.0/24".parse().expect("cidr"));
        assert!(other.allowed.contains(5432));
        let outside = acl_admits(&acl, Way::Inbound, "10.9.0.0/24".parse().expect("cidr"));
        assert!(outside.allowed.is_empty());
        assert_eq!(outside.first_deny(&PortSet::all()), Some(None));
    }

    #[test]
    fn a_free_rule_number_goes_before_the_deny() {
        let entries = vec![
            entry(100, false, "0.0.0.0/0", None),
            entry(200, true, "0.0.0.0/0", None),
        ];
        let n = free_rule_number(&entries, Some(100));
        assert!(n < 100 && n > 0);
        assert_eq!(free_rule_number(&entries, None), 201);
    }
}
