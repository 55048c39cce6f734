//! The fixes of filter findings, and the check that keeps a SNAT remediation from breaking a flow.
//!
//! A blocked filter is recorded by the analysis as a typed rule ([`FilterFix`]): the group or
//! ACL, the way, the CIDR the filter saw and the TCP ports. This module writes the exact
//! `aws ec2 authorize-security-group-ingress|egress` or `aws ec2 create-network-acl-entry`
//! command for it. It also answers the question every SNAT remediation raises: podreach's
//! own advice ("exempt 10.1.0.0/16 from SNAT", "set EXTERNALSNAT=true", "keep it SNATed")
//! changes the source the far side sees, and the far side's filters often admit only one of
//! the node and pod subnets. [`check_source_change`] reads the pod-initiated verdict's
//! [`crate::verdict::Evaluation::source_swap`] (the same filters for the other source) and, when
//! the change would block the flow, says so on the fix and lists the rules to add first.

use ipnet::Ipv4Net;

use crate::filters::{PortSet, Way};
use crate::report::{Cause, Direction, Remediation};
use crate::verdict::{ClusterVerdicts, FilterFix, FilterOutcome, SourceAtPeer};

use super::witness::{Witness, push_once};

/// The command that adds `fix`, one rule per port range.
pub(crate) fn command(fix: &FilterFix) -> Remediation {
    match fix {
        FilterFix::SecurityGroup {
            group_id,
            way,
            cidr,
            ports,
        } => {
            let verb = match way {
                Way::Inbound => "authorize-security-group-ingress",
                Way::Outbound => "authorize-security-group-egress",
            };
            let permissions: Vec<String> = ranges(ports)
                .into_iter()
                .map(|(a, b)| {
                    format!(
                        "IpProtocol=tcp,FromPort={a},ToPort={b},IpRanges=[{{CidrIp={cidr},Description=podreach}}]"
                    )
                })
                .collect();
            Remediation {
                action: format!(
                    "allow {} {} {} {cidr} in security group {group_id}",
                    way.as_str(),
                    ports_phrase(ports),
                    if *way == Way::Inbound { "from" } else { "to" }
                ),
                command: Some(format!(
                    "aws ec2 {verb} --group-id {group_id} --ip-permissions {}",
                    permissions.join(" ")
                )),
                breaks: Vec::new(),
            }
        }
        FilterFix::Acl {
            acl_id,
            way,
            cidr,
            ports,
            rule_numbers,
        } => {
            let flag = match way {
                Way::Inbound => "--ingress",
                Way::Outbound => "--egress",
            };
            let commands: Vec<String> = ranges(ports)
                .into_iter()
                .enumerate()
                .map(|(i, (a, b))| {
                    let number = rule_numbers
                        .get(i)
                        .map_or_else(|| "<free rule number>".to_owned(), ToString::to_string);
                    format!(
                        "aws ec2 create-network-acl-entry --network-acl-id {acl_id} {flag} --rule-number {number} --protocol tcp --port-range From={a},To={b} --cidr-block {cidr} --rule-action allow"
                    )
                })
                .collect();
            Remediation {
                action: format!(
                    "allow {} {} {} {cidr} in network ACL {acl_id} with rule {}, numbered before the rule that denies it",
                    way.as_str(),
                    ports_phrase(ports),
                    if *way == Way::Inbound { "from" } else { "to" },
                    rule_numbers
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                command: Some(commands.join(" && ")),
                breaks: Vec::new(),
            }
        }
    }
}

/// `true` for the whole port range: what is recorded when no `--port` was given and nothing
/// passes. podreach does not know the service's port then, and opening every port is no fix.
fn every_port(ports: &PortSet) -> bool {
    ports.covers(&PortSet::range(1, 65535))
}

fn ports_phrase(ports: &PortSet) -> String {
    if every_port(ports) {
        "the TCP port your service uses (rerun with --port tcp/N for the exact rule)".to_owned()
    } else {
        ports.to_string()
    }
}

/// Every port range of a set, or `<port>` for the whole range (see [`every_port`]).
fn ranges(ports: &PortSet) -> Vec<(String, String)> {
    if every_port(ports) {
        return vec![("<port>".to_owned(), "<port>".to_owned())];
    }
    ports
        .ranges()
        .iter()
        .map(|&(a, b)| (a.max(1).to_string(), b.to_string()))
        .collect()
}

/// The fixes of a finding whose cause is a filter: the rule of every witness's blocked filter
/// with that cause. A witness stands for every ENI of its class, whose subnets the analysis
/// grouped under one representative, so a rule naming the witness's own source subnet is
/// written once per subnet the finding's sources (`source_cidrs`) really lie in.
pub(crate) fn filter_remediation(
    v: &ClusterVerdicts<'_>,
    cause: Cause,
    witnesses: &[Witness<'_>],
    source_cidrs: &[Ipv4Net],
) -> Vec<Remediation> {
    let mut fixes: Vec<Remediation> = Vec::new();
    for w in witnesses {
        let Some(filter) = &w.evaluation.filter else {
            continue;
        };
        let own = [&w.class.node_subnet, &w.class.eni_subnet]
            .into_iter()
            .filter_map(|s| v.net.subnets.get(s.as_str()).map(|s| s.cidr))
            .collect::<Vec<_>>();
        for (code, fix) in &filter.blocked {
            if *code != cause {
                continue;
            }
            let cidr = match fix {
                FilterFix::SecurityGroup { cidr, .. } | FilterFix::Acl { cidr, .. } => *cidr,
            };
            if own.contains(&cidr) && !source_cidrs.is_empty() {
                for source in source_cidrs {
                    let mut each = fix.clone();
                    match &mut each {
                        FilterFix::SecurityGroup { cidr, .. } | FilterFix::Acl { cidr, .. } => {
                            *cidr = *source;
                        }
                    }
                    push_once(&mut fixes, command(&each));
                }
            } else {
                push_once(&mut fixes, command(fix));
            }
        }
    }
    fixes
}

/// Checks a fix that makes the far side see `new_source` for the witnesses' destinations
/// (pod-initiated connections): when the far side's filters would not admit it, the fix says
/// so in `breaks`, and the rules that admit the new source follow it in `fixes`.
pub(crate) fn check_source_change(
    v: &ClusterVerdicts<'_>,
    witnesses: &[Witness<'_>],
    new_source: SourceAtPeer,
    mut fix: Remediation,
    fixes: &mut Vec<Remediation>,
) {
    let mut rules = Vec::new();
    for w in witnesses {
        let Some(class) = v.classes.iter().position(|c| c == w.class) else {
            continue;
        };
        let egress = v.evaluation(class, w.block.destination, Direction::PodToPeer);
        let outcome: Option<&FilterOutcome> = if egress.source == new_source {
            egress.filter.as_ref()
        } else {
            egress.source_swap.as_deref()
        };
        let Some(outcome) = outcome else {
            continue;
        };
        let seen = match new_source {
            SourceAtPeer::NodeIp => "the node IPs",
            SourceAtPeer::PodIp => "the pod addresses",
        };
        for (code, blocked) in &outcome.blocked {
            let what = match blocked {
                FilterFix::SecurityGroup { group_id, .. } => format!("security group {group_id}"),
                FilterFix::Acl { acl_id, .. } => format!("network ACL {acl_id}"),
            };
            let line = format!(
                "after this change the far side sees {seen}; {what} does not admit them ({code}) for {}",
                w.block.block
            );
            if !fix.breaks.contains(&line) {
                fix.breaks.push(line);
            }
            let rule = command(blocked);
            if !rules
                .iter()
                .any(|r: &Remediation| r.command == rule.command)
            {
                rules.push(rule);
            }
        }
    }
    if !fix.breaks.is_empty() {
        fix.action.push_str(" — WARNING: this alone would break the flow (see `breaks`); add the rules listed next first");
    }
    push_once(fixes, fix);
    for mut rule in rules {
        rule.action = format!("before that: {}", rule.action);
        push_once(fixes, rule);
    }
}
