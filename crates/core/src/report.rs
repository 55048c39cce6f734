//! The report: schema `podreach/report/v1`, shared by the CLI, the Lambda functions and tests.
//!
//! Findings and partial failures are data: a [`Report`] always comes back, with what could not be
//! analysed listed in `gaps`. Field names are a public contract (README, "JSON report"); add
//! fields freely, never rename or remove one without bumping the schema.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cni::ResolvedSetting;
use crate::datapath::HostTable;
pub use crate::problems::{Gap, NotAnalysed};

pub const SCHEMA: &str = "podreach/report/v1";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub clusters: Vec<ClusterReport>,
    pub findings: Vec<Finding>,
    pub gaps: Vec<Gap>,
    /// Clusters that got no verdicts (and, with `cluster: null`, a run that found no cluster at
    /// all): a report with entries here is not a clean result, whatever its findings say.
    pub not_analysed: Vec<NotAnalysed>,
    /// Every per-ENI verdict; present only when asked for (`--paths`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<PathVerdict>>,
    /// API calls, retries and wall time of the live collection; absent for a plain snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// What changed since the stored state (`--state`), when one is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleEntry>>,
}

/// One finding's lifecycle transition in this audit (`crate::lifecycle`).
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleEntry {
    /// `NEW`, `CHANGED`, `ONGOING`, `RESOLVED` or `SUPPRESSED`.
    pub lifecycle: &'static str,
    /// The cluster's AWS Region, when known (as in [`ClusterReport::region`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cluster: String,
    pub finding_id: String,
    pub title: String,
    /// Whether a notification would go out (a repeat not yet due for a reminder: no).
    pub notify: bool,
    pub why: Vec<String>,
}

/// What a live collection cost, as the report names it (snake_case, like every report field; the
/// collection notes file keeps the AWS CLI's camelCase).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Keyed by IAM action (`ec2:DescribeNetworkInterfaces`). Each call is one page.
    pub operations: std::collections::BTreeMap<String, crate::raw::OperationStats>,
    pub calls: u64,
    pub retries: u64,
    pub wall_time_ms: u64,
}

impl Stats {
    /// Adds another collection's cost, made at the same time (the Regions of one run are
    /// collected side by side): calls and retries add up, the wall time is the longer one.
    pub fn add(&mut self, other: &Stats) {
        for (action, op) in &other.operations {
            let entry = self.operations.entry(action.clone()).or_default();
            entry.calls += op.calls;
            entry.retries += op.retries;
            entry.failures += op.failures;
            entry.bytes += op.bytes;
        }
        self.calls += other.calls;
        self.retries += other.retries;
        self.wall_time_ms = self.wall_time_ms.max(other.wall_time_ms);
    }
}

impl From<&crate::raw::CollectionStats> for Stats {
    fn from(stats: &crate::raw::CollectionStats) -> Self {
        Stats {
            operations: stats.operations.clone(),
            calls: stats.calls,
            retries: stats.retries,
            wall_time_ms: stats.wall_time_ms,
        }
    }
}

impl Report {
    /// The most severe finding, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Every cluster's blind spots, with the cluster's name, in report order.
    pub fn blind_spots(&self) -> impl Iterator<Item = (&str, &BlindSpot)> + '_ {
        self.clusters
            .iter()
            .flat_map(|c| c.blind_spots.iter().map(move |b| (c.name.as_str(), b)))
    }

    /// `true` when every cluster got verdicts and nothing a verdict may depend on went unread:
    /// only such a report may read as a clean result (exit status 0, "No findings").
    pub fn is_complete(&self) -> bool {
        self.not_analysed.is_empty() && self.clusters.iter().all(|c| c.blind_spots.is_empty())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// The AWS Region the cluster is in, when the input says (a live collection, or a snapshot
    /// it wrote); a run over several Regions tells same-named clusters apart by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub name: String,
    pub vpc_id: String,
    pub vpc_cidrs: Vec<String>,
    pub ip_family: &'static str,
    pub cni: CniReport,
    pub nodes: usize,
    pub enis: usize,
    pub pod_addresses: usize,
    /// Private destinations beyond the VPC, as route CIDRs.
    pub destinations: Vec<String>,
    /// Verdict counts over the rows of `--paths`: ENIs × destinations × directions, an ENI
    /// counting once per part of its addresses that the far side routes differently.
    pub verdicts: VerdictCounts,
    /// Pods holding an address of their own, when a pods list was read (`null` otherwise).
    pub pods: Option<usize>,
    /// Nodes aws-node does not network, named: their pods get no verdicts (docs/datapath.md
    /// §10.8).
    pub nodes_not_modelled: Vec<NodeNotModelled>,
    /// Inputs podreach could not read that a verdict may depend on, with why and the remedy. A
    /// cluster with any is analysed, but the run is not a clean result (exit status 3).
    pub blind_spots: Vec<BlindSpot>,
    pub assumptions: Vec<String>,
}

/// A node whose pods podreach does not judge, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeNotModelled {
    pub name: String,
    pub instance_id: Option<String>,
    /// `fargate`, `auto-mode`, `hybrid`, `windows`.
    pub kind: &'static str,
    pub pods: usize,
    pub why: String,
}

/// Something podreach could not see in a cluster, why, and how to let it see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlindSpot {
    /// `Kubernetes API`, `CNI version`, …
    pub input: String,
    pub cause: String,
    pub remedy: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CniReport {
    /// `null` when no source names it (then `modelled_version` is assumed).
    pub version: Option<String>,
    pub version_source: Option<crate::cni::SettingSource>,
    pub modelled_version: String,
    pub settings: Vec<ResolvedSetting>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    pub reachable: usize,
    pub unreachable: usize,
    pub unknown: usize,
}

/// Severity of a finding, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| {
                sev.as_str().eq_ignore_ascii_case(s)
                    || (s.eq_ignore_ascii_case("info") && *sev == Severity::Informational)
            })
            .ok_or_else(|| {
                format!("`{s}` is not a severity (INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL)")
            })
    }
}

/// What kind of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Pod addresses in use (or possibly in use) cannot make the connection.
    Unreachable,
    /// Broken for addresses that carry no pod now, or for a secondary ENI the node will get:
    /// pods land on ENIs at random, so it will bite.
    LatentRisk,
    /// podreach could not decide (input not visible); what to add to the snapshot.
    Unverified,
}

impl FindingKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FindingKind::Unreachable => "unreachable",
            FindingKind::LatentRisk => "latent-risk",
            FindingKind::Unverified => "unverified",
        }
    }
}

/// Direction of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The pod opens the connection; the reply must come back (egress).
    PodToPeer,
    /// A host behind the private route opens the connection; the pod's reply must get out (ingress).
    PeerToPod,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::PodToPeer => "pod-to-peer",
            Direction::PeerToPod => "peer-to-pod",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Reachable,
    Unreachable,
    Unknown,
}

impl Verdict {
    /// The name the report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reachable => "reachable",
            Verdict::Unreachable => "unreachable",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Reason codes (docs/datapath.md §5.5, plus the codes marked "podreach" that the spec lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Cause {
    /// A packet leaves an ENI that does not own its source address.
    SrcdstEgress,
    /// The host's reverse-path filter drops the packet.
    RpfStrict,
    /// The egress subnet's route table has no active private route to the destination.
    NoRoute,
    /// podreach: the route exists but is a blackhole (its target is gone).
    RouteBlackhole,
    /// podreach: the VPC peering connection is not active.
    PcxNotActive,
    /// The destination is outside the directly peered VPC (no transitive peering).
    PcxNotDirect,
    /// podreach: the VPC has no attachment to the transit gateway the route names.
    TgwNoAttachment,
    /// podreach: the VPC's transit gateway attachment is not `available`.
    TgwAttachmentNotAvailable,
    /// No transit gateway attachment subnet in the egress subnet's Availability Zone.
    TgwNoAzAttachment,
    /// The transit gateway route table associated with the cluster VPC's attachment has no route
    /// for the destination (or the attachment is associated with no table).
    TgwNoRoute,
    /// A transit gateway route table on the path holds a blackhole route for the address.
    TgwBlackhole,
    /// The transit gateway route table associated with the far attachment does not route the
    /// cluster-side address (node IP after SNAT, else the pod address) to the cluster VPC's
    /// attachment.
    TgwNoReturn,
    /// The remote side does not route the address it sees back through the same object.
    PeerNoRoute,
    /// `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS` holds 0.0.0.0/0 on CNI ≤ 1.22 (#3658).
    SnatFlaky,
    /// Remote configuration not readable (not in the snapshot, another account, on premises).
    UnknownRemote,
    /// podreach: an input the verdict needs is missing from the snapshot.
    MissingInput,
    /// The security groups of the cluster-side ENI a packet leaves by do not allow it out.
    SgEgress,
    /// The security groups of the cluster-side ENI a packet enters by do not admit its source.
    SgIngress,
    /// The network ACL of a cluster subnet denies the request or its reply (first matching rule;
    /// stateless, so the reply to the client's ephemeral port needs its own rule).
    NaclLocal,
    /// The far destination's security groups do not admit the source it sees (or do not let its
    /// side of the connection out).
    PeerSg,
    /// The far subnet's network ACL denies the request or its reply.
    PeerNacl,
}

impl Cause {
    pub fn code(&self) -> &'static str {
        match self {
            Cause::SrcdstEgress => "SRCDST_EGRESS",
            Cause::RpfStrict => "RPF_STRICT",
            Cause::NoRoute => "NO_ROUTE",
            Cause::RouteBlackhole => "ROUTE_BLACKHOLE",
            Cause::PcxNotActive => "PCX_NOT_ACTIVE",
            Cause::PcxNotDirect => "PCX_NOT_DIRECT",
            Cause::TgwNoAttachment => "TGW_NO_ATTACHMENT",
            Cause::TgwAttachmentNotAvailable => "TGW_ATTACHMENT_NOT_AVAILABLE",
            Cause::TgwNoAzAttachment => "TGW_NO_AZ_ATTACHMENT",
            Cause::TgwNoRoute => "TGW_NO_ROUTE",
            Cause::TgwBlackhole => "TGW_BLACKHOLE",
            Cause::TgwNoReturn => "TGW_NO_RETURN",
            Cause::PeerNoRoute => "PEER_NO_ROUTE",
            Cause::SnatFlaky => "SNAT_FLAKY",
            Cause::UnknownRemote => "UNKNOWN_REMOTE",
            Cause::MissingInput => "MISSING_INPUT",
            Cause::SgEgress => "SG_EGRESS",
            Cause::SgIngress => "SG_INGRESS",
            Cause::NaclLocal => "NACL_LOCAL",
            Cause::PeerSg => "PEER_SG",
            Cause::PeerNacl => "PEER_NACL",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: Cause,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HopOutcome {
    Pass,
    Drop,
    Unknown,
}

/// One step of a packet's path, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// Where: `pod`, `node`, `vpc`, `peer`.
    pub at: &'static str,
    pub detail: String,
    pub outcome: HopOutcome,
}

/// One ENI's verdict for one destination block and direction.
#[derive(Debug, Clone, Serialize)]
pub struct PathVerdict {
    /// The cluster's AWS Region, when known (as in [`ClusterReport::region`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cluster: String,
    pub instance_id: String,
    pub eni_id: String,
    pub device_index: u32,
    pub network_card_index: u32,
    /// `primary`, `secondary` or `branch`.
    pub eni_role: &'static str,
    pub subnet_id: String,
    pub pod_ips: Vec<String>,
    pub pod_prefixes: Vec<String>,
    /// `namespace/name` of pods on these addresses, when a pods dump is present.
    pub pods: Vec<String>,
    pub destination: String,
    /// The route's CIDR this block belongs to (equal to `destination` unless it was split).
    pub route_destination: String,
    /// `pcx-`/`tgw-`/`vgw-`/`lgw-` id of the route the packet takes, when there is one.
    pub via: Option<String>,
    pub direction: Direction,
    pub verdict: Verdict,
    /// The first reason (the first drop point); `null` when reachable.
    pub cause: Option<Cause>,
    /// Every reason, in path order.
    pub causes: Vec<Reason>,
    /// The source address the peer sees: the node IP when SNATed, else `pod-ip` (each pod's own).
    pub source_ip_at_peer: String,
    pub egress_eni: String,
    pub host_table: HostTable,
    /// The TCP ports that pass every security group and network ACL on the way (within the
    /// `--port`s asked for), as `tcp/443, tcp/5432` or `every TCP port`; absent when the
    /// snapshot holds neither security groups nor network ACLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_ports: Option<String>,
    pub hops: Vec<Hop>,
    pub assumptions: Vec<String>,
}

/// Who a finding affects. Nodes, ENIs and prefixes are listed in full (they grow with the
/// cluster's ENIs); addresses are listed in full as ranges, and one by one up to
/// `findings::LIST_LIMIT`, like pod names, with the rest counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Affected {
    pub nodes: Vec<String>,
    pub enis: Vec<String>,
    /// The first `LIST_LIMIT` affected pod addresses, in address order.
    pub pod_addresses: Vec<String>,
    /// Affected addresses beyond `pod_addresses` (all of them are in `pod_address_ranges`).
    pub pod_addresses_omitted: usize,
    /// Every affected address, secondary IPs and delegated prefixes alike, as inclusive ranges
    /// (`10.0.1.20-10.0.1.68`, or a single address).
    pub pod_address_ranges: Vec<String>,
    pub pod_prefixes: Vec<String>,
    /// The first `LIST_LIMIT` pods using affected addresses, when a pods dump is present.
    pub pods: Vec<String>,
    /// Pods beyond `pods`.
    pub pods_omitted: usize,
    /// The workloads those pods belong to, most pods first (every one of them: workloads grow
    /// with deployments, not with pods).
    pub workloads: Vec<WorkloadCount>,
    /// Affected addresses that hold no pod (the CNI's warm pool): judged like the others, but
    /// no pod uses them today. `null` without a pods list (every address then counts as used).
    pub unused_addresses: Option<usize>,
    pub pod_address_count: usize,
}

/// A workload and how many of its pods a finding affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadCount {
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `CronJob`, `Job`, `ReplicaSet`, `Pod` (no
    /// controller), …
    pub kind: String,
    pub name: String,
    pub pods: usize,
}

impl std::fmt::Display for WorkloadCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.pods == 1 { "" } else { "s" };
        write!(
            f,
            "{}/{}/{} ({} pod{plural})",
            self.namespace, self.kind, self.name, self.pods
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Remediation {
    pub action: String,
    pub command: Option<String>,
    /// When following this fix would break the flow it is meant to repair (it changes the
    /// source the far side sees, and the far side's security groups or network ACLs do not
    /// admit the new source): what would block it. The rules that admit it are listed as
    /// separate remediations right after this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breaks: Vec<String>,
}

/// One root cause: every destination it breaks in one direction, and everyone it affects.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable across runs: a hash of cluster, cause, direction and kind (never of a destination
    /// or an ENI id, so adding or removing a route keeps the id).
    pub id: String,
    pub kind: FindingKind,
    pub severity: Severity,
    /// The cluster's AWS Region, when known (as in [`ClusterReport::region`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cluster: String,
    pub title: String,
    pub detail: String,
    /// The first of `destinations` (kept from the first v1 reports, which had one per finding).
    pub destination: String,
    /// Every route CIDR this cause breaks in this direction, in address order.
    pub destinations: Vec<String>,
    pub direction: Direction,
    pub cause: Cause,
    /// The route target of the first destination.
    pub via: Option<String>,
    pub affected: Affected,
    pub remediation: Vec<Remediation>,
    pub assumptions: Vec<String>,
}

/// `text` cut to at most `max` characters, ending with `…` when cut: how every outlet with a
/// length limit (a Chatbot title, an ASFF description) shortens a report's text.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
