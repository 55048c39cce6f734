//! Findings: the verdict matrix aggregated by root cause, with severity, a stable id and fixes.
//!
//! A platform team wants one finding per problem, not one per pod or per route: one setting
//! (say `AWS_VPC_CNI_NODE_PORT_SUPPORT=false`) that breaks 100 routes is one finding per
//! direction and kind, with the 100 destinations listed inside it. Verdicts are grouped by
//! kind × direction × first cause, straight from the matrix (ENI classes × destination classes),
//! so the work grows with classes and routes, not with addresses × routes. Each finding names
//! whom it affects (nodes, ENIs, pod addresses as ranges, pod names). The id hashes only what
//! identifies the problem (cluster, cause, direction, kind): never a destination, so adding or
//! removing a route does not change it, and never an ENI id. Remediation comes from
//! [`remediation`], the words from [`text`]. This module reads `crate::verdict` only; it does
//! not know how the verdicts were computed.

mod filter_fixes;
mod remediation;
mod text;
mod tgw_fixes;
mod witness;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use crate::cidr;
use crate::model::kube::{Workload, workload};
use crate::report::{
    Affected, Cause, Direction, Finding, FindingKind, Severity, Verdict, WorkloadCount,
};
use crate::verdict::{ClusterVerdicts, DIRECTIONS, SourceAtPeer, Subject};

use remediation::remediation;
use witness::Witness;

/// The most addresses and pod names a finding lists one by one; the rest are counted (every
/// address is still in `pod_address_ranges`).
pub const LIST_LIMIT: usize = 1000;

/// A stable finding id: `PR-` and 16 hex digits of SHA-256 over the identifying fields.
pub fn finding_id(cluster: &str, cause: Cause, direction: Direction, kind: FindingKind) -> String {
    let mut hasher = Sha256::new();
    for part in [cluster, cause.code(), direction.as_str(), kind.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("PR-{hex}")
}

/// Subjects of one ENI class, split by whether a pod uses their addresses today.
#[derive(Debug, Default)]
struct Members {
    /// `[in use, idle]`: indices into `ClusterVerdicts::subjects`.
    parts: [Vec<usize>; 2],
    /// Pod addresses of each part.
    addresses: [usize; 2],
}

const IN_USE: usize = 0;
const IDLE: usize = 1;

/// One finding under construction.
#[derive(Debug, Default)]
struct Group<'v> {
    /// `(class, part)` pairs the finding affects.
    members: BTreeSet<(usize, usize)>,
    /// Per destination route: the `(class, part)` pairs failing for it, and a witness path.
    routes: BTreeMap<Ipv4Net, (BTreeSet<(usize, usize)>, Witness<'v>)>,
    /// Classes of the secondary ENI nodes would get next that fail (latent risk only).
    hypothetical: BTreeSet<usize>,
}

/// Builds the findings of one analysed cluster from its verdict matrix.
pub fn findings(v: &ClusterVerdicts<'_>) -> Vec<Finding> {
    let members = members(v);
    let total: usize = members
        .iter()
        .map(|m| m.addresses[0] + m.addresses[1])
        .sum();
    let mut groups: BTreeMap<(FindingKind, Direction, Cause), Group<'_>> = BTreeMap::new();
    for (class, m) in members.iter().enumerate() {
        for block in &v.blocks {
            for direction in DIRECTIONS {
                let evaluation = v.for_block(class, block, direction);
                let Some(cause) = evaluation.cause() else {
                    continue;
                };
                for part in [IN_USE, IDLE] {
                    if m.parts[part].is_empty() {
                        continue;
                    }
                    let kind = match (evaluation.verdict, part) {
                        (Verdict::Unreachable, IN_USE) => FindingKind::Unreachable,
                        (Verdict::Unreachable, _) => FindingKind::LatentRisk,
                        (Verdict::Unknown, _) => FindingKind::Unverified,
                        (Verdict::Reachable, _) => continue,
                    };
                    let group = groups.entry((kind, direction, cause)).or_default();
                    group.members.insert((class, part));
                    let witness = Witness {
                        class: &v.classes[class],
                        block,
                        evaluation,
                    };
                    group
                        .routes
                        .entry(block.route)
                        .or_insert_with(|| (BTreeSet::new(), witness))
                        .0
                        .insert((class, part));
                }
            }
        }
    }
    latent(v, &mut groups);

    // Each finding lists its nodes, ENIs and address ranges (tens of thousands in a big
    // cluster): they are built side by side, in key order all the same.
    let groups: Vec<_> = groups.into_iter().collect();
    let parallel = v.subjects.len() >= PARALLEL_FROM_SUBJECTS;
    crate::par::map_ordered(&groups, parallel, |((kind, direction, cause), group)| {
        finding(v, &members, total, *kind, *direction, *cause, group)
    })
}

/// Below this many subjects, one thread builds every finding (a thread costs more than it saves).
const PARALLEL_FROM_SUBJECTS: usize = 2_000;

/// The distinct values of `items`, which repeat a few values many times (a role or a subnet
/// per ENI): inserted one by one, never sorted all together.
fn distinct<'s>(items: impl Iterator<Item = &'s str>) -> BTreeSet<&'s str> {
    // Subjects come in node order, so a value mostly repeats the one before it: comparing with
    // it first (and hashing the rest) keeps a finding over 15,000 ENIs off the ordered set.
    let mut seen: crate::FastSet<&str> = crate::FastSet::default();
    let mut last: &str = "";
    for item in items {
        // The same field of the same object (a node's primary ENI): no bytes to compare; else
        // the same text as the one before (the next ENI's subnet): a compare, not a hash.
        if !std::ptr::eq(last, item) && last != item {
            seen.insert(item);
            last = item;
        }
    }
    seen.into_iter().collect()
}

/// Classes' subjects with pod addresses, split into in use and idle. Without a pods dump every
/// address counts as in use.
fn members(v: &ClusterVerdicts<'_>) -> Vec<Members> {
    let cluster = v.cluster;
    let mut out: Vec<Members> = (0..v.classes.len()).map(|_| Members::default()).collect();
    for (index, s) in v.subjects.iter().enumerate() {
        if !s.has_pod_addresses() {
            continue;
        }
        let in_use = !cluster.pods_known
            || s.pod_ips.iter().any(|ip| cluster.pods.contains(*ip))
            || s.pod_prefixes.iter().any(|p| cluster.pods.any_in(p));
        let part = if in_use { IN_USE } else { IDLE };
        let m = &mut out[s.class];
        m.parts[part].push(index);
        m.addresses[part] += s.pod_address_count();
    }
    out
}

/// Nodes whose next secondary ENI would break a path that no finding names yet for that
/// direction and cause: the CNI places pods on ENIs at random, so it will bite.
fn latent<'v>(
    v: &'v ClusterVerdicts<'_>,
    groups: &mut BTreeMap<(FindingKind, Direction, Cause), Group<'v>>,
) {
    let named: BTreeSet<(Direction, Cause, Ipv4Net)> = groups
        .iter()
        .flat_map(|((_, d, c), g)| g.routes.keys().map(move |r| (*d, *c, *r)))
        .collect();
    for h in &v.hypothetical {
        for block in &v.blocks {
            for direction in DIRECTIONS {
                let evaluation = v.for_block(h.class, block, direction);
                if evaluation.verdict != Verdict::Unreachable {
                    continue;
                }
                let Some(cause) = evaluation.cause() else {
                    continue;
                };
                if named.contains(&(direction, cause, block.route)) {
                    continue;
                }
                let group = groups
                    .entry((FindingKind::LatentRisk, direction, cause))
                    .or_default();
                group.hypothetical.insert(h.class);
                group.routes.entry(block.route).or_insert_with(|| {
                    (
                        BTreeSet::new(),
                        Witness {
                            class: &v.classes[h.class],
                            block,
                            evaluation,
                        },
                    )
                });
            }
        }
    }
}

fn finding(
    v: &ClusterVerdicts<'_>,
    members: &[Members],
    total: usize,
    kind: FindingKind,
    direction: Direction,
    cause: Cause,
    group: &Group<'_>,
) -> Finding {
    let cluster = v.cluster;
    let destinations: Vec<Ipv4Net> = group.routes.keys().copied().collect();
    let witnesses: Vec<Witness<'_>> = group.routes.values().map(|(_, w)| *w).collect();
    // CRITICAL when some destination fails for every pod address of the cluster.
    let failing = |pairs: &BTreeSet<(usize, usize)>| -> usize {
        pairs
            .iter()
            .map(|(class, part)| members[*class].addresses[*part])
            .sum()
    };
    let everyone = |pairs: &BTreeSet<(usize, usize)>| total > 0 && failing(pairs) >= total;
    let severity = match kind {
        FindingKind::Unreachable if group.routes.values().any(|(p, _)| everyone(p)) => {
            Severity::Critical
        }
        FindingKind::Unreachable => Severity::High,
        FindingKind::LatentRisk => Severity::Medium,
        FindingKind::Unverified if cause == Cause::MissingInput => Severity::Low,
        FindingKind::Unverified => Severity::Informational,
    };
    // In subject order, which is node order (nodes sorted by instance id, a node's ENIs by
    // device): nodes then come sorted and each node's ENIs together, with no set to build.
    let mut indices: Vec<usize> = group
        .members
        .iter()
        .flat_map(|(class, part)| members[*class].parts[*part].iter().copied())
        .collect();
    indices.sort_unstable();
    let subjects: Vec<&Subject<'_>> = indices.iter().map(|i| &v.subjects[*i]).collect();
    let first = witnesses[0];
    let roles: BTreeSet<&str> = if subjects.is_empty() {
        BTreeSet::from(["secondary"])
    } else {
        distinct(subjects.iter().map(|s| s.role()))
    };
    let all_fail = !group.routes.is_empty() && group.routes.values().all(|(p, _)| everyone(p));
    let who = text::who(&roles, kind == FindingKind::Unreachable && all_fail);
    let title = text::title(kind, direction, cause, &who, &destinations);
    let detail = match subjects
        .iter()
        .find(|s| v.classes[s.class] == *first.class)
        .or(subjects.first())
    {
        Some(subject) => {
            let mut detail = text::detail(
                &cluster.cni,
                first.evaluation,
                subject,
                cause,
                direction,
                &destinations,
            );
            if !group.hypothetical.is_empty() {
                detail.push_str(" Nodes that get a new secondary ENI are affected the same way.");
            }
            detail
        }
        None => text::latent_detail(
            &cluster.cni,
            &first.class.eni_subnet,
            first.evaluation,
            cause,
            direction,
            &destinations,
        ),
    };
    let mut assumptions = cluster.cni.assumptions.clone();
    for w in &witnesses {
        for a in &w.evaluation.assumptions {
            if !assumptions.contains(a) {
                assumptions.push(a.clone());
            }
        }
    }
    let source_subnets: BTreeSet<&str> =
        distinct(subjects.iter().map(|s| match first.evaluation.source {
            SourceAtPeer::NodeIp => s.primary.subnet_id.as_str(),
            SourceAtPeer::PodIp => s.eni.subnet_id.as_str(),
        }));
    let mut affected = affected(cluster, &subjects);
    if !group.hypothetical.is_empty() {
        affected.nodes.extend(
            v.hypothetical
                .iter()
                .filter(|h| group.hypothetical.contains(&h.class))
                .flat_map(|h| h.nodes.iter().map(|n| n.instance_id.clone())),
        );
        affected.nodes.sort_unstable();
        affected.nodes.dedup();
    }
    Finding {
        id: finding_id(&cluster.name, cause, direction, kind),
        kind,
        severity,
        region: None,
        cluster: cluster.name.clone(),
        title,
        detail,
        destination: destinations[0].to_string(),
        destinations: destinations.iter().map(ToString::to_string).collect(),
        direction,
        cause,
        via: first.evaluation.via.clone(),
        affected,
        remediation: remediation(
            v,
            cause,
            direction,
            &witnesses,
            &destinations,
            &source_subnets,
        ),
        assumptions,
    }
}

/// Who the subjects (in node order) are: nodes and ENIs in full, addresses as ranges (and the
/// first [`LIST_LIMIT`] one by one), pod names up to [`LIST_LIMIT`].
fn affected(cluster: &crate::model::Cluster, subjects: &[&Subject<'_>]) -> Affected {
    let mut nodes: Vec<String> = Vec::new();
    let mut enis: Vec<String> = Vec::with_capacity(subjects.len());
    let mut spans: Vec<(u32, u32)> = Vec::new();
    let mut prefixes: BTreeSet<Ipv4Net> = BTreeSet::new();
    let mut scratch: Vec<u32> = Vec::new();
    let mut count = 0usize;
    let mut listed_ips = 0usize;
    let mut last_node: *const crate::model::Node = std::ptr::null();
    for s in subjects {
        // Subjects of one node are adjacent and share the node itself: no id to compare.
        if !std::ptr::eq(last_node, s.node) {
            nodes.push(s.node.instance_id.clone());
            last_node = s.node;
        }
        enis.push(s.eni.id.clone());
        count += s.pod_address_count();
        listed_ips += s.pod_ips.len();
        // Each ENI's addresses as runs first: the runs, not the addresses, are sorted together.
        scratch.clear();
        scratch.extend(s.pod_ips.iter().map(|ip| u32::from(*ip)));
        if !scratch.is_sorted() {
            scratch.sort_unstable();
        }
        for &a in &scratch {
            match spans.last_mut() {
                Some(run) if run.1.checked_add(1) == Some(a) => run.1 = a,
                _ => spans.push((a, a)),
            }
        }
        for p in s.pod_prefixes.iter() {
            prefixes.insert(*p);
        }
    }
    // The first LIST_LIMIT secondary IPs, in address order, walked off their merged runs.
    let ip_ranges = cidr::merge(spans);
    let mut addresses: Vec<String> = Vec::new();
    'list: for range in &ip_ranges {
        for a in u32::from(range.first)..=u32::from(range.last) {
            if addresses.len() == LIST_LIMIT {
                break 'list;
            }
            let mut text = String::with_capacity(15);
            cidr::push_ipv4(&mut text, Ipv4Addr::from(a));
            addresses.push(text);
        }
    }
    let ranges = if prefixes.is_empty() {
        ip_ranges
    } else {
        cidr::merge(
            ip_ranges
                .iter()
                .map(|r| (u32::from(r.first), u32::from(r.last)))
                .chain(
                    prefixes
                        .iter()
                        .map(|p| (u32::from(p.network()), u32::from(p.broadcast()))),
                )
                .collect(),
        )
    };
    let mut pods: Vec<String> = Vec::new();
    let mut pods_total = 0usize;
    let mut workloads: Vec<WorkloadCount> = Vec::new();
    let mut unused_addresses = None;
    if cluster.pods_known {
        // Each pod once (a pod may hold several addresses), in address order.
        let mut seen = vec![false; cluster.pods.all().len()];
        let mut holding = 0usize;
        let mut counts: crate::FastMap<Workload<'_>, usize> = crate::FastMap::default();
        let held = subjects
            .iter()
            .flat_map(|s| s.pod_ips.iter())
            .filter_map(|a| cluster.pods.get(*a))
            .chain(prefixes.iter().flat_map(|p| {
                cluster
                    .pods
                    .range(p.network(), p.broadcast())
                    .map(|(_, pod)| pod)
            }));
        for pod in held {
            holding += 1;
            let first = seen
                .get_mut(pod.index())
                .is_some_and(|seen| !std::mem::replace(seen, true));
            if first {
                pods_total += 1;
                *counts.entry(workload(&pod)).or_default() += 1;
                if pods.len() < LIST_LIMIT {
                    pods.push(format!("{}/{}", pod.namespace(), pod.name()));
                }
            }
        }
        pods.sort_unstable();
        unused_addresses = Some(count.saturating_sub(holding));
        let mut listed: Vec<(Workload<'_>, usize)> = counts.into_iter().collect();
        // Most pods first; then by name, so the order is stable.
        listed.sort_by(|(a, n), (b, m)| m.cmp(n).then_with(|| a.cmp(b)));
        workloads = listed
            .into_iter()
            .map(|(w, pods)| WorkloadCount {
                namespace: w.namespace.to_owned(),
                kind: w.kind.to_owned(),
                name: w.name.into_owned(),
                pods,
            })
            .collect();
    }
    Affected {
        nodes,
        enis,
        pod_addresses_omitted: listed_ips.saturating_sub(addresses.len()),
        pod_addresses: addresses,
        pod_address_ranges: ranges.iter().map(cidr::AddressRange::text).collect(),
        pod_prefixes: prefixes.iter().map(ToString::to_string).collect(),
        pods_omitted: pods_total.saturating_sub(pods.len()),
        pods,
        workloads,
        unused_addresses,
        pod_address_count: count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_ids_are_stable_and_depend_only_on_identity() {
        let a = finding_id(
            "shop",
            Cause::SrcdstEgress,
            Direction::PodToPeer,
            FindingKind::Unreachable,
        );
        let b = finding_id(
            "shop",
            Cause::SrcdstEgress,
            Direction::PodToPeer,
            FindingKind::Unreachable,
        );
        let c = finding_id(
            "shop",
            Cause::SrcdstEgress,
            Direction::PeerToPod,
            FindingKind::Unreachable,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 3 + 16);
        assert!(a.starts_with("PR-"));
    }
}
