//! The decision procedure of datapath.md §5: from the model to per-ENI verdicts.
//!
//! Work is grouped by equivalence class. Two pod ENIs share a fate when they have the same
//! placement on the host (primary, secondary with a given table, branch), the same subnet and the
//! same node subnet, because everything the procedure looks at (host rules, the route tables of
//! the ENI's and the node's subnets, the return routes for those subnets) is then identical. Each
//! class is evaluated once per destination block and direction; verdicts are expanded to ENIs
//! only for output, so a 5,000-node cluster costs little more than a small one. Hop texts carry
//! placeholders (`{eni}`, `{node_ip}`, …) filled per ENI when expanding.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::cidr;
use crate::cni::{CniConfig, SgpMode, Version};
use crate::datapath::{DestinationFlags, HostDatapath, HostTable, Placement};
use crate::findings;
use crate::model::{Cluster, Eni, EniType, IpFamily, Model, Network, Node, Target};
use crate::report::{
    Cause, ClusterReport, CniReport, Direction, Gap, Hop, PathVerdict, Reason, Report, SCHEMA,
    Verdict, VerdictCounts,
};
use crate::vpc_path::{Remote, Trace, VpcView};

/// What `analyze` should produce beyond findings.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Expand every per-ENI verdict into `Report::paths`.
    pub include_paths: bool,
}

/// Assumptions every verdict carries because the snapshot format does not hold the data.
pub const SECURITY_ASSUMPTION: &str = "security groups and network ACLs are not evaluated (not in the snapshot): assumed to admit the flow both ways, including replies to ephemeral ports 1024-65535";

/// A pod-address holder on a node: one ENI (or branch ENI) with its pod addresses.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub node: &'a Node,
    pub eni: &'a Eni,
    pub primary: &'a Eni,
    pub placement: Placement,
    pub pod_ips: Vec<Ipv4Addr>,
    pub pod_prefixes: Vec<Ipv4Net>,
}

impl Subject<'_> {
    fn has_pod_addresses(&self) -> bool {
        !self.pod_ips.is_empty() || !self.pod_prefixes.is_empty()
    }

    pub fn class(&self) -> ClassKey {
        ClassKey {
            placement: self.placement,
            eni_subnet: self.eni.subnet_id.clone(),
            node_subnet: self.primary.subnet_id.clone(),
            eni_check: self.eni.source_dest_check,
            primary_check: self.primary.source_dest_check,
        }
    }

    pub fn role(&self) -> &'static str {
        match self.placement {
            Placement::PrimaryEni => "primary",
            Placement::SecondaryEni { .. } => "secondary",
            Placement::Branch { .. } => "branch",
        }
    }

    pub fn pod_address_count(&self) -> usize {
        self.pod_ips.len()
            + self
                .pod_prefixes
                .iter()
                .map(|p| 1usize << (32 - p.prefix_len()))
                .sum::<usize>()
    }

    /// Fills the placeholders of a class-level text for this ENI.
    pub fn render(&self, template: &str) -> String {
        template
            .replace("{eni}", &self.eni.id)
            .replace("{primary_eni}", &self.primary.id)
            .replace("{node_ip}", &self.node.ip.to_string())
            .replace("{instance}", &self.node.instance_id)
    }
}

/// ENIs whose verdicts are identical.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassKey {
    pub placement: Placement,
    pub eni_subnet: String,
    pub node_subnet: String,
    pub eni_check: bool,
    pub primary_check: bool,
}

/// A destination block: a route CIDR, or the part of it that is uniform for every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub block: Ipv4Net,
    /// The private route CIDR this block belongs to.
    pub route: Ipv4Net,
    pub flags: DestinationFlags,
}

/// Where the packet leaves the node and with which source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAtPeer {
    NodeIp,
    PodIp,
}

/// The verdict of one class for one block and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub hops: Vec<Hop>,
    pub via: Option<String>,
    pub source: SourceAtPeer,
    /// `true` when the packet toward the peer leaves by the primary ENI.
    pub egress_primary: bool,
    pub host_table: HostTable,
    pub assumptions: Vec<String>,
}

impl Evaluation {
    /// The first drop point when unreachable (an undecided check before it is not a drop), the
    /// first undecided check when unknown, none when reachable.
    pub fn cause(&self) -> Option<Cause> {
        let undecided = |c: Cause| matches!(c, Cause::UnknownRemote | Cause::MissingInput);
        match self.verdict {
            Verdict::Reachable => None,
            Verdict::Unreachable => self.reasons.iter().map(|r| r.code).find(|c| !undecided(*c)),
            Verdict::Unknown => self.reasons.first().map(|r| r.code),
        }
    }

    fn from_trace(
        trace: Trace,
        via: Option<String>,
        source: SourceAtPeer,
        egress_primary: bool,
        host_table: HostTable,
    ) -> Self {
        let verdict = if trace.failed {
            Verdict::Unreachable
        } else if trace.undecided {
            Verdict::Unknown
        } else {
            Verdict::Reachable
        };
        Evaluation {
            verdict,
            reasons: trace.reasons,
            hops: trace.hops,
            via,
            source,
            egress_primary,
            host_table,
            assumptions: trace.assumptions,
        }
    }
}

/// Everything the procedure needs about one cluster.
#[derive(Debug)]
pub struct ClusterContext<'a> {
    pub cluster: &'a Cluster,
    pub net: &'a Network,
    pub host: HostDatapath<'a>,
    pub vpc: VpcView<'a>,
    pub vpc_cidrs: Vec<Ipv4Net>,
}

impl<'a> ClusterContext<'a> {
    pub fn new(model: &'a Model, cluster: &'a Cluster) -> Self {
        let vpc_cidrs = model
            .network
            .vpcs
            .get(&cluster.vpc_id)
            .map(|v| v.cidrs.clone())
            .unwrap_or_default();
        ClusterContext {
            cluster,
            net: &model.network,
            host: HostDatapath::new(&cluster.cni),
            vpc: VpcView::new(&model.network, &cluster.vpc_id),
            vpc_cidrs,
        }
    }

    fn cni(&self) -> &'a CniConfig {
        &self.cluster.cni
    }

    /// The pod-address holders of the cluster, with gaps for ENIs that cannot be placed.
    pub fn subjects(&self, gaps: &mut Vec<Gap>) -> Vec<Subject<'a>> {
        let mut subjects = Vec::new();
        let cluster = self.cluster;
        for node in &cluster.nodes {
            let Some(primary) = self.net.enis.get(&node.primary_eni) else {
                continue;
            };
            if !self.net.subnets.contains_key(&primary.subnet_id) {
                continue; // already a gap from model building
            }
            for eni_id in &node.enis {
                let Some(eni) = self.net.enis.get(eni_id) else {
                    continue;
                };
                let Some(attachment) = &eni.attachment else {
                    continue;
                };
                if !self.net.subnets.contains_key(&eni.subnet_id) {
                    continue;
                }
                if matches!(eni.kind, EniType::Trunk | EniType::Branch | EniType::Other) {
                    continue;
                }
                if !self.host.manages_card(attachment.network_card_index) {
                    if !eni.secondary_ips.is_empty() || !eni.prefixes.is_empty() {
                        gaps.push(Gap {
                            cluster: Some(cluster.name.clone()),
                            file: Some(eni.file.clone()),
                            object: Some(eni.id.clone()),
                            message: format!(
                                "ENI on network card {} is not managed by CNI {} without ENABLE_MULTI_NIC (v1.20+): its addresses are not pod addresses",
                                attachment.network_card_index, cluster.cni.version
                            ),
                        });
                    }
                    continue;
                }
                let placement = if eni.is_primary() {
                    Placement::PrimaryEni
                } else {
                    Placement::SecondaryEni {
                        table: self
                            .host
                            .eni_table(attachment.device_index, attachment.network_card_index),
                    }
                };
                subjects.push(Subject {
                    node,
                    eni,
                    primary,
                    placement,
                    pod_ips: eni.secondary_ips.clone(),
                    pod_prefixes: eni.prefixes.clone(),
                });
            }
            for branch in &node.branch_enis {
                let Some(eni) = self.net.enis.get(&branch.eni_id) else {
                    continue;
                };
                if !self.net.subnets.contains_key(&eni.subnet_id) {
                    continue;
                }
                let table = HostTable::Vlan(branch.vlan_id.map(|v| v + 100));
                let mode = if cluster.cni.pod_eni {
                    cluster.cni.sgp_mode
                } else {
                    SgpMode::Strict
                };
                subjects.push(Subject {
                    node,
                    eni,
                    primary,
                    placement: Placement::Branch { mode, table },
                    pod_ips: vec![eni.primary_ip],
                    pod_prefixes: Vec::new(),
                });
            }
        }
        subjects
    }

    /// A secondary ENI the node may be given (for latent risk): device 1 in the subnet the CNI
    /// would use (the ENIConfig subnet of the node's AZ with custom networking, else the node subnet).
    pub fn hypothetical_secondary(&self, node: &'a Node) -> Option<(ClassKey, String)> {
        let primary = self.net.enis.get(&node.primary_eni)?;
        let node_subnet = self.net.subnets.get(&primary.subnet_id)?;
        let subnet = if self.cni().custom_networking {
            self.cluster
                .eniconfigs
                .iter()
                .filter_map(|c| self.net.subnets.get(&c.subnet_id))
                .find(|s| s.az == node_subnet.az)
                .map_or_else(|| node_subnet.id.clone(), |s| s.id.clone())
        } else {
            node_subnet.id.clone()
        };
        let key = ClassKey {
            placement: Placement::SecondaryEni {
                table: self.host.eni_table(1, 0),
            },
            eni_subnet: subnet.clone(),
            node_subnet: node_subnet.id.clone(),
            eni_check: true,
            primary_check: primary.source_dest_check,
        };
        Some((key, subnet))
    }

    /// Private destinations beyond the VPC (routes to `pcx-`/`tgw-`/`vgw-`/`lgw-` outside the VPC
    /// CIDRs in the route tables of `subnets`), split into uniform blocks.
    pub fn blocks(&self, subnets: &BTreeSet<String>) -> (Vec<Ipv4Net>, Vec<Block>) {
        let tables: BTreeSet<&str> = subnets
            .iter()
            .filter_map(|s| self.net.route_table_of_subnet(s))
            .map(|t| t.id.as_str())
            .collect();
        let mut routes: BTreeSet<Ipv4Net> = BTreeSet::new();
        let mut boundaries: Vec<Ipv4Net> = self.vpc_cidrs.clone();
        boundaries.extend(&self.cni().exclude_snat_cidrs);
        boundaries.extend(&self.cni().external_service_cidrs);
        for table in tables.iter().filter_map(|t| self.net.route_tables.get(*t)) {
            for route in &table.routes {
                boundaries.push(route.destination);
                if route.target.is_private_beyond_vpc()
                    && !cidr::covered_by_any(&self.vpc_cidrs, &route.destination)
                {
                    routes.insert(route.destination);
                }
            }
        }
        // Other VPCs of the snapshot behind these routes: split at their CIDRs and subnets so
        // each block has one remote subnet (one remote route table).
        let mut known_remote_vpcs: Vec<&[Ipv4Net]> = Vec::new();
        for vpc in self
            .net
            .vpcs
            .values()
            .filter(|v| v.id != self.cluster.vpc_id)
        {
            if vpc
                .cidrs
                .iter()
                .any(|c| routes.iter().any(|r| cidr::overlaps(c, r)))
            {
                boundaries.extend(&vpc.cidrs);
                let subnets: Vec<Ipv4Net> = self
                    .net
                    .subnets
                    .values()
                    .filter(|s| s.vpc_id == vpc.id)
                    .map(|s| s.cidr)
                    .collect();
                if !subnets.is_empty() {
                    known_remote_vpcs.push(&vpc.cidrs);
                }
                boundaries.extend(subnets);
            }
        }
        let remote_subnets: Vec<Ipv4Net> = self.net.subnets.values().map(|s| s.cidr).collect();
        let route_list: Vec<Ipv4Net> = routes.iter().copied().collect();
        let mut blocks = Vec::new();
        for route in &route_list {
            for block in cidr::split(*route, &boundaries) {
                if cidr::covered_by_any(&self.vpc_cidrs, &block) {
                    continue; // the VPC's local route wins for these addresses
                }
                // Belongs to a more specific destination route: evaluated there.
                if route_list
                    .iter()
                    .any(|r| r.prefix_len() > route.prefix_len() && cidr::contains(r, &block))
                {
                    continue;
                }
                // Inside a VPC whose subnets are known, but in none of them: no host can be there.
                if known_remote_vpcs
                    .iter()
                    .any(|cidrs| cidr::covered_by_any(cidrs, &block))
                    && !cidr::covered_by_any(&remote_subnets, &block)
                {
                    continue;
                }
                let flags = DestinationFlags {
                    excluded_from_snat: cidr::covered_by_any(
                        &self.cni().exclude_snat_cidrs,
                        &block,
                    ),
                    external_service: cidr::covered_by_any(
                        &self.cni().external_service_cidrs,
                        &block,
                    ),
                };
                blocks.push(Block {
                    block,
                    route: *route,
                    flags,
                });
            }
        }
        (route_list, blocks)
    }

    fn subnet_cidr(&self, subnet_id: &str) -> Option<Ipv4Net> {
        self.net.subnets.get(subnet_id).map(|s| s.cidr)
    }

    /// `true` when X holds 0.0.0.0/0 on a version whose RETURN rule is lost on restarts (#3658).
    fn snat_flaky(&self) -> bool {
        let cni = self.cni();
        !cni.external_snat
            && cni.version < Version::new(1, 23, 0)
            && cni.exclude_snat_cidrs.iter().any(|c| c.prefix_len() == 0)
    }

    /// Evaluates one class for one block and direction.
    pub fn evaluate(&self, class: &ClassKey, block: &Block, direction: Direction) -> Evaluation {
        match direction {
            Direction::PodToPeer => {
                let normal = self.egress(class, block, None);
                if self.snat_flaky() && !block.flags.external_service {
                    let restarted = self.egress(class, block, Some(true));
                    return merge_flaky(normal, restarted);
                }
                normal
            }
            Direction::PeerToPod => self.ingress(class, block),
        }
    }

    fn interface_name(primary: bool) -> &'static str {
        if primary {
            "the primary interface (eth0/ens5)"
        } else {
            "the ENI's interface"
        }
    }

    /// §5.3 EGRESS: the pod opens a connection to `block`; the reply must come back.
    fn egress(&self, class: &ClassKey, block: &Block, force_snat: Option<bool>) -> Evaluation {
        let mut trace = Trace::default();
        let d = block.block;
        let placement = class.placement;
        trace.pass(
            "pod",
            format!(
                "the pod sends to {d} by its default route via 169.254.1.1 (its veth to the host)"
            ),
        );

        // Step 1: security groups for pods, strict mode.
        if let Placement::Branch {
            mode: SgpMode::Strict,
            table,
        } = placement
        {
            // Source: network.go / driver.go SGP strict: iif rules at priority 10, table vlanId+100; `! -o vlan+` skips SNAT.
            trace.pass(
                "node",
                format!("security groups for pods (strict): rule 10 `iif vlan… lookup {table}` sends it out of branch ENI {{eni}}; never SNATed (`! -o vlan+`)"),
            );
            self.owns_check(&mut trace, class, false, SourceAtPeer::PodIp);
            self.aws_legs(&mut trace, class, block, false, SourceAtPeer::PodIp);
            trace.pass("node", "the reply arrives on the branch ENI and reaches the pod by the `iif` rule at priority 10");
            let via = self.via_of(class, false, d);
            return Evaluation::from_trace(trace, via, SourceAtPeer::PodIp, false, table);
        }

        // Step 2: SNAT, connmark, policy routing.
        let snat = force_snat.unwrap_or_else(|| self.host.snat(&placement, block.flags));
        // With the RETURN rules lost (#3658) the exclusion no longer applies to SNAT nor to the
        // connmark chain: `marked(D) := V ≥ 1.8 ∧ SNAT(D)` (datapath.md §5.2).
        let mark_flags = if force_snat.is_some() {
            DestinationFlags {
                excluded_from_snat: false,
                ..block.flags
            }
        } else {
            block.flags
        };
        let mark = snat && self.host.marked(&placement, mark_flags);
        if mark {
            trace.pass(
                "node",
                format!(
                    "nat PREROUTING (AWS-CONNMARK-CHAIN-0): {d} is outside the VPC CIDRs{}, so the connection gets mark {:#x}",
                    if self.cni().exclude_snat_cidrs.is_empty() { "" } else { " and the SNAT exclusions" },
                    self.cni().connmark
                ),
            );
        }
        let hit = self.host.lookup(&placement, block.flags, mark);
        let out_primary = hit.table == HostTable::Main;
        trace.pass(
            "node",
            format!(
                "policy routing: `{}` ({}) → leaves by {}",
                hit.rule,
                hit.source,
                if out_primary {
                    "primary ENI {primary_eni}"
                } else {
                    "ENI {eni}"
                }
            ),
        );
        let source = if snat {
            SourceAtPeer::NodeIp
        } else {
            SourceAtPeer::PodIp
        };
        if snat {
            let note = if force_snat.is_some() {
                " (the EXCLUDE_SNAT_CIDRS RETURN rule for 0.0.0.0/0 is lost after every second aws-node restart, #3658)"
            } else {
                ""
            };
            trace.pass("node", format!("nat POSTROUTING (AWS-SNAT-CHAIN-0): source rewritten to the node IP {{node_ip}}{note}"));
        } else {
            trace.pass("node", format!("no SNAT: {}", self.no_snat_reason(block)));
        }

        // Step 3: source/destination check at the egress ENI.
        self.owns_check(&mut trace, class, out_primary, source);
        // Step 4: AWS path from the egress ENI's subnet, and the return route at the peer.
        self.aws_legs(&mut trace, class, block, out_primary, source);

        // Step 5: the reply arrives on the ENI owning the source; reverse-path filter.
        let arrival_primary = match source {
            SourceAtPeer::NodeIp => true,
            SourceAtPeer::PodIp => placement.is_primary(),
        };
        let reverse = self.host.lookup(&placement, block.flags, false);
        let reverse_primary = reverse.table == HostTable::Main;
        self.rpf_check(
            &mut trace,
            arrival_primary,
            reverse_primary,
            &reverse.rule,
            true,
        );
        trace.pass(
            "node",
            "rule 512 `to <pod> lookup main` → host veth → the pod",
        );
        let via = self.via_of(class, out_primary, d);
        Evaluation::from_trace(trace, via, source, out_primary, hit.table)
    }

    /// §5.4 INGRESS: a host in `block` opens a connection to the pod; the reply must get out.
    fn ingress(&self, class: &ClassKey, block: &Block) -> Evaluation {
        let mut trace = Trace::default();
        let d = block.block;
        let placement = class.placement;
        let pod_subnet = self.subnet_cidr(&class.eni_subnet);

        // Step 1: forward AWS path: the remote side routes the pod address to this VPC.
        let (object, remote) = self.object_towards(class, d);
        match (&object, &remote, pod_subnet) {
            (Some(object), Some(remote), Some(pod_block)) => {
                self.vpc.remote_routes(remote, d, object, pod_block, "the pod subnet", &mut trace);
            }
            _ => trace.unknown(
                "peer",
                Cause::UnknownRemote,
                format!("no private route from the cluster's subnets leads to {d}, so the object the peer would use is unknown"),
            ),
        }
        trace.pass("vpc", "the VPC delivers the packet to ENI {eni}, which owns the pod address (never NATed inbound)");

        // Step 2: RPF on the arrival interface.
        let reverse = self.host.lookup(&placement, block.flags, false);
        let reverse_primary = reverse.table == HostTable::Main;
        let strict_branch = matches!(
            placement,
            Placement::Branch {
                mode: SgpMode::Strict,
                ..
            }
        );
        if !strict_branch {
            self.rpf_check(
                &mut trace,
                placement.is_primary(),
                reverse_primary,
                &reverse.rule,
                false,
            );
        }
        // Step 3: delivery.
        trace.pass(
            "node",
            "rule 512 `to <pod> lookup main` → host veth → the pod",
        );
        // Step 4: the pod's reply: ESTABLISHED, so no SNAT and no connmark.
        trace.pass("pod", "the pod replies from its own address; the connection is ESTABLISHED, so nat is skipped: no SNAT, no connmark");
        let (out_primary, table) = if strict_branch {
            trace.pass("node", "security groups for pods (strict): rule 10 `iif vlan…` sends the reply out of the branch ENI");
            (false, placement.table())
        } else {
            trace.pass(
                "node",
                format!(
                    "policy routing for the reply: `{}` ({}) → leaves by {}",
                    reverse.rule,
                    reverse.source,
                    if reverse_primary {
                        "primary ENI {primary_eni}"
                    } else {
                        "ENI {eni}"
                    }
                ),
            );
            (reverse_primary, reverse.table)
        };
        // Step 5: source/destination check on the reply.
        self.owns_check(&mut trace, class, out_primary, SourceAtPeer::PodIp);
        // Step 6: the reply's AWS path.
        let out_subnet = if out_primary {
            &class.node_subnet
        } else {
            &class.eni_subnet
        };
        self.vpc.outbound(out_subnet, d, &mut trace);
        trace.assume(SECURITY_ASSUMPTION);
        let via = object
            .map(|o| o.id().to_owned())
            .or_else(|| self.via_of(class, out_primary, d));
        Evaluation::from_trace(trace, via, SourceAtPeer::PodIp, out_primary, table)
    }

    fn no_snat_reason(&self, block: &Block) -> String {
        let cni = self.cni();
        if cni.external_snat {
            "AWS_VPC_K8S_CNI_EXTERNALSNAT=true removes the SNAT rules".to_owned()
        } else if block.flags.excluded_from_snat {
            format!(
                "{} is in AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (RETURN in AWS-SNAT-CHAIN-0)",
                block.block
            )
        } else {
            "the packet matches no SNAT rule".to_owned()
        }
    }

    /// Source/destination check (datapath.md §4.1) on the ENI the packet leaves by.
    fn owns_check(
        &self,
        trace: &mut Trace,
        class: &ClassKey,
        out_primary: bool,
        source: SourceAtPeer,
    ) {
        let owns = match (out_primary, source) {
            (true, SourceAtPeer::NodeIp) => true,
            (true, SourceAtPeer::PodIp) => class.placement.is_primary(),
            (false, SourceAtPeer::NodeIp) => false,
            (false, SourceAtPeer::PodIp) => true,
        };
        let (eni, checked) = if out_primary {
            ("{primary_eni}", class.primary_check)
        } else {
            ("{eni}", class.eni_check)
        };
        let src = match source {
            SourceAtPeer::NodeIp => "the node IP {node_ip}",
            SourceAtPeer::PodIp => "the pod address",
        };
        if owns {
            trace.pass(
                "vpc",
                format!("source/destination check on {eni}: it owns {src}"),
            );
        } else if !checked {
            trace.pass(
                "vpc",
                format!("{eni} does not own {src}, but its source/destination check is disabled, so EC2 forwards it"),
            );
        } else {
            trace.drop(
                "vpc",
                Cause::SrcdstEgress,
                format!("the packet leaves {eni} with {src}, which {eni} does not own: the EC2 source/destination check drops it"),
            );
        }
    }

    /// `rpf_drop(arrival, p, D)` (datapath.md §5.2).
    fn rpf_check(
        &self,
        trace: &mut Trace,
        arrival_primary: bool,
        reverse_primary: bool,
        reverse_rule: &str,
        decides: bool,
    ) {
        let interface = Self::interface_name(arrival_primary);
        if arrival_primary == reverse_primary {
            trace.pass(
                "node",
                format!(
                    "reverse-path check on {interface}: the reverse route uses the same interface"
                ),
            );
            return;
        }
        let reverse_if = if reverse_primary {
            "the primary ENI"
        } else {
            "the pod's ENI"
        };
        match self.host.rp_filter(arrival_primary) {
            Some(1) => trace.drop(
                "node",
                Cause::RpfStrict,
                format!(
                    "the packet arrives on {interface}, but the reverse route to the pod address (`{reverse_rule}`) uses {reverse_if}; rp_filter=1 (strict) there drops it"
                ),
            ),
            Some(mode) => trace.pass(
                "node",
                format!("reverse-path check on {interface}: the reverse route uses {reverse_if}, but rp_filter={mode} accepts it"),
            ),
            None if decides => trace.unknown(
                "node",
                Cause::MissingInput,
                format!("the reply arrives on {interface} whose reverse route uses {reverse_if}; rp_filter there is unknown, and 1 (strict) would drop it"),
            ),
            None => trace.assume(format!(
                "rp_filter on {interface} unknown: if it is 1 the packet is already dropped on arrival (the reverse route uses {reverse_if}); the verdict is the same"
            )),
        }
    }

    /// `AWS_PATH` from the egress ENI's subnet, then the return route at the peer.
    fn aws_legs(
        &self,
        trace: &mut Trace,
        class: &ClassKey,
        block: &Block,
        out_primary: bool,
        source: SourceAtPeer,
    ) {
        let out_subnet = if out_primary {
            &class.node_subnet
        } else {
            &class.eni_subnet
        };
        let outbound = self.vpc.outbound(out_subnet, block.block, trace);
        let source_subnet = match source {
            SourceAtPeer::NodeIp => &class.node_subnet,
            SourceAtPeer::PodIp => &class.eni_subnet,
        };
        let label = match source {
            SourceAtPeer::NodeIp => "the node subnet",
            SourceAtPeer::PodIp => "the pod subnet",
        };
        if let (Some(object), Some(remote), Some(source_block)) = (
            &outbound.object,
            &outbound.remote,
            self.subnet_cidr(source_subnet),
        ) {
            self.vpc
                .remote_routes(remote, block.block, object, source_block, label, trace);
        }
        trace.assume(SECURITY_ASSUMPTION);
    }

    /// The private object and remote side for `d` as the pod's subnet (else the node subnet) sees
    /// it. The far side is identified from the route's target even when that route is broken, so
    /// the peer's own routing is still checked (datapath.md §5.6: run every step).
    fn object_towards(&self, class: &ClassKey, d: Ipv4Net) -> (Option<Target>, Option<Remote>) {
        for subnet in [&class.eni_subnet, &class.node_subnet] {
            let mut scratch = Trace::default();
            let outbound = self.vpc.outbound(subnet, d, &mut scratch);
            if let Some(object) = outbound.object {
                let remote = outbound.remote.unwrap_or_else(|| match &object {
                    Target::TransitGateway(t) => self.vpc.vpc_behind(d, Some(t)),
                    Target::Peering(_) => self.vpc.vpc_behind(d, None),
                    other => Remote::OnPremises(other.id().to_owned()),
                });
                return (Some(object), Some(remote));
            }
        }
        (None, None)
    }

    fn via_of(&self, class: &ClassKey, out_primary: bool, d: Ipv4Net) -> Option<String> {
        let subnet = if out_primary {
            &class.node_subnet
        } else {
            &class.eni_subnet
        };
        let table = self.net.route_table_of_subnet(subnet)?;
        let index = cidr::longest_match(table.routes.iter().map(|r| &r.destination), &d)?;
        let target = &table.routes[index].target;
        target
            .is_private_beyond_vpc()
            .then(|| target.id().to_owned())
    }
}

/// Combines the two SNAT states of a flaky exclusion (#3658): both must work.
fn merge_flaky(normal: Evaluation, restarted: Evaluation) -> Evaluation {
    let note = "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS holds 0.0.0.0/0 on CNI < v1.23.0: its RETURN rule is deleted on every second aws-node restart (#3658), so connections are SNATed some of the time; both states were evaluated".to_owned();
    if normal.verdict == restarted.verdict && normal.reasons == restarted.reasons {
        let mut merged = normal;
        merged.assumptions.push(note);
        return merged;
    }
    let (bad, state) =
        if restarted.verdict == Verdict::Unreachable || normal.verdict == Verdict::Reachable {
            (restarted, "while SNAT is back (after a restart)")
        } else {
            (normal, "while the exclusion holds")
        };
    let mut merged = bad;
    merged.reasons.insert(
        0,
        Reason {
            code: Cause::SnatFlaky,
            detail: format!("the path fails {state}: {note}"),
        },
    );
    if merged.verdict == Verdict::Reachable {
        merged.verdict = Verdict::Unknown;
    }
    if merged.reasons.iter().any(|r| {
        r.code != Cause::SnatFlaky
            && r.code != Cause::UnknownRemote
            && r.code != Cause::MissingInput
    }) {
        merged.verdict = Verdict::Unreachable;
    }
    merged
}

/// Results of one cluster: every class evaluated for every block and direction.
#[derive(Debug)]
pub struct ClusterAnalysis<'a> {
    pub ctx: ClusterContext<'a>,
    pub subjects: Vec<Subject<'a>>,
    pub routes: Vec<Ipv4Net>,
    pub blocks: Vec<Block>,
    pub evaluations: BTreeMap<(ClassKey, usize, Direction), Evaluation>,
    /// Hypothetical secondary ENIs per node (latent risk), by class.
    pub hypothetical: BTreeMap<ClassKey, Vec<&'a Node>>,
}

const DIRECTIONS: [Direction; 2] = [Direction::PodToPeer, Direction::PeerToPod];

pub fn analyze_cluster<'a>(
    model: &'a Model,
    cluster: &'a Cluster,
    gaps: &mut Vec<Gap>,
) -> ClusterAnalysis<'a> {
    let ctx = ClusterContext::new(model, cluster);
    let subjects = ctx.subjects(gaps);
    let mut hypothetical: BTreeMap<ClassKey, Vec<&Node>> = BTreeMap::new();
    for node in &cluster.nodes {
        if let Some((key, _)) = ctx.hypothetical_secondary(node) {
            hypothetical.entry(key).or_default().push(node);
        }
    }
    let mut subnets: BTreeSet<String> = BTreeSet::new();
    for s in &subjects {
        subnets.insert(s.eni.subnet_id.clone());
        subnets.insert(s.primary.subnet_id.clone());
    }
    for key in hypothetical.keys() {
        subnets.insert(key.eni_subnet.clone());
        subnets.insert(key.node_subnet.clone());
    }
    let (routes, blocks) = ctx.blocks(&subnets);
    let classes: BTreeSet<ClassKey> = subjects
        .iter()
        .map(Subject::class)
        .chain(hypothetical.keys().cloned())
        .collect();
    let mut evaluations = BTreeMap::new();
    for class in &classes {
        for (index, block) in blocks.iter().enumerate() {
            for direction in DIRECTIONS {
                evaluations.insert(
                    (class.clone(), index, direction),
                    ctx.evaluate(class, block, direction),
                );
            }
        }
    }
    ClusterAnalysis {
        ctx,
        subjects,
        routes,
        blocks,
        evaluations,
        hypothetical,
    }
}

/// `analyze(&Model) -> Report`: deterministic, pure.
pub fn analyze(model: &Model, options: &AnalyzeOptions) -> Report {
    let mut gaps = model.gaps.clone();
    let mut clusters = Vec::new();
    let mut findings_out = Vec::new();
    let mut paths = Vec::new();
    for cluster in &model.clusters {
        if cluster.ip_family == IpFamily::V6 {
            gaps.push(Gap {
                cluster: Some(cluster.name.clone()),
                file: Some(cluster.file.clone()),
                object: None,
                message: "IPv6 cluster: not analysed yet (datapath.md §5.4a); no verdicts are given for it".to_owned(),
            });
            clusters.push(cluster_report(
                model,
                cluster,
                None,
                VerdictCounts::default(),
            ));
            continue;
        }
        let analysis = analyze_cluster(model, cluster, &mut gaps);
        if analysis.blocks.is_empty() {
            gaps.push(Gap {
                cluster: Some(cluster.name.clone()),
                file: None,
                object: None,
                message: "no private route beyond the VPC (pcx-/tgw-/vgw-/lgw-) in the route tables of the node and pod subnets: nothing to check".to_owned(),
            });
        }
        let cluster_paths = expand_paths(&analysis);
        let counts = count(&cluster_paths);
        findings_out.extend(findings::findings(&analysis, &cluster_paths));
        clusters.push(cluster_report(model, cluster, Some(&analysis), counts));
        if options.include_paths {
            paths.extend(cluster_paths);
        }
    }
    findings_out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| a.id.cmp(&b.id))
    });
    Report {
        schema: SCHEMA,
        clusters,
        findings: findings_out,
        gaps,
        paths: options.include_paths.then_some(paths),
        stats: model.collection_stats.clone(),
    }
}

fn count(paths: &[PathVerdict]) -> VerdictCounts {
    let mut counts = VerdictCounts::default();
    for p in paths {
        match p.verdict {
            Verdict::Reachable => counts.reachable += 1,
            Verdict::Unreachable => counts.unreachable += 1,
            Verdict::Unknown => counts.unknown += 1,
        }
    }
    counts
}

/// Blocks of one route whose evaluations for a class are the same once the block is named by
/// the route are shown as the route; otherwise each block is shown on its own.
fn coalesced<'e>(
    analysis: &'e ClusterAnalysis<'_>,
    class: &ClassKey,
    direction: Direction,
) -> Vec<(String, Ipv4Net, &'e Evaluation)> {
    let mut out = Vec::new();
    for route in &analysis.routes {
        let members: Vec<(usize, &Block)> = analysis
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.route == *route)
            .collect();
        let evals: Vec<(&Block, &Evaluation)> = members
            .iter()
            .filter_map(|(i, b)| {
                analysis
                    .evaluations
                    .get(&(class.clone(), *i, direction))
                    .map(|e| (*b, e))
            })
            .collect();
        let Some((first_block, first)) = evals.first() else {
            continue;
        };
        let normalise = |b: &Block, e: &Evaluation| -> Vec<String> {
            e.hops
                .iter()
                .map(|h| h.detail.replace(&b.block.to_string(), &route.to_string()))
                .collect()
        };
        let reference = normalise(first_block, first);
        let uniform = evals.iter().all(|(b, e)| {
            e.verdict == first.verdict
                && e.reasons
                    .iter()
                    .map(|r| r.code)
                    .eq(first.reasons.iter().map(|r| r.code))
                && normalise(b, e) == reference
        });
        if uniform && evals.len() > 1 {
            out.push((route.to_string(), *route, *first));
        } else {
            for (b, e) in evals {
                out.push((b.block.to_string(), *route, e));
            }
        }
    }
    out
}

/// Per class and direction: `(destination shown, route, evaluation)`.
type CoalescedPaths<'e> = Vec<(String, Ipv4Net, &'e Evaluation)>;

fn expand_paths(analysis: &ClusterAnalysis<'_>) -> Vec<PathVerdict> {
    let cluster = analysis.ctx.cluster;
    let mut paths = Vec::new();
    let mut cache: BTreeMap<(ClassKey, Direction), CoalescedPaths<'_>> = BTreeMap::new();
    for subject in analysis.subjects.iter().filter(|s| s.has_pod_addresses()) {
        let class = subject.class();
        for direction in DIRECTIONS {
            let entries = cache
                .entry((class.clone(), direction))
                .or_insert_with(|| coalesced(analysis, &class, direction));
            for (destination, route, evaluation) in entries.iter() {
                paths.push(path_verdict(
                    cluster,
                    subject,
                    destination,
                    *route,
                    direction,
                    evaluation,
                ));
            }
        }
    }
    paths
}

pub fn path_verdict(
    cluster: &Cluster,
    subject: &Subject<'_>,
    destination: &str,
    route: Ipv4Net,
    direction: Direction,
    evaluation: &Evaluation,
) -> PathVerdict {
    let attachment = subject.eni.attachment.as_ref();
    let pods: BTreeSet<String> = subject
        .pod_ips
        .iter()
        .filter_map(|ip| cluster.pods.get(ip))
        .chain(subject.pod_prefixes.iter().flat_map(|p| {
            cluster
                .pods
                .range(p.network()..=p.broadcast())
                .map(|(_, pod)| pod)
        }))
        .map(ToString::to_string)
        .collect();
    let mut assumptions = cluster.cni.assumptions.clone();
    for a in &evaluation.assumptions {
        if !assumptions.contains(a) {
            assumptions.push(a.clone());
        }
    }
    PathVerdict {
        cluster: cluster.name.clone(),
        instance_id: subject.node.instance_id.clone(),
        eni_id: subject.eni.id.clone(),
        device_index: attachment.map_or(0, |a| a.device_index),
        network_card_index: attachment.map_or(0, |a| a.network_card_index),
        eni_role: subject.role(),
        subnet_id: subject.eni.subnet_id.clone(),
        pod_ips: subject.pod_ips.iter().map(ToString::to_string).collect(),
        pod_prefixes: subject
            .pod_prefixes
            .iter()
            .map(ToString::to_string)
            .collect(),
        pods: pods.into_iter().collect(),
        destination: destination.to_owned(),
        route_destination: route.to_string(),
        via: evaluation.via.clone(),
        direction,
        verdict: evaluation.verdict,
        cause: evaluation.cause(),
        causes: evaluation
            .reasons
            .iter()
            .map(|r| Reason {
                code: r.code,
                detail: subject.render(&r.detail),
            })
            .collect(),
        source_ip_at_peer: match evaluation.source {
            SourceAtPeer::NodeIp => subject.node.ip.to_string(),
            SourceAtPeer::PodIp => "pod-ip".to_owned(),
        },
        egress_eni: if evaluation.egress_primary {
            subject.primary.id.clone()
        } else {
            subject.eni.id.clone()
        },
        host_table: evaluation.host_table,
        hops: evaluation
            .hops
            .iter()
            .map(|h| Hop {
                at: h.at,
                detail: subject.render(&h.detail),
                outcome: h.outcome,
            })
            .collect(),
        assumptions,
    }
}

fn cluster_report(
    model: &Model,
    cluster: &Cluster,
    analysis: Option<&ClusterAnalysis<'_>>,
    verdicts: VerdictCounts,
) -> ClusterReport {
    let cni = &cluster.cni;
    let vpc_cidrs = model
        .network
        .vpcs
        .get(&cluster.vpc_id)
        .map(|v| v.cidrs.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let mut assumptions = cni.assumptions.clone();
    assumptions.push(SECURITY_ASSUMPTION.to_owned());
    if !cluster.pods_known {
        assumptions.push(
            "no pods dump (kubectl get pods -A -o json): every secondary IP and prefix of a node ENI is treated as a pod address in use".to_owned(),
        );
    }
    ClusterReport {
        name: cluster.name.clone(),
        vpc_id: cluster.vpc_id.clone(),
        vpc_cidrs,
        ip_family: match cluster.ip_family {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        },
        cni: CniReport {
            version: cni.version_source.map(|_| cni.version.to_string()),
            version_source: cni.version_source,
            modelled_version: cni.version.to_string(),
            settings: cni.settings.clone(),
            notes: cni.notes.clone(),
        },
        nodes: cluster.nodes.len(),
        enis: analysis.map_or(0, |a| a.subjects.len()),
        pod_addresses: analysis.map_or(0, |a| {
            a.subjects.iter().map(Subject::pod_address_count).sum()
        }),
        destinations: analysis.map_or_else(Vec::new, |a| {
            a.routes.iter().map(ToString::to_string).collect()
        }),
        verdicts,
        assumptions,
    }
}

/// The hop-by-hop trace of one address to one destination address, both directions.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub cluster: String,
    pub pod_ip: Ipv4Addr,
    pub to: Ipv4Addr,
    pub paths: Vec<PathVerdict>,
    pub notes: Vec<String>,
}

/// Why `explain` could not trace.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0} is not an address of any node ENI of an analysed cluster in the snapshot")]
    UnknownPodAddress(Ipv4Addr),
    #[error(
        "{to} is inside the cluster VPC ({vpc}): podreach analyses destinations beyond the VPC"
    )]
    InsideVpc { to: Ipv4Addr, vpc: String },
}

/// Traces `pod_ip` → `to` and back with the same procedure the audit uses.
pub fn explain(model: &Model, pod_ip: Ipv4Addr, to: Ipv4Addr) -> Result<Explanation, ExplainError> {
    let mut gaps = Vec::new();
    for cluster in model
        .clusters
        .iter()
        .filter(|c| c.ip_family == IpFamily::V4)
    {
        let ctx = ClusterContext::new(model, cluster);
        let subjects = ctx.subjects(&mut gaps);
        let Some(subject) = subjects
            .iter()
            .find(|s| {
                s.pod_ips.contains(&pod_ip) || s.pod_prefixes.iter().any(|p| p.contains(&pod_ip))
            })
            .cloned()
            .map(|mut s| {
                s.pod_ips = vec![pod_ip];
                s.pod_prefixes.clear();
                s
            })
        else {
            continue;
        };
        let target = Ipv4Net::from(to);
        if cidr::covered_by_any(&ctx.vpc_cidrs, &target) {
            return Err(ExplainError::InsideVpc {
                to,
                vpc: cluster.vpc_id.clone(),
            });
        }
        let flags = DestinationFlags {
            excluded_from_snat: cidr::covered_by_any(&cluster.cni.exclude_snat_cidrs, &target),
            external_service: cidr::covered_by_any(&cluster.cni.external_service_cidrs, &target),
        };
        let class = subject.class();
        let block = Block {
            block: target,
            route: target,
            flags,
        };
        let mut notes = Vec::new();
        let mut subnets = BTreeSet::from([class.eni_subnet.clone(), class.node_subnet.clone()]);
        subnets.retain(|s| ctx.net.subnets.contains_key(s));
        let (routes, _) = ctx.blocks(&subnets);
        match routes.iter().filter(|r| r.contains(&to)).max_by_key(|r| r.prefix_len()) {
            Some(route) => notes.push(format!("{to} is behind the private route {route}")),
            None => notes.push(format!(
                "{to} is not behind any private route (pcx-/tgw-/vgw-/lgw-) of the node's subnets; the trace shows what happens anyway"
            )),
        }
        let paths = DIRECTIONS
            .iter()
            .map(|direction| {
                let evaluation = ctx.evaluate(&class, &block, *direction);
                path_verdict(
                    cluster,
                    &subject,
                    &to.to_string(),
                    target,
                    *direction,
                    &evaluation,
                )
            })
            .collect();
        return Ok(Explanation {
            cluster: cluster.name.clone(),
            pod_ip,
            to,
            paths,
            notes,
        });
    }
    Err(ExplainError::UnknownPodAddress(pod_ip))
}
