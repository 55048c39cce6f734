//! The security-group checks of docs/datapath.md §5.7: one ENI's groups (near, or a far
//! endpoint's) for a forward packet, and a near ENI's groups for a reply that has no tracked
//! connection. Stateful groups admit replies of what they admitted; what the snapshot lacks (a
//! group, a prefix list, whether a reference crosses) makes a check unknown, never a drop.

use super::*;

/// One security-group check: whose groups, which way, and the other end as the groups see it.
pub(super) struct SgCheck<'c> {
    pub(super) at: &'static str,
    pub(super) code: Cause,
    /// How texts name the ENI (`{eni}`, or a far ENI with its VPC).
    pub(super) eni: &'c dyn fmt::Display,
    pub(super) groups: &'c [String],
    pub(super) way: Way,
    /// The other end's address block.
    pub(super) block: Ipv4Net,
    /// The group sets the other end may carry, and whether references reach them.
    pub(super) peers: &'c PeerGroups,
    pub(super) peer_label: &'c dyn fmt::Display,
    /// The CIDR a fix admits.
    pub(super) fix_cidr: Ipv4Net,
}

impl ClusterContext<'_> {
    /// A security-group check of one ENI (near, or a far endpoint) for a forward packet. The
    /// ports admitted are those every peer group set gets. When the check would drop ports but
    /// depends on what the snapshot lacks (a group, a prefix list, or whether a reference
    /// crosses), it is unknown, never a drop; when it admits them anyway, what is missing is
    /// only noted.
    pub(super) fn sg_step(&self, run: &mut Run<'_>, check: SgCheck<'_>) {
        let SgCheck {
            at,
            code,
            eni,
            groups,
            way,
            block,
            peers,
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
                || format!("the snapshot does not list the security groups of {eni} (`Groups` of describe-network-interfaces)"),
            );
            return;
        }
        let admits = |sets: &[Option<Vec<String>>]| {
            let mut admitted = PortSet::all();
            let mut rules = Vec::new();
            let mut missing: BTreeSet<String> = BTreeSet::new();
            for peer in sets {
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
            (admitted, rules, missing)
        };
        let (admitted, rules, mut missing) = admits(&peers.sets);
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
        // Whether references cross matters only when the check's outcome differs between the
        // two (docs/datapath.md §5.7): the same ports lost and the same ports left in flight.
        let undecided = match (&peers.undecided, groups.iter().any(references)) {
            (Some((why, crossing)), true) => {
                let same_either_way = crossing.as_deref().is_some_and(|crossing| {
                    let (if_crossing, _, missing_if_crossing) = admits(crossing);
                    missing.extend(missing_if_crossing);
                    run.lost(&if_crossing) == run.lost(&admitted)
                        && run.remaining.intersect(&if_crossing)
                            == run.remaining.intersect(&admitted)
                });
                if same_either_way {
                    run.trace.assume(format!(
                        "{why}; the groups of {eni} decide the same whether references cross or not"
                    ));
                    None
                } else {
                    Some(format!(
                        "a rule of {eni}'s groups names a security group, and {why}"
                    ))
                }
            }
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
                || format!("whether the security groups of {eni} allow {} {peer_label} depends on what podreach cannot see: {}", way.as_str(), why.join("; ")),
            );
            return;
        }
        if !missing.is_empty() {
            run.trace.assume(format!(
                "{} named by {eni}'s groups not in the snapshot; the rules present already admit the flow",
                missing.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        // Named only in a text or a fix that is kept.
        let group_list = || groups.join(", ");
        let first_group = || groups.first().cloned().unwrap_or_default();
        let dir = way.as_str();
        let to_from = if way == Way::Inbound { "from" } else { "to" };
        run.forward(
            at,
            code,
            &admitted,
            |ports| {
                format!(
                    "security groups of {eni} ({}) allow {dir} {ports} {to_from} {peer_label}: {}",
                    group_list(),
                    rules
                        .iter()
                        .map(ToString::to_string)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
            |missing| {
                format!(
                    "security groups of {eni} ({}) do not allow {dir} {missing} {to_from} {peer_label}{}",
                    group_list(),
                    if admitted.is_empty() { String::new() } else { format!(" (they allow {admitted})") }
                )
            },
            |ports| FilterFix::SecurityGroup {
                group_id: first_group(),
                way,
                cidr: fix_cidr,
                ports: ports.clone(),
            },
        );
    }

    /// A near security group for a reply on an ENI with no tracked connection.
    pub(super) fn sg_reply(
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
                || format!("the snapshot does not list the security groups of {eni} (`Groups` of describe-network-interfaces)"),
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
        // Named only in a text or a fix that is kept.
        let group_list = || groups.join(", ");
        let first_group = || groups.first().cloned().unwrap_or_default();
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
                || format!("the reply crosses {eni}, which tracks no connection for it; whether its groups allow it depends on {}, not in the snapshot", unseen.join(", ")),
            );
            return;
        }
        if missing.is_empty() {
            run.trace.pass(
                "node",
                || format!("the reply crosses {eni}, which tracks no connection for it; its security groups ({}) allow {dir} {needed} for {d}", group_list()),
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
                || format!("the reply crosses {eni}, which tracks no connection for it (the request used another ENI): its security groups ({}) do not allow {dir} {missing} for {d}", group_list()),
            );
            run.blocked.push((
                code,
                FilterFix::SecurityGroup {
                    group_id: first_group(),
                    way,
                    cidr: d,
                    ports: needed,
                },
            ));
        }
    }
}
