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

use crate::filters::{PortSet, Way};
use crate::report::{Cause, Direction, Remediation};
use crate::verdict::{ClusterVerdicts, FilterFix, FilterOutcome, SourceAtPeer};

use super::remediation::Witness;

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
                .map(|(a, b)| {
                    format!(
                        "IpProtocol=tcp,FromPort={a},ToPort={b},IpRanges=[{{CidrIp={cidr},Description=podreach}}]"
                    )
                })
                .collect();
            Remediation {
                action: format!(
                    "allow {} {ports} {} {cidr} in security group {group_id}",
                    way.as_str(),
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
            rule_number,
        } => {
            let flag = match way {
                Way::Inbound => "--ingress",
                Way::Outbound => "--egress",
            };
            let commands: Vec<String> = ranges(ports)
                .enumerate()
                .map(|(i, (a, b))| {
                    format!(
                        "aws ec2 create-network-acl-entry --network-acl-id {acl_id} {flag} --rule-number {} --protocol tcp --port-range From={a},To={b} --cidr-block {cidr} --rule-action allow",
                        rule_number.saturating_sub(u32::try_from(i).unwrap_or(0))
                    )
                })
                .collect();
            Remediation {
                action: format!(
                    "allow {} {ports} {} {cidr} in network ACL {acl_id} with rule {rule_number}, numbered before the rule that denies it",
                    way.as_str(),
                    if *way == Way::Inbound { "from" } else { "to" }
                ),
                command: Some(commands.join(" && ")),
                breaks: Vec::new(),
            }
        }
    }
}

/// Every port range of a set (a set is never empty here; an empty one gives no rule).
fn ranges(ports: &PortSet) -> impl Iterator<Item = (u16, u16)> + '_ {
    ports.ranges().iter().map(|&(a, b)| (a.max(1), b))
}

/// The fixes of a finding whose cause is a filter: the rule of every witness's blocked filter
/// with that cause.
pub(crate) fn filter_remediation(cause: Cause, witnesses: &[Witness<'_>]) -> Vec<Remediation> {
    let mut fixes: Vec<Remediation> = Vec::new();
    for w in witnesses {
        let Some(filter) = &w.evaluation.filter else {
            continue;
        };
        for (code, fix) in &filter.blocked {
            if *code == cause {
                super::remediation::push_once(&mut fixes, command(fix));
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
    super::remediation::push_once(fixes, fix);
    for mut rule in rules {
        rule.action = format!("before that: {}", rule.action);
        super::remediation::push_once(fixes, rule);
    }
}
