//! Security groups and network ACLs as kernel state in the fabric (docs/datapath.md §5.7).
//!
//! The lab's reading of the two filters, written from the AWS documentation and not from the
//! model's rule logic (`podreach_core::filters` evaluates; this module only reads the snapshot's
//! types):
//!
//! * **Security groups** sit on each ENI's link: on the VPC router for the node's ENIs, on the
//!   remote router for a probe host standing for a far ENI. A packet leaving the ENI must match
//!   an outbound rule of one of its groups, a packet entering it an inbound rule. They are
//!   stateful *per ENI*: a connection admitted on an ENI gets that ENI's connection mark, and
//!   only packets of a connection carrying the same ENI's mark pass without rules. A reply that
//!   crosses another ENI than the one the connection was admitted on is judged by that ENI's
//!   rules, as EC2 does (it tracks connections per network interface). A rule naming a security
//!   group matches the addresses of the lab's ENIs carrying that group (a reference crosses only
//!   an active peering connection within one Region); a rule naming a prefix list, its entries.
//! * **Network ACLs** sit on the same links, per subnet: outbound rules judge packets leaving
//!   the ENI's subnet by destination, inbound rules packets entering it by source, in rule-number
//!   order; the first match decides and the final `*` rule denies. Stateless: replies are judged
//!   like any packet.
//!
//! Every drop is a counted rule whose comment names the group or ACL rule, so the lab's evidence
//! says which filter stopped a probe. Without `describe-security-groups` (or
//! `describe-network-acls`) output the filter is not built: everything passes, as the model
//! assumes.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use podreach_core::filters::{AclEntry, Protocol, SgPeer};
use podreach_core::model::Network;

/// One allow rule of a security group, with its peers resolved to addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// `None`: every protocol and port; else the TCP destination ports.
    pub tcp_ports: Option<Vec<(u16, u16)>>,
    pub peers: Vec<Ipv4Net>,
    /// `sg-… tcp/443 from 10.0.0.0/16`, for texts.
    pub rule: String,
}

/// The security groups of one ENI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgSpec {
    pub groups: Vec<String>,
    pub inbound: Vec<Allow>,
    pub outbound: Vec<Allow>,
}

/// The network ACL of one subnet, in rule-number order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclSpec {
    pub id: String,
    pub inbound: Vec<AclEntry>,
    pub outbound: Vec<AclEntry>,
}

/// The filters on one link; `None` parts are not built (everything passes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSpec {
    pub sg: Option<SgSpec>,
    pub acl: Option<AclSpec>,
}

/// An ENI of the lab, for resolving group references: its addresses and groups.
#[derive(Debug, Clone)]
pub struct Holder {
    pub addresses: Vec<Ipv4Net>,
    pub groups: Vec<String>,
    /// `true` for the node's ENIs (the cluster VPC), `false` for far ENIs.
    pub near: bool,
}

/// The security groups of an ENI carrying `groups`, its peers resolved against `holders`.
/// `references_cross`: whether a group reference reaches ENIs of the other side.
pub fn security_groups(
    net: &Network,
    groups: &[String],
    near: bool,
    holders: &[Holder],
    references_cross: bool,
) -> Option<SgSpec> {
    let all = net.security_groups.as_ref()?;
    let mut spec = SgSpec {
        groups: groups.to_vec(),
        inbound: Vec::new(),
        outbound: Vec::new(),
    };
    for id in groups {
        let Some(group) = all.get(id) else {
            continue; // the model says unknown; nothing to compare
        };
        for (rules, out, inbound) in [
            (&group.inbound, &mut spec.inbound, true),
            (&group.outbound, &mut spec.outbound, false),
        ] {
            for rule in rules {
                let tcp_ports = match rule.protocol {
                    Protocol::All => None,
                    Protocol::Tcp => Some(rule.ports.ranges().to_vec()),
                    Protocol::Other => continue,
                };
                let peers: Vec<Ipv4Net> = match &rule.peer {
                    SgPeer::Cidr(c) => vec![*c],
                    SgPeer::PrefixList(pl) => net.prefix_lists.get(pl).cloned().unwrap_or_default(),
                    SgPeer::Group { group_id, .. } => holders
                        .iter()
                        .filter(|h| h.near == near || references_cross)
                        .filter(|h| h.groups.contains(group_id))
                        .flat_map(|h| h.addresses.iter().copied())
                        .collect(),
                };
                if peers.is_empty() {
                    continue;
                }
                out.push(Allow {
                    tcp_ports,
                    peers,
                    rule: format!("{id} {}", rule.describe(inbound)),
                });
            }
        }
    }
    Some(spec)
}

/// The network ACL of `subnet`, when the snapshot holds the ACLs.
pub fn network_acl(net: &Network, subnet: &str) -> Option<AclSpec> {
    let acl = net.acl_of_subnet(subnet)?;
    Some(AclSpec {
        id: acl.id.clone(),
        inbound: acl.inbound.clone(),
        outbound: acl.outbound.clone(),
    })
}

/// Quotes a comment for `iptables-restore` (no double quotes inside, ≤ 250 bytes).
fn comment(text: &str) -> String {
    let mut t: String = text.replace('"', "'");
    t.truncate(250);
    format!("-m comment --comment \"{t}\"")
}

/// `-p tcp --dport a:b` forms of a port list (`[""]` for every protocol).
fn matches(tcp_ports: Option<&[(u16, u16)]>) -> Vec<String> {
    match tcp_ports {
        None => vec![String::new()],
        Some(ranges) => ranges
            .iter()
            .map(|(a, b)| format!("-p tcp --dport {a}:{b} "))
            .collect(),
    }
}

/// The bit of the packet mark a rule of the chain sets when some rule allows the packet.
const ALLOWED: u32 = 0x100;

/// Chains and `FORWARD` jumps that enforce `filters` on `link` (the fabric's end of an ENI's
/// link, or of a probe host's). `mark` (1..=255) is the connection mark of connections admitted
/// on this ENI; `who` names the ENI in drop comments. Returns `(chains, rules)`; the jumps come
/// first in `rules` and must precede the fabric's own drop and count rules.
pub fn iptables(
    link: &str,
    mark: u32,
    who: &str,
    filters: &FilterSpec,
) -> (Vec<String>, Vec<String>) {
    let mut chains = Vec::new();
    let mut jumps = Vec::new();
    let mut body = Vec::new();
    if let Some(acl) = &filters.acl {
        // Leaving the subnet: outbound rules, by destination; entering: inbound, by source.
        for (way, entries, dir, flag) in [
            ("OUT", &acl.outbound, "-i", "-d"),
            ("IN", &acl.inbound, "-o", "-s"),
        ] {
            let chain = format!("NACL{way}-{link}");
            jumps.push(format!("-A FORWARD {dir} {link} -j {chain}"));
            for e in entries {
                let tcp = match e.protocol {
                    Protocol::All => None,
                    Protocol::Tcp => Some(e.ports.ranges()),
                    Protocol::Other => continue,
                };
                for m in matches(tcp) {
                    let verdict = if e.allow {
                        "-j RETURN".to_owned()
                    } else {
                        format!(
                            "{} -j DROP",
                            comment(&format!(
                                "network ACL {} {} rule {} denies it ({who})",
                                acl.id,
                                if way == "OUT" { "outbound" } else { "inbound" },
                                e.rule_number
                            ))
                        )
                    };
                    body.push(format!("-A {chain} {m}{flag} {} {verdict}", e.cidr));
                }
            }
            body.push(format!(
                "-A {chain} {} -j DROP",
                comment(&format!(
                    "network ACL {} {}: the final * rule denies it ({who})",
                    acl.id,
                    if way == "OUT" { "outbound" } else { "inbound" }
                ))
            ));
            chains.push(chain);
        }
    }
    if let Some(sg) = &filters.sg {
        for (way, allows, dir, flag, code) in [
            ("OUT", &sg.outbound, "-i", "-d", "outbound"),
            ("IN", &sg.inbound, "-o", "-s", "inbound"),
        ] {
            let chain = format!("SG{way}-{link}");
            jumps.push(format!("-A FORWARD {dir} {link} -j {chain}"));
            // A connection admitted on this ENI passes without rules.
            body.push(format!(
                "-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -m connmark --mark {mark}/0xff -j RETURN"
            ));
            for allow in allows {
                for m in matches(allow.tcp_ports.as_deref()) {
                    for peer in &allow.peers {
                        body.push(format!(
                            "-A {chain} {m}{flag} {peer} -j MARK --set-xmark {ALLOWED:#x}/{ALLOWED:#x}"
                        ));
                    }
                }
            }
            body.push(format!(
                "-A {chain} -m mark ! --mark {ALLOWED:#x}/{ALLOWED:#x} {} -j DROP",
                comment(&format!(
                    "security groups {} ({who}): no {code} rule allows it",
                    sg.groups.join(", ")
                ))
            ));
            body.push(format!(
                "-A {chain} -m conntrack --ctstate NEW -j CONNMARK --set-xmark {mark}/0xff"
            ));
            body.push(format!("-A {chain} -j MARK --set-xmark 0x0/{ALLOWED:#x}"));
            chains.push(chain);
        }
    }
    jumps.extend(body);
    (chains, jumps)
}

/// The addresses of an ENI as `Holder` addresses.
pub fn addresses(primary: Ipv4Addr, owned: &[Ipv4Net]) -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = owned.to_vec();
    let primary = Ipv4Net::from(primary);
    if !out.contains(&primary) {
        out.push(primary);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use podreach_core::filters::PortSet;

    #[test]
    fn an_acl_is_a_chain_in_rule_order_ending_in_the_star_deny() {
        let deny = AclEntry {
            rule_number: 50,
            protocol: Protocol::Tcp,
            ports: PortSet::range(5432, 5432),
            cidr: "10.1.0.0/16".parse().expect("cidr"),
            allow: false,
        };
        let allow = AclEntry {
            rule_number: 100,
            protocol: Protocol::All,
            ports: PortSet::all(),
            cidr: "0.0.0.0/0".parse().expect("cidr"),
            allow: true,
        };
        let spec = FilterSpec {
            sg: None,
            acl: Some(AclSpec {
                id: "acl-1".into(),
                inbound: vec![],
                outbound: vec![deny, allow],
            }),
        };
        let (chains, rules) = iptables("n0", 1, "eth0", &spec);
        assert_eq!(chains, ["NACLOUT-n0", "NACLIN-n0"]);
        let out: Vec<&String> = rules
            .iter()
            .filter(|r| r.starts_with("-A NACLOUT-n0"))
            .collect();
        assert!(
            out[0].contains("--dport 5432:5432 -d 10.1.0.0/16")
                && out[0].contains("rule 50 denies")
        );
        assert!(out[1].ends_with("-d 0.0.0.0/0 -j RETURN"));
        assert!(out[2].contains("final * rule"));
    }

    #[test]
    fn a_group_passes_its_own_connections_and_judges_others_by_its_rules() {
        let spec = FilterSpec {
            sg: Some(SgSpec {
                groups: vec!["sg-1".into()],
                inbound: vec![Allow {
                    tcp_ports: Some(vec![(5432, 5432)]),
                    peers: vec!["10.1.0.0/16".parse().expect("cidr")],
                    rule: "sg-1 tcp/5432 from 10.1.0.0/16".into(),
                }],
                outbound: vec![],
            }),
            acl: None,
        };
        let (chains, rules) = iptables("n1", 2, "eth1", &spec);
        assert_eq!(chains, ["SGOUT-n1", "SGIN-n1"]);
        let inbound: Vec<&String> = rules
            .iter()
            .filter(|r| r.starts_with("-A SGIN-n1"))
            .collect();
        // Tracked on this ENI (mark 2) first, then the rule, then the counted drop, then the mark.
        assert!(
            inbound[0]
                .contains("--ctstate ESTABLISHED,RELATED -m connmark --mark 2/0xff -j RETURN")
        );
        assert!(inbound[1].contains("-p tcp --dport 5432:5432 -s 10.1.0.0/16 -j MARK"));
        assert!(inbound[2].contains("no inbound rule") && inbound[2].ends_with("-j DROP"));
        assert!(inbound[3].contains("--ctstate NEW -j CONNMARK --set-xmark 2/0xff"));
        // No outbound rule: everything leaving is dropped unless tracked on this ENI.
        let outbound: Vec<&String> = rules
            .iter()
            .filter(|r| r.starts_with("-A SGOUT-n1"))
            .collect();
        assert!(outbound[1].contains("no outbound rule"));
    }
}
