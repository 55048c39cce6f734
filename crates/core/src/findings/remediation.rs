//! Remediation: the exact commands that fix a finding, with the real ids filled in.
//!
//! One finding covers every destination its cause breaks, so its fix covers them all: one CNI
//! setting whose value lists every destination, one route per missing route table entry, one
//! peer route per far route table, never one copy of the same command per destination. The
//! commands are chosen from typed facts (the cause, the direction, the source the far side
//! sees, the ENI class and the route it took), through [`Witness`]es of the finding's paths.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;

use crate::cidr;
use crate::cni::{
    EXCLUDE_SNAT_CIDRS, EXTERNAL_SERVICE_CIDRS, NODE_PORT_SUPPORT, SettingSource, Version, facts,
};
use crate::model::Target;
use crate::report::{Cause, Direction, Remediation};
use crate::verdict::{ClusterVerdicts, SourceAtPeer};
use crate::vpc_path::{Remote, VpcView};

use super::filter_fixes::{check_source_change, filter_remediation};
use super::text::destinations_phrase;
use super::tgw_fixes::tgw_route_fixes;
use super::witness::{Witness, push_once};

fn target_flag(target: &Target) -> &'static str {
    match target {
        Target::Peering(_) => "--vpc-peering-connection-id",
        Target::TransitGateway(_) => "--transit-gateway-id",
        Target::LocalGateway(_) => "--local-gateway-id",
        _ => "--gateway-id",
    }
}

/// How the user changes one CNI variable, depending on where it is managed.
fn set_env(v: &ClusterVerdicts<'_>, name: &str, value: &str) -> Remediation {
    let cluster = v.cluster;
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
            breaks: Vec::new(),
        }
    } else {
        Remediation {
            action: format!("set {name}={value} on the aws-node DaemonSet"),
            command: Some(format!(
                "kubectl set env daemonset aws-node -n kube-system {name}={value}"
            )),
            breaks: Vec::new(),
        }
    }
}

fn upgrade(v: &ClusterVerdicts<'_>, at_least: Version) -> Remediation {
    let name = &v.cluster.name;
    Remediation {
        action: format!(
            "upgrade the VPC CNI to {at_least} or later (list the versions your Kubernetes version supports with `aws eks describe-addon-versions --addon-name vpc-cni`)"
        ),
        command: Some(format!(
            "aws eks update-addon --cluster-name {name} --addon-name vpc-cni --addon-version <a version ≥ {at_least}, e.g. from describe-addon-versions> --resolve-conflicts PRESERVE"
        )),
        breaks: Vec::new(),
    }
}

/// The route table the far side uses for hosts in `block`: its subnet's table, else the main
/// table of the VPC that holds it. The VPC is the one `via` leads to (the peering's other side,
/// a VPC attached to the transit gateway): two accounts' VPCs often share a CIDR, so the block
/// alone does not say which.
fn peer_route_table(v: &ClusterVerdicts<'_>, block: Ipv4Net, via: Option<&str>) -> Option<String> {
    let view = VpcView::new(v.net, &v.cluster.vpc_id);
    let peer = via.and_then(|id| {
        v.net
            .peerings
            .as_ref()?
            .get(id)?
            .other_side(&v.cluster.vpc_id)
            .and_then(|(vpc, _)| vpc.map(str::to_owned))
    });
    let tgw = via.filter(|id| id.starts_with("tgw-"));
    let vpc = match peer {
        Some(vpc) => vpc,
        None => match view.vpc_behind(block, tgw) {
            Remote::Vpc(vpc) => vpc,
            _ => return None,
        },
    };
    let table = match view.remote_subnet(&vpc, block) {
        Some(subnet) => v.net.route_table_of_subnet(&subnet.id),
        None => v
            .net
            .main_route_tables
            .get(&vpc)
            .and_then(|id| v.net.route_tables.get(id)),
    };
    table.map(|t| t.id.clone())
}

/// The fixes of a finding of `cause` in `direction` over `destinations` (route CIDRs), with a
/// witness per destination; `source_subnets` are the subnets of every address the far side sees
/// (the node subnets when SNATed, else the pod subnets) across the ENIs the finding affects.
pub(crate) fn remediation(
    v: &ClusterVerdicts<'_>,
    cause: Cause,
    direction: Direction,
    witnesses: &[Witness<'_>],
    destinations: &[Ipv4Net],
    source_subnets: &BTreeSet<&str>,
) -> Vec<Remediation> {
    let cni = &v.cluster.cni;
    let net = v.net;
    let version = cni.version;
    let Some(first) = witnesses.first() else {
        return Vec::new();
    };
    let all = destinations_phrase(destinations);
    // A CNI CIDR list with every destination added (those already covered left as they are).
    let with_destinations = |list: &[Ipv4Net]| -> String {
        let mut out: Vec<String> = list.iter().map(ToString::to_string).collect();
        for d in destinations {
            if !cidr::covered_by_any(list, d) && !out.contains(&d.to_string()) {
                out.push(d.to_string());
            }
        }
        out.join(",")
    };
    let mut fixes = Vec::new();
    match cause {
        Cause::SrcdstEgress
            if direction == Direction::PodToPeer
                && first.evaluation.source == SourceAtPeer::NodeIp =>
        {
            fixes.push(set_env(v, NODE_PORT_SUPPORT, "true"));
            fixes.push(upgrade(v, facts::RULE_1024_UNLESS_EXTERNALSNAT));
        }
        Cause::SrcdstEgress
            if direction == Direction::PeerToPod && version < facts::PER_POD_ENI_RULE =>
        {
            fixes.push(upgrade(v, facts::PER_POD_ENI_RULE));
            if version >= facts::EXCLUDE_SNAT_CIDRS_READ {
                let mut fix = set_env(
                    v,
                    EXCLUDE_SNAT_CIDRS,
                    &with_destinations(&cni.exclude_snat_cidrs),
                );
                let pod_subnets: BTreeSet<String> = witnesses
                    .iter()
                    .filter_map(|w| net.subnets.get(&w.class.eni_subnet))
                    .map(|s| s.cidr.to_string())
                    .collect();
                let pod_subnets: Vec<String> = pod_subnets.into_iter().collect();
                fix.action = format!(
                    "or, without upgrading, exempt {all} from SNAT (the per-pod rules then route it by the pod's ENI both ways; the peer must then route the pod subnets{} back)",
                    if pod_subnets.is_empty() {
                        String::new()
                    } else {
                        format!(" such as {}", pod_subnets.join(", "))
                    }
                );
                check_source_change(v, witnesses, SourceAtPeer::PodIp, fix, &mut fixes);
            }
        }
        Cause::SrcdstEgress => {
            let remaining: Vec<String> = cni
                .external_service_cidrs
                .iter()
                .filter(|c| !destinations.iter().any(|d| cidr::overlaps(c, d)))
                .map(ToString::to_string)
                .collect();
            fixes.push(set_env(v, EXTERNAL_SERVICE_CIDRS, &remaining.join(",")));
        }
        Cause::RpfStrict => {
            fixes.push(Remediation {
                action: "set loose reverse-path filtering on every node's primary interface (as aws-vpc-cni-init does) and persist it in the node's sysctl configuration".to_owned(),
                command: Some("sysctl -w net.ipv4.conf.$(ip -o route get 1.1.1.1 | awk '{print $5}').rp_filter=2".to_owned()),
                breaks: Vec::new(),
            });
            fixes.push(Remediation {
                action: "make sure the aws-node DaemonSet runs its aws-vpc-cni-init init container".to_owned(),
                command: Some("kubectl get daemonset aws-node -n kube-system -o jsonpath='{.spec.template.spec.initContainers[*].name}'".to_owned()),
                breaks: Vec::new(),
            });
        }
        Cause::NoRoute | Cause::RouteBlackhole => {
            for w in witnesses {
                let destination = w.block.route;
                let out_subnet = w.egress_subnet();
                let table = net
                    .route_table_of_subnet(out_subnet)
                    .map_or("<route-table-id>".to_owned(), |t| t.id.clone());
                // Suggest the object other subnets of the cluster VPC use for this destination.
                let object = net
                    .route_tables
                    .values()
                    .filter(|t| t.vpc_id == v.cluster.vpc_id)
                    .flat_map(|t| t.routes.iter())
                    .find(|r| {
                        r.destination == destination
                            && r.target.is_private_beyond_vpc()
                            && !r.blackhole
                    })
                    .map(|r| r.target.clone());
                let verb = if cause == Cause::NoRoute {
                    "create-route"
                } else {
                    "replace-route"
                };
                // With no live route to copy, the dead target tells which kind of object to use.
                let tgw = w
                    .evaluation
                    .via
                    .as_deref()
                    .is_some_and(|v| v.starts_with("tgw-"));
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
                push_once(
                    &mut fixes,
                    Remediation {
                        action: format!(
                            "route {destination} from {out_subnet} through the private connection"
                        ),
                        command: Some(format!(
                            "aws ec2 {verb} --route-table-id {table} --destination-cidr-block {destination} {flag} {id}"
                        )),
                        breaks: Vec::new(),
                    },
                );
            }
        }
        Cause::PcxNotActive => {
            for w in witnesses {
                let id = w.evaluation.via.clone().unwrap_or_else(|| "<pcx-id>".to_owned());
                let status = net
                    .peerings
                    .as_ref()
                    .and_then(|p| p.get(&id))
                    .map(|p| p.status.clone())
                    .unwrap_or_default();
                let fix = if status == "pending-acceptance" {
                    Remediation {
                        action: format!("accept {id} in the accepter account"),
                        command: Some(format!(
                            "aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id {id}"
                        )),
                        breaks: Vec::new(),
                    }
                } else {
                    Remediation {
                        action: format!(
                            "{id} is `{status}`: create a new peering connection and point the routes at it"
                        ),
                        command: Some("aws ec2 create-vpc-peering-connection --vpc-id <cluster-vpc> --peer-vpc-id <peer-vpc>".to_owned()),
                        breaks: Vec::new(),
                    }
                };
                push_once(&mut fixes, fix);
            }
        }
        Cause::PcxNotDirect => fixes.push(Remediation {
            action: format!(
                "peering is not transitive: reach {all} through a transit gateway, or peer directly with the VPC that holds it"
            ),
            command: None,
            breaks: Vec::new(),
        }),
        Cause::TgwNoAttachment | Cause::TgwAttachmentNotAvailable | Cause::TgwNoAzAttachment => {
            for w in witnesses {
                let tgw = w.evaluation.via.clone().unwrap_or_else(|| "<tgw-id>".to_owned());
                let out_subnet = w.egress_subnet();
                let attachment = net.tgw_attachments.as_ref().and_then(|list| {
                    list.iter()
                        .find(|a| a.tgw_id == tgw && a.vpc_id == v.cluster.vpc_id)
                });
                let fix = match (cause, attachment) {
                    (Cause::TgwNoAzAttachment, Some(a)) => Remediation {
                        action: format!(
                            "add a subnet in {out_subnet}'s Availability Zone to the attachment"
                        ),
                        command: Some(format!(
                            "aws ec2 modify-transit-gateway-vpc-attachment --transit-gateway-attachment-id {} --add-subnet-ids <a subnet of {} in {}>",
                            a.id,
                            v.cluster.vpc_id,
                            net.subnets.get(out_subnet).map_or("that AZ", |s| s.az.as_str())
                        )),
                        breaks: Vec::new(),
                    },
                    _ => Remediation {
                        action: format!(
                            "attach {} to {tgw} with one subnet in every Availability Zone that has nodes",
                            v.cluster.vpc_id
                        ),
                        command: Some(format!(
                            "aws ec2 create-transit-gateway-vpc-attachment --transit-gateway-id {tgw} --vpc-id {} --subnet-ids <one subnet per AZ>",
                            v.cluster.vpc_id
                        )),
                        breaks: Vec::new(),
                    },
                };
                push_once(&mut fixes, fix);
            }
        }
        Cause::TgwNoRoute | Cause::TgwBlackhole | Cause::TgwNoReturn => {
            for fix in tgw_route_fixes(v, witnesses, source_subnets) {
                push_once(&mut fixes, fix);
            }
        }
        Cause::PeerNoRoute => {
            let sources = |w: &Witness<'_>| -> Vec<String> {
                let mut subnets: Vec<&str> = source_subnets.iter().copied().collect();
                if subnets.is_empty() {
                    subnets.push(w.source_subnet());
                }
                subnets
                    .into_iter()
                    .map(|id| {
                        net.subnets
                            .get(id)
                            .map_or_else(|| "<source-cidr>".to_owned(), |s| s.cidr.to_string())
                    })
                    .collect()
            };
            for (w, source_block) in witnesses
                .iter()
                .flat_map(|w| sources(w).into_iter().map(move |b| (w, b)))
            {
                let peer_table = peer_route_table(v, w.block.block, w.evaluation.via.as_deref())
                    .unwrap_or_else(|| "<peer-route-table-id>".to_owned());
                let via = w
                    .evaluation
                    .via
                    .clone()
                    .unwrap_or_else(|| "<pcx-or-tgw-id>".to_owned());
                let flag = if via.starts_with("tgw-") {
                    "--transit-gateway-id"
                } else {
                    "--vpc-peering-connection-id"
                };
                push_once(
                    &mut fixes,
                    Remediation {
                        action: format!(
                            "route {source_block} back from the peer through {via} (a route for the whole VPC CIDR works too)"
                        ),
                        command: Some(format!(
                            "aws ec2 create-route --route-table-id {peer_table} --destination-cidr-block {source_block} {flag} {via}"
                        )),
                        breaks: Vec::new(),
                    },
                );
            }
            if direction == Direction::PodToPeer
                && witnesses
                    .iter()
                    .any(|w| w.evaluation.source == SourceAtPeer::PodIp)
            {
                let fix = Remediation {
                    action: format!(
                        "or keep pod traffic to {all} SNATed to the node IP, which the peer already routes, by removing it from {EXCLUDE_SNAT_CIDRS} / EXTERNALSNAT"
                    ),
                    command: None,
                    breaks: Vec::new(),
                };
                check_source_change(v, witnesses, SourceAtPeer::NodeIp, fix, &mut fixes);
            }
        }
        Cause::SnatFlaky => {
            // Both keep the pod's own address as the source for good.
            check_source_change(
                v,
                witnesses,
                SourceAtPeer::PodIp,
                upgrade(v, facts::EXCLUDE_ALL_RETURN_KEPT),
                &mut fixes,
            );
            let fix = Remediation {
                action: "or use AWS_VPC_K8S_CNI_EXTERNALSNAT=true instead of excluding 0.0.0.0/0".to_owned(),
                command: Some("kubectl set env daemonset aws-node -n kube-system AWS_VPC_K8S_CNI_EXTERNALSNAT=true".to_owned()),
                breaks: Vec::new(),
            };
            check_source_change(v, witnesses, SourceAtPeer::PodIp, fix, &mut fixes);
        }
        Cause::SgEgress | Cause::SgIngress | Cause::NaclLocal | Cause::PeerSg | Cause::PeerNacl => {
            let cidrs: Vec<Ipv4Net> = source_subnets
                .iter()
                .filter_map(|s| net.subnets.get(*s).map(|s| s.cidr))
                .collect();
            fixes.extend(filter_remediation(v, cause, witnesses, &cidrs));
        }
        Cause::UnknownRemote => {
            let view = VpcView::new(net, &v.cluster.vpc_id);
            for w in witnesses {
                let fix = match view.vpc_behind(w.block.block, None) {
                    Remote::Vpc(vpc) => Remediation {
                        action: format!(
                            "add the peer VPC's route tables to the snapshot (needs read access to {vpc}'s account)"
                        ),
                        command: Some(format!(
                            "aws ec2 describe-route-tables --filters Name=vpc-id,Values={vpc} --output json > peer-route-tables.json"
                        )),
                        breaks: Vec::new(),
                    },
                    _ => Remediation {
                        action: format!(
                            "confirm on the far side that {} routed back through {}",
                            match w.evaluation.source {
                                SourceAtPeer::PodIp => "the pod subnets are",
                                SourceAtPeer::NodeIp => "the node subnets are",
                            },
                            w.evaluation.via.as_deref().unwrap_or("the private connection")
                        ),
                        command: None,
                        breaks: Vec::new(),
                    },
                };
                push_once(&mut fixes, fix);
            }
        }
        // An unknown version (docs/datapath.md §10.7): the DaemonSet names it.
        Cause::MissingInput
            if first
                .evaluation
                .reason_detail(Cause::MissingInput)
                .is_some_and(|d| d.starts_with("the CNI version is unknown")) =>
        {
            fixes.push(Remediation {
            action: "let podreach read the aws-node DaemonSet, which names the CNI version (the cluster's Kubernetes API, \
                     README \"Kubernetes API access\"; offline, add its kubectl output to the snapshot), or give it with --cni-version"
                .to_owned(),
            command: Some(
                "kubectl get daemonset aws-node -n kube-system -o json > aws-node.json".to_owned(),
            ),
            breaks: Vec::new(),
        })
        }
        Cause::MissingInput => fixes.push(Remediation {
            action: "add the missing describe output named in the reason to the snapshot".to_owned(),
            command: None,
            breaks: Vec::new(),
        }),
    }
    fixes
}
