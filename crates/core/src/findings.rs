//! Findings: verdicts aggregated by root cause, with severity, a stable id and exact fixes.
//!
//! A platform team wants one finding per problem, not one per pod: verdicts are grouped by
//! cluster × direction × first cause × destination route, and each group names who it affects
//! (nodes, ENIs, pod addresses, pod names). The id hashes only what identifies the problem
//! (cluster, cause, destination, direction, kind), never volatile ENI ids, so a finding keeps its
//! id across runs and alerts can be de-duplicated. Remediation is written as commands with the
//! real ids filled in, chosen from the configuration that caused the failure.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::analysis::{ClassKey, ClusterAnalysis};
use crate::cni::{
    CniConfig, EXCLUDE_SNAT_CIDRS, EXTERNAL_SERVICE_CIDRS, NODE_PORT_SUPPORT, SettingSource,
    Version,
};
use crate::model::{Network, Target};
use crate::report::{
    Affected, Cause, Direction, Finding, FindingKind, PathVerdict, Remediation, Severity, Verdict,
};
use crate::vpc_path::Remote;

/// A stable finding id: `PR-` and 16 hex digits of SHA-256 over the identifying fields.
pub fn finding_id(
    cluster: &str,
    cause: Cause,
    destination: &str,
    direction: Direction,
    kind: FindingKind,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        cluster,
        cause.code(),
        destination,
        direction.as_str(),
        kind.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("PR-{hex}")
}

#[derive(Default)]
struct Group<'p> {
    paths: Vec<&'p PathVerdict>,
    with_pods: bool,
}

/// Builds the findings of one analysed cluster from its expanded per-ENI verdicts.
pub fn findings(analysis: &ClusterAnalysis<'_>, paths: &[PathVerdict]) -> Vec<Finding> {
    let cluster = analysis.ctx.cluster;
    let mut groups: BTreeMap<(FindingKind, Direction, Cause, String), Group<'_>> = BTreeMap::new();
    let mut all_addresses: BTreeMap<(Direction, String), usize> = BTreeMap::new();
    for path in paths {
        let addresses = path.pod_ips.len() + path.pod_prefixes.len();
        *all_addresses
            .entry((path.direction, path.route_destination.clone()))
            .or_default() += addresses;
        let Some(cause) = path.cause else { continue };
        let in_use = !cluster.pods_known || !path.pods.is_empty();
        let kind = match path.verdict {
            Verdict::Unreachable if in_use => FindingKind::Unreachable,
            Verdict::Unreachable => FindingKind::LatentRisk,
            Verdict::Unknown => FindingKind::Unverified,
            Verdict::Reachable => continue,
        };
        let group = groups
            .entry((kind, path.direction, cause, path.route_destination.clone()))
            .or_default();
        group.paths.push(path);
        group.with_pods |= in_use;
    }

    let mut out = Vec::new();
    for ((kind, direction, cause, destination), group) in &groups {
        let affected = affected(&group.paths);
        let total = all_addresses
            .get(&(*direction, destination.clone()))
            .copied()
            .unwrap_or(0);
        let affected_addresses: usize = group
            .paths
            .iter()
            .map(|p| p.pod_ips.len() + p.pod_prefixes.len())
            .sum();
        let severity = match kind {
            FindingKind::Unreachable if affected_addresses >= total && total > 0 => {
                Severity::Critical
            }
            FindingKind::Unreachable => Severity::High,
            FindingKind::LatentRisk => Severity::Medium,
            FindingKind::Unverified if *cause == Cause::MissingInput => Severity::Low,
            FindingKind::Unverified => Severity::Informational,
        };
        let first = group.paths[0];
        let roles: BTreeSet<&str> = group.paths.iter().map(|p| p.eni_role).collect();
        let who = who(&roles, severity == Severity::Critical);
        let title = title(*kind, *direction, *cause, &who, destination);
        let detail = detail(&analysis.ctx.cluster.cni, first, *cause);
        let remediation = remediation(analysis, first, *cause, destination);
        let mut assumptions: Vec<String> = Vec::new();
        for p in &group.paths {
            for a in &p.assumptions {
                if !assumptions.contains(a) {
                    assumptions.push(a.clone());
                }
            }
        }
        out.push(Finding {
            id: finding_id(&cluster.name, *cause, destination, *direction, *kind),
            kind: *kind,
            severity,
            cluster: cluster.name.clone(),
            title,
            detail,
            destination: destination.clone(),
            direction: *direction,
            cause: *cause,
            via: first.via.clone(),
            affected,
            remediation,
            assumptions,
        });
    }
    out.extend(latent_findings(analysis, &groups));
    out
}

/// Nodes affected, the hypothetical class, and the first reason.
type LatentGroup<'a> = (BTreeSet<String>, &'a ClassKey, String);

/// Nodes whose next secondary ENI would break a path that works for every pod today.
fn latent_findings(
    analysis: &ClusterAnalysis<'_>,
    groups: &BTreeMap<(FindingKind, Direction, Cause, String), Group<'_>>,
) -> Vec<Finding> {
    let cluster = analysis.ctx.cluster;
    let mut out = Vec::new();
    let existing: BTreeSet<(Direction, Cause, String)> = groups
        .keys()
        .map(|(_, d, c, dest)| (*d, *c, dest.clone()))
        .collect();
    let mut latent: BTreeMap<(Direction, Cause, String), LatentGroup<'_>> = BTreeMap::new();
    for (class, nodes) in &analysis.hypothetical {
        for (index, block) in analysis.blocks.iter().enumerate() {
            for direction in [Direction::PodToPeer, Direction::PeerToPod] {
                let Some(evaluation) = analysis.evaluations.get(&(class.clone(), index, direction))
                else {
                    continue;
                };
                if evaluation.verdict != Verdict::Unreachable {
                    continue;
                }
                let Some(cause) = evaluation.cause() else {
                    continue;
                };
                let key = (direction, cause, block.route.to_string());
                if existing.contains(&key) {
                    continue;
                }
                let entry = latent.entry(key).or_insert_with(|| {
                    (
                        BTreeSet::new(),
                        class,
                        evaluation
                            .reasons
                            .iter()
                            .find(|r| r.code == cause)
                            .map(|r| r.detail.clone())
                            .unwrap_or_default(),
                    )
                });
                entry.0.extend(nodes.iter().map(|n| n.instance_id.clone()));
            }
        }
    }
    for ((direction, cause, destination), (nodes, class, reason)) in latent {
        let verb = match direction {
            Direction::PodToPeer => {
                format!("Pods that land on a secondary ENI will not reach {destination}")
            }
            Direction::PeerToPod => format!(
                "{destination} will not be able to open connections to pods that land on a secondary ENI"
            ),
        };
        let detail = format!(
            "No pod sits on a secondary ENI today, but the CNI places pods on ENIs at random (WARM_ENI_TARGET attaches a second ENI early), so this will happen. \
             For a secondary ENI in {} (device 1, host table 2) podreach finds: {}. {}",
            class.eni_subnet,
            reason
                .replace("{eni}", "the secondary ENI")
                .replace("{primary_eni}", "the primary ENI")
                .replace("{node_ip}", "the node IP"),
            cause_explanation(&cluster.cni, cause, direction, false)
        );
        let fake = PathVerdict {
            cluster: cluster.name.clone(),
            instance_id: nodes.iter().next().cloned().unwrap_or_default(),
            eni_id: "(next secondary ENI)".to_owned(),
            device_index: 1,
            network_card_index: 0,
            eni_role: "secondary",
            subnet_id: class.eni_subnet.clone(),
            pod_ips: Vec::new(),
            pod_prefixes: Vec::new(),
            pods: Vec::new(),
            destination: destination.clone(),
            route_destination: destination.clone(),
            via: None,
            direction,
            verdict: Verdict::Unreachable,
            cause: Some(cause),
            causes: Vec::new(),
            source_ip_at_peer: String::new(),
            egress_eni: String::new(),
            host_table: crate::datapath::HostTable::Eni(Some(2)),
            hops: Vec::new(),
            assumptions: Vec::new(),
        };
        out.push(Finding {
            id: finding_id(
                &cluster.name,
                cause,
                &destination,
                direction,
                FindingKind::LatentRisk,
            ),
            kind: FindingKind::LatentRisk,
            severity: Severity::Medium,
            cluster: cluster.name.clone(),
            title: format!("Latent: {verb} ({})", cause_summary(cause)),
            detail,
            destination: destination.clone(),
            direction,
            cause,
            via: None,
            affected: Affected {
                nodes: nodes.into_iter().collect(),
                ..Affected::default()
            },
            remediation: remediation(analysis, &fake, cause, &destination),
            assumptions: cluster.cni.assumptions.clone(),
        });
    }
    out
}

fn affected(paths: &[&PathVerdict]) -> Affected {
    let mut nodes = BTreeSet::new();
    let mut enis = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    let mut pods = BTreeSet::new();
    let mut count = 0usize;
    for p in paths {
        nodes.insert(p.instance_id.clone());
        if enis.insert(p.eni_id.clone()) {
            count += p.pod_ips.len()
                + p.pod_prefixes
                    .iter()
                    .filter_map(|x| x.parse::<ipnet::Ipv4Net>().ok())
                    .map(|n| 1usize << (32 - n.prefix_len()))
                    .sum::<usize>();
        }
        addresses.extend(p.pod_ips.iter().cloned());
        prefixes.extend(p.pod_prefixes.iter().cloned());
        pods.extend(p.pods.iter().cloned());
    }
    Affected {
        nodes: nodes.into_iter().collect(),
        enis: enis.into_iter().collect(),
        pod_addresses: addresses.into_iter().collect(),
        pod_prefixes: prefixes.into_iter().collect(),
        pods: pods.into_iter().collect(),
        pod_address_count: count,
    }
}

fn who(roles: &BTreeSet<&str>, everyone: bool) -> String {
    if everyone {
        return "All pods".to_owned();
    }
    let names: Vec<&str> = roles
        .iter()
        .map(|r| match *r {
            "primary" => "the primary ENI",
            "secondary" => "secondary ENIs",
            _ => "branch ENIs",
        })
        .collect();
    format!("Pods on {}", names.join(" and "))
}

pub fn cause_summary(cause: Cause) -> &'static str {
    match cause {
        Cause::SrcdstEgress => "packets leave an ENI that does not own their source address",
        Cause::RpfStrict => "the node's reverse-path filter drops them",
        Cause::NoRoute => "no private route in the subnet's route table",
        Cause::RouteBlackhole => "the route is a blackhole",
        Cause::PcxNotActive => "the peering connection is not active",
        Cause::PcxNotDirect => "the destination is not in the directly peered VPC",
        Cause::TgwNoAttachment => "the VPC is not attached to the transit gateway",
        Cause::TgwAttachmentNotAvailable => "the transit gateway attachment is not available",
        Cause::TgwNoAzAttachment => {
            "no transit gateway attachment in the subnet's Availability Zone"
        }
        Cause::PeerNoRoute => "the peer does not route the address back",
        Cause::SnatFlaky => "SNAT comes and goes with aws-node restarts",
        Cause::UnknownRemote => "the far side is not visible to podreach",
        Cause::MissingInput => "an input is missing from the snapshot",
    }
}

fn title(
    kind: FindingKind,
    direction: Direction,
    cause: Cause,
    who: &str,
    destination: &str,
) -> String {
    match kind {
        FindingKind::Unverified => format!(
            "Cannot verify {} with {destination}: {}",
            direction.as_str(),
            cause_summary(cause)
        ),
        _ => {
            let lead = if kind == FindingKind::LatentRisk {
                "Latent: "
            } else {
                ""
            };
            match direction {
                Direction::PodToPeer => format!(
                    "{lead}{who} cannot reach {destination}: {}",
                    cause_summary(cause)
                ),
                Direction::PeerToPod => {
                    let who = who
                        .strip_prefix("Pods")
                        .map_or_else(|| who.to_lowercase(), |rest| format!("pods{rest}"));
                    format!(
                        "{lead}{destination} cannot open connections to {who}: {}",
                        cause_summary(cause)
                    )
                }
            }
        }
    }
}

/// The plain-words story of a cause in this configuration.
fn cause_explanation(cni: &CniConfig, cause: Cause, direction: Direction, snat: bool) -> String {
    let v = cni.version;
    match (cause, direction) {
        (Cause::SrcdstEgress, Direction::PodToPeer) if snat => format!(
            "CNI {v} with {NODE_PORT_SUPPORT}=false does not install ip rule 1024 (`fwmark {:#x} lookup main`), so a connection from a pod on a secondary ENI follows that ENI's own table and leaves the secondary ENI after being SNATed to the node IP; EC2 drops it because that ENI does not own the node IP (aws/amazon-vpc-cni-k8s #2025; fixed in v1.12.1 by PR #2026). Pods on the primary ENI are not affected.",
            cni.connmark
        ),
        (Cause::SrcdstEgress, Direction::PodToPeer) => format!(
            "The destination is in {EXTERNAL_SERVICE_CIDRS}, so ip rule 1535 sends it to the main table and out of the primary ENI, but it is not SNATed (EXTERNALSNAT or {EXCLUDE_SNAT_CIDRS}), so it leaves with the pod's own address, which the primary ENI does not own."
        ),
        (Cause::SrcdstEgress, Direction::PeerToPod) if v < Version::new(1, 8, 0) => format!(
            "Before v1.8.0 the CNI's per-pod rules (`from <pod> to <VPC CIDR> lookup <ENI table>`) cover only the VPC CIDRs, so the reply of a pod on a secondary ENI to an address beyond the VPC uses the main table and leaves the primary ENI with the pod's address; EC2's source/destination check drops it. Connections the pod opens itself work because they are SNATed. CNI {v} is affected; v1.8.0 (PR #1475) fixed it with `from <pod> lookup <ENI table>` plus connmark (EKS user guide, external-snat page)."
        ),
        (Cause::SrcdstEgress, Direction::PeerToPod) => format!(
            "The destination is in {EXTERNAL_SERVICE_CIDRS}: ip rule 1535 forces every packet to it, including replies of pods on secondary ENIs, into the main table and out of the primary ENI with the pod's address, which EC2 drops."
        ),
        (Cause::RpfStrict, _) => "The reply reaches the primary interface, but the reverse route to the pod address uses the pod's secondary ENI table; with rp_filter=1 (strict) the kernel drops it. The CNI's init container sets rp_filter=2 (loose) on the primary interface; something set it back to 1 (a missing aws-vpc-cni-init container or an OS hardening step).".to_owned(),
        (Cause::SnatFlaky, _) => "0.0.0.0/0 in AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS loses its RETURN rule on every second aws-node restart before v1.23.0 (#3658): the pod's address and the node IP alternate as the source the peer sees.".to_owned(),
        (Cause::PeerNoRoute, _) => "The far side must route the source address it sees (the node IP when SNATed, else the pod address) back through the same peering connection or transit gateway.".to_owned(),
        (Cause::NoRoute, _) | (Cause::RouteBlackhole, _) => "The VPC applies the route table of the subnet of the ENI the packet leaves by; that table lacks a working private route to the destination.".to_owned(),
        (Cause::TgwNoAzAttachment, _) => "A subnet route to a transit gateway forwards only when the VPC's attachment has a subnet in the same Availability Zone.".to_owned(),
        _ => String::new(),
    }
}

fn detail(cni: &CniConfig, path: &PathVerdict, cause: Cause) -> String {
    let first = path
        .causes
        .iter()
        .find(|r| r.code == cause)
        .map(|r| r.detail.clone())
        .unwrap_or_default();
    let snat = path.source_ip_at_peer != "pod-ip" && !path.source_ip_at_peer.is_empty();
    let story = cause_explanation(cni, cause, path.direction, snat);
    let seen = if snat {
        format!(
            " The peer sees the node IP ({}) as the source.",
            path.source_ip_at_peer
        )
    } else {
        " The peer sees the pod's own address.".to_owned()
    };
    let mut first_upper = first.chars();
    let first = first_upper
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + first_upper.as_str())
        .unwrap_or_default();
    format!("{first}. {story}{seen}")
        .replace(". .", ".")
        .trim()
        .to_owned()
}

fn target_flag(target: &Target) -> &'static str {
    match target {
        Target::Peering(_) => "--vpc-peering-connection-id",
        Target::TransitGateway(_) => "--transit-gateway-id",
        Target::LocalGateway(_) => "--local-gateway-id",
        _ => "--gateway-id",
    }
}

/// How the user changes one CNI variable, depending on where it is managed.
fn set_env(analysis: &ClusterAnalysis<'_>, name: &str, value: &str) -> Remediation {
    let cluster = analysis.ctx.cluster;
    let source = cluster
        .cni
        .settings
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.source);
    let addon_managed = source == Some(SettingSource::Addon)
        || (cluster.cni.version_source == Some(SettingSource::Addon)
            && source != Some(SettingSource::Daemonset));
    if addon_managed {
        Remediation {
            action: format!("set {name}={value} in the vpc-cni add-on configuration"),
            command: Some(format!(
                "aws eks update-addon --cluster-name {} --addon-name vpc-cni --configuration-values '{{\"env\":{{\"{name}\":\"{value}\"}}}}' --resolve-conflicts PRESERVE",
                cluster.name
            )),
        }
    } else {
        Remediation {
            action: format!("set {name}={value} on the aws-node DaemonSet"),
            command: Some(format!(
                "kubectl set env daemonset aws-node -n kube-system {name}={value}"
            )),
        }
    }
}

fn upgrade(analysis: &ClusterAnalysis<'_>, at_least: Version) -> Remediation {
    let name = &analysis.ctx.cluster.name;
    Remediation {
        action: format!(
            "upgrade the VPC CNI to {at_least} or later (list the versions your Kubernetes version supports with `aws eks describe-addon-versions --addon-name vpc-cni`)"
        ),
        command: Some(format!(
            "aws eks update-addon --cluster-name {name} --addon-name vpc-cni --addon-version <a version ≥ {at_least}, e.g. from describe-addon-versions> --resolve-conflicts PRESERVE"
        )),
    }
}

/// The route table the far side uses for hosts in `destination`: its subnet's table, else the
/// main table of the VPC that holds it.
fn peer_route_table(analysis: &ClusterAnalysis<'_>, destination: &str) -> Option<String> {
    let block: ipnet::Ipv4Net = destination.parse().ok()?;
    let Remote::Vpc(vpc) = analysis.ctx.vpc.vpc_behind(block, None) else {
        return None;
    };
    let net = analysis.ctx.net;
    let table = match analysis.ctx.vpc.remote_subnet(&vpc, block) {
        Some(subnet) => net.route_table_of_subnet(&subnet.id),
        None => net
            .main_route_tables
            .get(&vpc)
            .and_then(|id| net.route_tables.get(id)),
    };
    table.map(|t| t.id.clone())
}

fn remediation(
    analysis: &ClusterAnalysis<'_>,
    path: &PathVerdict,
    cause: Cause,
    destination: &str,
) -> Vec<Remediation> {
    let cni = &analysis.ctx.cluster.cni;
    let net: &Network = analysis.ctx.net;
    let v = cni.version;
    let pods_subnet = net.subnets.get(&path.subnet_id);
    let out_subnet = if path.egress_eni == path.eni_id {
        path.subnet_id.clone()
    } else {
        net.enis
            .get(&path.egress_eni)
            .map_or_else(|| path.subnet_id.clone(), |e| e.subnet_id.clone())
    };
    let joined = |mut list: Vec<String>| {
        if !list.iter().any(|c| c == destination) {
            list.push(destination.to_owned());
        }
        list.join(",")
    };
    let mut fixes = Vec::new();
    match cause {
        Cause::SrcdstEgress if path.direction == Direction::PodToPeer && path.source_ip_at_peer != "pod-ip" => {
            fixes.push(set_env(analysis, NODE_PORT_SUPPORT, "true"));
            fixes.push(upgrade(analysis, Version::new(1, 12, 1)));
        }
        Cause::SrcdstEgress if path.direction == Direction::PeerToPod && v < Version::new(1, 8, 0) => {
            fixes.push(upgrade(analysis, Version::new(1, 8, 0)));
            if v >= Version::new(1, 6, 0) {
                let mut fix = set_env(
                    analysis,
                    EXCLUDE_SNAT_CIDRS,
                    &joined(cni.exclude_snat_cidrs.iter().map(ToString::to_string).collect()),
                );
                fix.action = format!(
                    "or, without upgrading, exempt {destination} from SNAT (the per-pod rules then route it by the pod's ENI both ways; the peer must then route the pod subnets{} back)",
                    pods_subnet.map(|s| format!(" such as {}", s.cidr)).unwrap_or_default()
                );
                fixes.push(fix);
            }
        }
        Cause::SrcdstEgress => {
            let remaining: Vec<String> = cni
                .external_service_cidrs
                .iter()
                .filter(|c| !destination.parse::<ipnet::Ipv4Net>().is_ok_and(|d| crate::cidr::overlaps(c, &d)))
                .map(ToString::to_string)
                .collect();
            fixes.push(set_env(analysis, EXTERNAL_SERVICE_CIDRS, &remaining.join(",")));
        }
        Cause::RpfStrict => {
            fixes.push(Remediation {
                action: "set loose reverse-path filtering on every node's primary interface (as aws-vpc-cni-init does) and persist it in the node's sysctl configuration".to_owned(),
                command: Some("sysctl -w net.ipv4.conf.$(ip -o route get 1.1.1.1 | awk '{print $5}').rp_filter=2".to_owned()),
            });
            fixes.push(Remediation {
                action: "make sure the aws-node DaemonSet runs its aws-vpc-cni-init init container".to_owned(),
                command: Some("kubectl get daemonset aws-node -n kube-system -o jsonpath='{.spec.template.spec.initContainers[*].name}'".to_owned()),
            });
        }
        Cause::NoRoute | Cause::RouteBlackhole => {
            let table = net.route_table_of_subnet(&out_subnet).map_or("<route-table-id>".to_owned(), |t| t.id.clone());
            // Suggest the object other subnets of the cluster VPC use for this destination.
            let object = net
                .route_tables
                .values()
                .filter(|t| t.vpc_id == analysis.ctx.cluster.vpc_id)
                .flat_map(|t| t.routes.iter())
                .find(|r| r.destination.to_string() == destination && r.target.is_private_beyond_vpc() && !r.blackhole)
                .map(|r| r.target.clone());
            let verb = if cause == Cause::NoRoute { "create-route" } else { "replace-route" };
            // With no live route to copy, the dead target tells which kind of object to point at.
            let tgw = path.via.as_deref().is_some_and(|v| v.starts_with("tgw-"));
            let (flag, id) = object.as_ref().map_or_else(
                || {
                    if tgw {
                        ("--transit-gateway-id", "<a live tgw-…>".to_owned())
                    } else {
                        ("--vpc-peering-connection-id", "<a live pcx-…>".to_owned())
                    }
                },
                |t| (target_flag(t), t.id().to_owned()),
            );
            fixes.push(Remediation {
                action: format!("route {destination} from {out_subnet} through the private connection"),
                command: Some(format!("aws ec2 {verb} --route-table-id {table} --destination-cidr-block {destination} {flag} {id}")),
            });
        }
        Cause::PcxNotActive => {
            let id = path.via.clone().unwrap_or_else(|| "<pcx-id>".to_owned());
            let status = net.peerings.as_ref().and_then(|p| p.get(&id)).map(|p| p.status.clone()).unwrap_or_default();
            if status == "pending-acceptance" {
                fixes.push(Remediation {
                    action: format!("accept {id} in the accepter account"),
                    command: Some(format!("aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id {id}")),
                });
            } else {
                fixes.push(Remediation {
                    action: format!("{id} is `{status}`: create a new peering connection and point the routes at it"),
                    command: Some("aws ec2 create-vpc-peering-connection --vpc-id <cluster-vpc> --peer-vpc-id <peer-vpc>".to_owned()),
                });
            }
        }
        Cause::PcxNotDirect => fixes.push(Remediation {
            action: format!("peering is not transitive: reach {destination} through a transit gateway, or peer directly with the VPC that holds it"),
            command: None,
        }),
        Cause::TgwNoAttachment | Cause::TgwAttachmentNotAvailable | Cause::TgwNoAzAttachment => {
            let tgw = path.via.clone().unwrap_or_else(|| "<tgw-id>".to_owned());
            let attachment = net
                .tgw_attachments
                .as_ref()
                .and_then(|list| list.iter().find(|a| a.tgw_id == tgw && a.vpc_id == analysis.ctx.cluster.vpc_id));
            match (cause, attachment) {
                (Cause::TgwNoAzAttachment, Some(a)) => fixes.push(Remediation {
                    action: format!("add a subnet in {}'s Availability Zone to the attachment", out_subnet),
                    command: Some(format!(
                        "aws ec2 modify-transit-gateway-vpc-attachment --transit-gateway-attachment-id {} --add-subnet-ids <a subnet of {} in {}>",
                        a.id,
                        analysis.ctx.cluster.vpc_id,
                        net.subnets.get(&out_subnet).map_or("that AZ", |s| s.az.as_str())
                    )),
                }),
                _ => fixes.push(Remediation {
                    action: format!("attach {} to {tgw} with one subnet in every Availability Zone that has nodes", analysis.ctx.cluster.vpc_id),
                    command: Some(format!(
                        "aws ec2 create-transit-gateway-vpc-attachment --transit-gateway-id {tgw} --vpc-id {} --subnet-ids <one subnet per AZ>",
                        analysis.ctx.cluster.vpc_id
                    )),
                }),
            }
        }
        Cause::PeerNoRoute => {
            // The peer route table and the block it must route come from the reason text's ids.
            let source_block = if path.source_ip_at_peer == "pod-ip" {
                pods_subnet.map(|s| s.cidr.to_string())
            } else {
                net.enis.get(&path.egress_eni).and_then(|e| net.subnets.get(&e.subnet_id)).map(|s| s.cidr.to_string())
            }
            .unwrap_or_else(|| "<source-cidr>".to_owned());
            let peer_table = peer_route_table(analysis, destination)
                .unwrap_or_else(|| "<peer-route-table-id>".to_owned());
            let via = path.via.clone().unwrap_or_else(|| "<pcx-or-tgw-id>".to_owned());
            let flag = if via.starts_with("tgw-") { "--transit-gateway-id" } else { "--vpc-peering-connection-id" };
            fixes.push(Remediation {
                action: format!("route {source_block} back from the peer through {via} (a route for the whole VPC CIDR works too)"),
                command: Some(format!("aws ec2 create-route --route-table-id {peer_table} --destination-cidr-block {source_block} {flag} {via}")),
            });
            if path.source_ip_at_peer == "pod-ip" && path.direction == Direction::PodToPeer {
                fixes.push(Remediation {
                    action: format!("or keep pod traffic to {destination} SNATed to the node IP, which the peer already routes, by removing it from {EXCLUDE_SNAT_CIDRS} / EXTERNALSNAT"),
                    command: None,
                });
            }
        }
        Cause::SnatFlaky => {
            fixes.push(upgrade(analysis, Version::new(1, 23, 0)));
            fixes.push(Remediation {
                action: "or use AWS_VPC_K8S_CNI_EXTERNALSNAT=true instead of excluding 0.0.0.0/0".to_owned(),
                command: Some("kubectl set env daemonset aws-node -n kube-system AWS_VPC_K8S_CNI_EXTERNALSNAT=true".to_owned()),
            });
        }
        Cause::UnknownRemote => {
            let vpc = destination.parse().ok().and_then(|block| match analysis.ctx.vpc.vpc_behind(block, None) {
                Remote::Vpc(vpc) => Some(vpc),
                _ => None,
            });
            match vpc {
                Some(vpc) => fixes.push(Remediation {
                    action: format!("add the peer VPC's route tables to the snapshot (needs read access to {vpc}'s account)"),
                    command: Some(format!("aws ec2 describe-route-tables --filters Name=vpc-id,Values={vpc} > peer-route-tables.json")),
                }),
                None => fixes.push(Remediation {
                    action: format!(
                        "confirm on the far side that {} is routed back through {}",
                        if path.source_ip_at_peer == "pod-ip" { "the pod subnets" } else { "the node subnets" },
                        path.via.as_deref().unwrap_or("the private connection")
                    ),
                    command: None,
                }),
            }
        }
        Cause::MissingInput => fixes.push(Remediation {
            action: "add the missing describe output named in the reason to the snapshot".to_owned(),
            command: None,
        }),
    }
    fixes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_ids_are_stable_and_depend_only_on_identity() {
        let a = finding_id(
            "shop",
            Cause::SrcdstEgress,
            "10.1.0.0/16",
            Direction::PodToPeer,
            FindingKind::Unreachable,
        );
        let b = finding_id(
            "shop",
            Cause::SrcdstEgress,
            "10.1.0.0/16",
            Direction::PodToPeer,
            FindingKind::Unreachable,
        );
        let c = finding_id(
            "shop",
            Cause::SrcdstEgress,
            "10.1.0.0/16",
            Direction::PeerToPod,
            FindingKind::Unreachable,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 3 + 16);
        assert!(a.starts_with("PR-"));
    }
}
