//! The words of a finding: title, the story of its cause in this configuration, and detail.
//!
//! Kept apart from the grouping so the prose can be read (and reviewed against the CNI source
//! it cites) in one place. Every function takes typed inputs: the cause, the direction, the
//! source the far side sees, never a string of the report.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;

use crate::cni::{CniConfig, EXCLUDE_SNAT_CIDRS, EXTERNAL_SERVICE_CIDRS, NODE_PORT_SUPPORT, facts};
use crate::report::{Cause, Direction, FindingKind};
use crate::verdict::{Evaluation, SourceAtPeer, Subject};

pub(crate) fn who(roles: &BTreeSet<&str>, everyone: bool) -> String {
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
        Cause::TgwNoRoute => "the transit gateway route table has no route to the destination",
        Cause::TgwBlackhole => "a transit gateway route table drops the traffic (blackhole route)",
        Cause::TgwNoReturn => {
            "the far attachment's transit gateway route table does not route the cluster back"
        }
        Cause::PeerNoRoute => "the peer does not route the address back",
        Cause::SnatFlaky => "SNAT comes and goes with aws-node restarts",
        Cause::UnknownRemote => "the far side is not visible to podreach",
        Cause::MissingInput => "an input is missing from the snapshot",
        Cause::SgEgress => "the pod side's security group does not let the packet out",
        Cause::SgIngress => "the pod side's security group does not admit the source",
        Cause::NaclLocal => "the cluster subnet's network ACL denies the request or its reply",
        Cause::PeerSg => "the far side's security group does not admit the source it sees",
        Cause::PeerNacl => "the far subnet's network ACL denies the request or its reply",
    }
}

/// `a`, `a and b`, `a, b and c`, or `a and N more destinations`.
pub(crate) fn destinations_phrase(destinations: &[Ipv4Net]) -> String {
    let names: Vec<String> = destinations.iter().map(ToString::to_string).collect();
    match names.as_slice() {
        [] => "no destination".to_owned(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        [first, rest @ ..] => format!("{first} and {} more destinations", rest.len()),
    }
}

pub(crate) fn title(
    kind: FindingKind,
    direction: Direction,
    cause: Cause,
    who: &str,
    destinations: &[Ipv4Net],
) -> String {
    let destination = destinations_phrase(destinations);
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
pub(crate) fn cause_explanation(
    cni: &CniConfig,
    cause: Cause,
    direction: Direction,
    snat: bool,
) -> String {
    let v = cni.version;
    match (cause, direction) {
        (Cause::SrcdstEgress, Direction::PodToPeer) if snat => format!(
            "CNI {v} with {NODE_PORT_SUPPORT}=false does not install ip rule 1024 (`fwmark {:#x} lookup main`), so a connection from a pod on a secondary ENI follows that ENI's own table and leaves the secondary ENI after being SNATed to the node IP; EC2 drops it because that ENI does not own the node IP (aws/amazon-vpc-cni-k8s #2025; fixed in v1.12.1 by PR #2026). Pods on the primary ENI are not affected.",
            cni.connmark
        ),
        (Cause::SrcdstEgress, Direction::PodToPeer) => format!(
            "The destination is in {EXTERNAL_SERVICE_CIDRS}, so ip rule 1535 sends it to the main table and out of the primary ENI, but it is not SNATed (EXTERNALSNAT or {EXCLUDE_SNAT_CIDRS}), so it leaves with the pod's own address, which the primary ENI does not own."
        ),
        (Cause::SrcdstEgress, Direction::PeerToPod) if v < facts::PER_POD_ENI_RULE => format!(
            "Before v1.8.0 the CNI's per-pod rules (`from <pod> to <VPC CIDR> lookup <ENI table>`) cover only the VPC CIDRs, so the reply of a pod on a secondary ENI to an address beyond the VPC uses the main table and leaves the primary ENI with the pod's address; EC2's source/destination check drops it. Connections the pod opens itself work because they are SNATed. CNI {v} is affected; v1.8.0 (PR #1475) fixed it with `from <pod> lookup <ENI table>` plus connmark (EKS user guide, external-snat page)."
        ),
        (Cause::SrcdstEgress, Direction::PeerToPod) => format!(
            "The destination is in {EXTERNAL_SERVICE_CIDRS}: ip rule 1535 forces every packet to it, including replies of pods on secondary ENIs, into the main table and out of the primary ENI with the pod's address, which EC2 drops."
        ),
        (Cause::RpfStrict, _) => "The reply reaches the primary interface, but the reverse route to the pod address uses the pod's secondary ENI table; with rp_filter=1 (strict) the kernel drops it. The CNI's init container sets rp_filter=2 (loose) on the primary interface; something set it back to 1 (a missing aws-vpc-cni-init container or an OS hardening step).".to_owned(),
        (Cause::SnatFlaky, _) => "0.0.0.0/0 in AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS loses its RETURN rule on every second aws-node restart before v1.23.0 (#3658): the pod's address and the node IP alternate as the source the peer sees.".to_owned(),
        (Cause::PeerNoRoute, _) => "The far side must route the source address it sees (the node IP when SNATed, else the pod address) back through the same peering connection or transit gateway.".to_owned(),
        (Cause::NoRoute, _) | (Cause::RouteBlackhole, _) => "The VPC applies the route table of the subnet of the ENI the packet leaves by; that table lacks a working private route to the destination.".to_owned(),
        (Cause::PeerSg | Cause::PeerNacl, Direction::PodToPeer) if snat => "Security groups and network ACLs judge the source the packet carries when it gets there: the node IP, because the CNI SNATs this traffic. A rule for the pod subnets does not admit it; a rule must name the node subnets (or, across a same-Region peering connection, a security group of the node's primary ENI).".to_owned(),
        (Cause::PeerSg | Cause::PeerNacl, Direction::PodToPeer) => "Security groups and network ACLs judge the source the packet carries when it gets there: the pod's own address, because this traffic is not SNATed (EXTERNALSNAT or EXCLUDE_SNAT_CIDRS). A rule for the node subnets does not admit it; a rule must name the pod subnets (or, across a same-Region peering connection, a security group of the pod's ENI).".to_owned(),
        (Cause::SgEgress, _) => "Security groups are stateful, but a packet leaving an ENI must first be allowed by one of its groups' outbound rules. The groups that apply are those of the ENI the packet really leaves by: the primary ENI when SNATed, the pod's ENI (or branch ENI) otherwise; a reply leaving by another ENI than its request used is judged by that ENI's rules (no connection is tracked there).".to_owned(),
        (Cause::SgIngress, _) => "The groups that apply are those of the ENI the packet enters by: the pod's ENI (its branch ENI with security groups for pods); a security-group reference matches only packets from an ENI carrying that group, and crosses only a same-Region peering connection.".to_owned(),
        (Cause::PeerSg, _) => "The far host's security groups judge the source the packet carries when it gets there; a security-group reference matches only packets from an ENI carrying that group, and crosses only a same-Region peering connection.".to_owned(),
        (Cause::NaclLocal | Cause::PeerNacl, _) => "A network ACL applies its rules in number order and the first that matches decides, so a deny numbered below an allow wins. It is stateless: the reply of an admitted connection is judged as a packet of its own, to the client's ephemeral port (1024-65535 after SNAT, 32768-60999 toward a Linux pod's own address, 32768-65535 toward hosts beyond the VPC), and needs its own allow rule.".to_owned(),
        (Cause::TgwNoRoute | Cause::TgwBlackhole | Cause::TgwNoReturn, _) => "A transit gateway routes a packet by the one route table associated with the attachment it came in by: the most specific route wins, a static route wins over a propagated one for the same prefix, and a blackhole route drops the packet. The table of the cluster VPC's attachment must route the destination to the far attachment, and the table of the far attachment must route the source the far side sees (the node IP when SNATed, else the pod address) back to the cluster VPC's attachment; a VPC attachment's CIDRs reach a table only when its propagation into that table is enabled (or a static route names it).".to_owned(),
        (Cause::TgwNoAzAttachment, _) => "A subnet route to a transit gateway forwards only when the VPC's attachment has a subnet in the same Availability Zone.".to_owned(),
        _ => String::new(),
    }
}

/// The detail of a finding: the first reason of `cause` on the witness's path (placeholders
/// filled for `subject`, an ENI it affects), the story of the cause, what the peer sees, and
/// how many destinations share it.
pub(crate) fn detail(
    cni: &CniConfig,
    evaluation: &Evaluation,
    subject: &Subject<'_>,
    cause: Cause,
    direction: Direction,
    destinations: &[Ipv4Net],
) -> String {
    let first = evaluation
        .reason_detail(cause)
        .map(|d| subject.render(d))
        .unwrap_or_default();
    let snat = evaluation.source == SourceAtPeer::NodeIp;
    let story = cause_explanation(cni, cause, direction, snat);
    let seen = if snat {
        format!(
            " The peer sees the node IP ({}) as the source.",
            subject.node.ip
        )
    } else {
        " The peer sees the pod's own address.".to_owned()
    };
    let shared = shared(destinations);
    let mut first_upper = first.chars();
    let first = first_upper
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + first_upper.as_str())
        .unwrap_or_default();
    let mut text = String::new();
    for part in [first.trim_end_matches('.'), story.trim_end_matches('.')] {
        if !part.is_empty() {
            text.push_str(part);
            text.push_str(". ");
        }
    }
    text.push_str(seen.trim_start());
    text.push_str(&shared);
    text
}

/// The detail of a latent finding that only a node's next secondary ENI would hit.
pub(crate) fn latent_detail(
    cni: &CniConfig,
    eni_subnet: &str,
    evaluation: &Evaluation,
    cause: Cause,
    direction: Direction,
    destinations: &[Ipv4Net],
) -> String {
    let reason = evaluation.reason_detail(cause).unwrap_or_default();
    let shared = shared(destinations);
    format!(
        "No pod sits on a secondary ENI today, but the CNI places pods on ENIs at random (WARM_ENI_TARGET attaches a second ENI early), so this will happen. \
         For a secondary ENI in {eni_subnet} (device 1, host table 2) podreach finds: {}. {}{shared}",
        reason
            .replace("{eni}", "the secondary ENI")
            .replace("{primary_eni}", "the primary ENI")
            .replace("{node_ip}", "the node IP"),
        cause_explanation(cni, cause, direction, false)
    )
}

/// Says, when there are several, that the cause is the same for every destination.
fn shared(destinations: &[Ipv4Net]) -> String {
    if destinations.len() > 1 {
        format!(
            " The same cause affects all {} destinations of this finding.",
            destinations.len()
        )
    } else {
        String::new()
    }
}
