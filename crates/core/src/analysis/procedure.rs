//! The decision procedure of docs/datapath.md §5 for one ENI class and one destination block.
//!
//! `evaluate` runs §5.3 (EGRESS: the pod opens the connection) or §5.4 (INGRESS: the far side
//! opens it) step by step and records every hop, pass or drop, with the reason code of each
//! failure (§5.5) in path order (§5.6: every step runs even after a drop, so a path with two
//! problems names both). The host half reads `crate::datapath`, the AWS half
//! `crate::vpc_path`; this file only sequences them. Texts carry `{eni}`-style placeholders
//! because one evaluation serves every ENI of the class.

use ipnet::Ipv4Net;

use crate::cidr;
use crate::cni::{CniConfig, SgpMode, UnknownSetting, Version, facts};
use crate::datapath::{DestinationFlags, HostTable, Placement};
use crate::model::Target;
use crate::report::{Cause, Direction, Reason, Verdict};
use crate::verdict::{Block, ClassKey, Evaluation, FilterOutcome, SourceAtPeer};
use crate::vpc_path::{Record, Remote, Trace};

use super::context::ClusterContext;

fn from_trace(
    trace: Trace,
    via: Option<String>,
    source: SourceAtPeer,
    egress_primary: bool,
    host_table: HostTable,
    filter: Option<FilterOutcome>,
) -> Evaluation {
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
        filter,
        source_swap: None,
    }
}

impl ClusterContext<'_> {
    pub(crate) fn subnet_cidr(&self, subnet_id: &str) -> Option<Ipv4Net> {
        self.net.subnets.get(subnet_id).map(|s| s.cidr)
    }

    /// `true` when X holds 0.0.0.0/0 on a version whose RETURN rule is lost on restarts (#3658).
    fn snat_flaky(&self) -> bool {
        let cni = self.cni();
        !cni.external_snat
            && cni.version < facts::EXCLUDE_ALL_RETURN_KEPT
            && cni.exclude_snat_cidrs.iter().any(|c| c.prefix_len() == 0)
    }

    /// Evaluates one class for one block and direction, every hop written down (for per-ENI
    /// rows and explanations).
    pub(crate) fn evaluate(
        &self,
        class: &ClassKey,
        block: &Block,
        direction: Direction,
    ) -> Evaluation {
        self.evaluate_recording(class, block, direction, Record::Everything)
    }

    /// Evaluates one class for one block and direction, under every alternative of a setting
    /// whose value is unknown too: where they differ, the verdict is unknown and says why. The
    /// trace writes down `record` (the verdict matrix needs no hop texts).
    pub(crate) fn evaluate_recording(
        &self,
        class: &ClassKey,
        block: &Block,
        direction: Direction,
        record: Record,
    ) -> Evaluation {
        let mut evaluation = self.evaluate_as_configured(class, block, direction, record);
        let mut releases: Vec<(Version, Evaluation)> = Vec::new();
        for (setting, alternative) in &self.alternatives {
            let cni = alternative.cni();
            let other_block = Block {
                flags: DestinationFlags {
                    excluded_from_snat: cidr::covered_by_any(&cni.exclude_snat_cidrs, &block.block),
                    external_service: cidr::covered_by_any(
                        &cni.external_service_cidrs,
                        &block.block,
                    ),
                },
                ..block.clone()
            };
            let other = alternative.evaluate_as_configured(class, &other_block, direction, record);
            match setting.version {
                Some(release) => releases.push((release, other)),
                None => evaluation = merge_unknown_setting(evaluation, &other, setting, self.cni()),
            }
        }
        if !releases.is_empty() {
            releases.push((self.cni().version, evaluation.clone()));
            evaluation = merge_releases(evaluation, releases);
        }
        evaluation
    }

    fn evaluate_as_configured(
        &self,
        class: &ClassKey,
        block: &Block,
        direction: Direction,
        record: Record,
    ) -> Evaluation {
        match direction {
            Direction::PodToPeer => {
                let normal = self.egress(class, block, None, record);
                if self.snat_flaky() && !block.flags.external_service {
                    let restarted = self.egress(class, block, Some(true), record);
                    return merge_flaky(normal, restarted);
                }
                normal
            }
            Direction::PeerToPod => self.ingress(class, block, record),
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
    fn egress(
        &self,
        class: &ClassKey,
        block: &Block,
        force_snat: Option<bool>,
        record: Record,
    ) -> Evaluation {
        let mut trace = Trace::new(record);
        let d = block.block;
        let placement = class.placement;
        trace.pass("pod", || {
            format!(
                "the pod sends to {d} by its default route via 169.254.1.1 (its veth to the host)"
            )
        });

        // Step 1: security groups for pods, strict mode.
        if let Placement::Branch {
            mode: SgpMode::Strict,
            table,
        } = placement
        {
            // Source: network.go / driver.go SGP strict: iif rules at priority 10, table vlanId+100; `! -o vlan+` skips SNAT.
            trace.pass(
                "node",
                || format!("security groups for pods (strict): rule 10 `iif vlan… lookup {table}` sends it out of branch ENI {{eni}}; never SNATed (`! -o vlan+`)"),
            );
            self.owns_check(&mut trace, class, false, SourceAtPeer::PodIp);
            self.aws_legs(&mut trace, class, block, false, SourceAtPeer::PodIp);
            let filter = self.filters(
                &mut trace,
                class,
                block,
                Direction::PodToPeer,
                false,
                SourceAtPeer::PodIp,
            );
            trace.pass("node", "the reply arrives on the branch ENI and reaches the pod by the `iif` rule at priority 10");
            let via = self.via_of(class, false, d);
            return from_trace(trace, via, SourceAtPeer::PodIp, false, table, filter);
        }

        // Step 2: SNAT, connmark, policy routing. The SNAT chain's verdict is known before the
        // route (it sets the connmark), but the translation also needs the packet not to leave
        // by a VLAN (`! -o vlan+`, `HostDatapath::translated`).
        let eligible = force_snat.unwrap_or_else(|| self.host.snat(&placement, block.flags));
        // With the RETURN rules lost (#3658) the exclusion no longer applies to SNAT nor to the
        // connmark chain: `marked(D) := V ≥ 1.8 ∧ SNAT(D)` (docs/datapath.md §5.2).
        let mark_flags = if force_snat.is_some() {
            DestinationFlags {
                excluded_from_snat: false,
                ..block.flags
            }
        } else {
            block.flags
        };
        let mark = eligible && self.host.marked(&placement, mark_flags);
        if mark {
            trace.pass(
                "node",
                || format!(
                    "nat PREROUTING (AWS-CONNMARK-CHAIN-0): {d} is outside the VPC CIDRs{}, so the connection gets mark {:#x}",
                    if self.cni().exclude_snat_cidrs.is_empty() { "" } else { " and the SNAT exclusions" },
                    self.cni().connmark
                ),
            );
        }
        let hit = self.host.lookup(&placement, block.flags, mark);
        let out_primary = hit.table == HostTable::Main;
        let snat = self.host.translated(eligible, hit.table);
        trace.pass("node", || {
            format!(
                "policy routing: `{}` ({}) → leaves by {}",
                hit.rule,
                hit.source,
                if out_primary {
                    "primary ENI {primary_eni}"
                } else {
                    "ENI {eni}"
                }
            )
        });
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
            trace.pass("node", || format!("nat POSTROUTING (AWS-SNAT-CHAIN-0): source rewritten to the node IP {{node_ip}}{note}"));
        } else if eligible {
            trace.pass(
                "node",
                || format!(
                    "no SNAT: the packet leaves by the branch ENI's VLAN (table {}), and the SNAT rule skips `-o vlan+` (network.go, v1.7.0+); the pod's own address leaves branch ENI {{eni}}",
                    hit.table
                ),
            );
        } else {
            trace.pass("node", || {
                format!("no SNAT: {}", self.no_snat_reason(block))
            });
        }

        // Step 3: source/destination check at the egress ENI.
        self.owns_check(&mut trace, class, out_primary, source);
        // Step 4: AWS path from the egress ENI's subnet, and the return route at the peer.
        self.aws_legs(&mut trace, class, block, out_primary, source);
        // Step 4a (§5.7): security groups and network ACLs on both sides, for that source.
        let filter = self.filters(
            &mut trace,
            class,
            block,
            Direction::PodToPeer,
            out_primary,
            source,
        );

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
        let mut evaluation = from_trace(trace, via, source, out_primary, hit.table, filter);
        evaluation.source_swap = self.source_swap(class, block, source, evaluation.filter.as_ref());
        evaluation
    }

    /// The filters of a pod-initiated path were the far side to see the other source: the pod
    /// address (sent from the pod's ENI, as once excluded from SNAT) instead of the node IP,
    /// or the node IP (from the primary ENI) instead of the pod address. Without `--port`, it
    /// asks for the ports that pass today: a change must keep every one of them working.
    fn source_swap(
        &self,
        class: &ClassKey,
        block: &Block,
        source: SourceAtPeer,
        current: Option<&FilterOutcome>,
    ) -> Option<Box<FilterOutcome>> {
        let current = current?;
        let (other, out_primary) = match source {
            SourceAtPeer::NodeIp => (SourceAtPeer::PodIp, class.placement.is_primary()),
            SourceAtPeer::PodIp => (SourceAtPeer::NodeIp, true),
        };
        let requested = self
            .ports
            .clone()
            .or_else(|| (!current.ports.is_empty()).then(|| current.ports.clone()));
        let mut scratch = Trace::scratch();
        self.filters_for(
            &mut scratch,
            class,
            block,
            Direction::PodToPeer,
            out_primary,
            other,
            requested,
        )
        .map(Box::new)
    }

    /// §5.4 INGRESS: a host in `block` opens a connection to the pod; the reply must get out.
    fn ingress(&self, class: &ClassKey, block: &Block, record: Record) -> Evaluation {
        let mut trace = Trace::new(record);
        let d = block.block;
        let placement = class.placement;
        let pod_subnet = self.subnet_cidr(&class.eni_subnet);

        // Step 1: forward AWS path: the remote side routes the pod address to this VPC.
        let (object, remote) = self.object_towards(class, d);
        let (pod_block, label) = self.source_label(class, SourceAtPeer::PodIp);
        match (&object, &remote, pod_subnet) {
            (Some(object), Some(remote), Some(_)) => {
                self.vpc.remote_routes(remote, d, object, pod_block, &label, &mut trace);
            }
            _ => trace.unknown(
                "peer",
                Cause::UnknownRemote,
                || format!("no private route from the cluster's subnets leads to {d}, so the object the peer would use is unknown"),
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
            trace.pass("node", || {
                format!(
                    "policy routing for the reply: `{}` ({}) → leaves by {}",
                    reverse.rule,
                    reverse.source,
                    if reverse_primary {
                        "primary ENI {primary_eni}"
                    } else {
                        "ENI {eni}"
                    }
                )
            });
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
        // Step 7 (§5.7): security groups and network ACLs on both sides.
        let filter = self.filters(
            &mut trace,
            class,
            block,
            Direction::PeerToPod,
            out_primary,
            SourceAtPeer::PodIp,
        );
        let via = object
            .map(|o| o.id().to_owned())
            .or_else(|| self.via_of(class, out_primary, d));
        from_trace(trace, via, SourceAtPeer::PodIp, out_primary, table, filter)
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

    /// Source/destination check (docs/datapath.md §4.1) on the ENI the packet leaves by.
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
            trace.pass("vpc", || {
                format!("source/destination check on {eni}: it owns {src}")
            });
        } else if !checked {
            trace.pass(
                "vpc",
                || format!("{eni} does not own {src}, but its source/destination check is disabled, so EC2 forwards it"),
            );
        } else {
            trace.drop(
                "vpc",
                Cause::SrcdstEgress,
                || format!("the packet leaves {eni} with {src}, which {eni} does not own: the EC2 source/destination check drops it"),
            );
        }
    }

    /// `rpf_drop(arrival, p, D)` (docs/datapath.md §5.2).
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
            trace.pass("node", || {
                format!(
                    "reverse-path check on {interface}: the reverse route uses the same interface"
                )
            });
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
                || format!(
                    "the packet arrives on {interface}, but the reverse route to the pod address (`{reverse_rule}`) uses {reverse_if}; rp_filter=1 (strict) there drops it"
                ),
            ),
            Some(mode) => trace.pass(
                "node",
                || format!("reverse-path check on {interface}: the reverse route uses {reverse_if}, but rp_filter={mode} accepts it"),
            ),
            None if decides => trace.unknown(
                "node",
                Cause::MissingInput,
                || format!("the reply arrives on {interface} whose reverse route uses {reverse_if}; rp_filter there is unknown, and 1 (strict) would drop it"),
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
        let (source_block, label) = self.source_label(class, source);
        if let (Some(object), Some(remote)) = (&outbound.object, &outbound.remote) {
            self.vpc
                .remote_routes(remote, block.block, object, source_block, &label, trace);
        }
    }

    /// The source the far side sees and how texts name it. The far side routes by that exact
    /// address, so the check covers the part of the subnet the address lies in (the whole
    /// subnet unless a far route covers only part of it), and the text names the address itself
    /// when the part is not the whole subnet.
    fn source_label(&self, class: &ClassKey, source: SourceAtPeer) -> (Ipv4Net, String) {
        let (subnet, part) = match source {
            SourceAtPeer::NodeIp => (&class.node_subnet, class.node_source),
            SourceAtPeer::PodIp => (&class.eni_subnet, class.pod_source),
        };
        let whole = self.subnet_cidr(subnet) == Some(part);
        let label = match (source, whole) {
            (SourceAtPeer::NodeIp, true) => format!("the node subnet {part}"),
            (SourceAtPeer::PodIp, true) => format!("the pod subnet {part}"),
            (SourceAtPeer::NodeIp, false) => "the node IP {node_ip}".to_owned(),
            (SourceAtPeer::PodIp, false) if part.prefix_len() == 32 => {
                format!("the pod address {}", part.network())
            }
            (SourceAtPeer::PodIp, false) => "these pod addresses of {eni}".to_owned(),
        };
        (part, label)
    }

    /// The private object and remote side for `d` as the pod's subnet (else the node subnet) sees
    /// it. The far side is identified from the route's target even when that route is broken, so
    /// the peer's own routing is still checked (docs/datapath.md §5.6: run every step).
    pub(crate) fn object_towards(
        &self,
        class: &ClassKey,
        d: Ipv4Net,
    ) -> (Option<Target>, Option<Remote>) {
        for subnet in [&class.eni_subnet, &class.node_subnet] {
            let mut scratch = Trace::scratch();
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

    pub(crate) fn via_of(&self, class: &ClassKey, out_primary: bool, d: Ipv4Net) -> Option<String> {
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

/// Combines the verdict under the modelled default of a setting whose value is unknown with the
/// verdict under its other extreme: the same verdict stands (with a note when the reasons
/// differ); different verdicts make the path `unknown`, headed by a `MISSING_INPUT` reason that
/// names the setting, where its value comes from, and both outcomes.
fn merge_unknown_setting(
    modelled: Evaluation,
    other: &Evaluation,
    setting: &UnknownSetting,
    cni: &CniConfig,
) -> Evaluation {
    if modelled.same_outcome(other) {
        return modelled;
    }
    let default = cni
        .settings
        .iter()
        .find(|s| s.name == setting.name)
        .and_then(|s| s.default.clone())
        .unwrap_or_default();
    let detail = format!(
        "{} is set from {}, which the snapshot does not hold: with the default `{default}` this path is {}, with `{}` it is {}",
        setting.name,
        setting.from,
        outcome(&modelled),
        setting.alternative_value.as_deref().unwrap_or("?"),
        outcome(other),
    );
    let same_verdict = modelled.verdict == other.verdict;
    undecided_unless(modelled, same_verdict, detail)
}

/// An evaluation's verdict and first cause, as the texts of an undecided input quote it.
fn outcome(e: &Evaluation) -> String {
    match e.cause() {
        Some(cause) => format!("{} ({cause})", e.verdict.as_str()),
        None => e.verdict.as_str().to_owned(),
    }
}

/// `merged` with `detail` as an assumption when the verdicts agree, else `unknown`, headed by a
/// `MISSING_INPUT` reason of `detail`.
fn undecided_unless(mut merged: Evaluation, agree: bool, detail: String) -> Evaluation {
    if agree {
        merged.assumptions.push(detail);
        return merged;
    }
    merged.reasons.insert(
        0,
        Reason {
            code: Cause::MissingInput,
            detail,
        },
    );
    merged.verdict = Verdict::Unknown;
    merged
}

/// Combines the verdicts of every modelled release when no source names the cluster's CNI
/// version (docs/datapath.md §10.7): the verdict stands only when every release gives it; else
/// the path is `unknown`, headed by one `MISSING_INPUT` reason that says which releases give
/// which outcome, so the report never substitutes the newest release for a version it cannot see.
fn merge_releases(modelled: Evaluation, mut releases: Vec<(Version, Evaluation)>) -> Evaluation {
    releases.sort_by_key(|(v, _)| *v);
    let mut spans: Vec<(String, Version, Version)> = Vec::new();
    for (release, evaluation) in &releases {
        let text = outcome(evaluation);
        match spans.last_mut() {
            Some((last, _, to)) if *last == text => *to = *release,
            _ => spans.push((text, *release, *release)),
        }
    }
    let mut merged = modelled;
    let agree = releases.iter().all(|(_, e)| e.same_outcome(&merged));
    if agree {
        merged.assumptions.push(format!(
            "the CNI version is unknown ({}); every modelled release from {} to {} gives this verdict",
            crate::cni::VERSION_SOURCES,
            releases.first().map(|(v, _)| v.to_string()).unwrap_or_default(),
            releases.last().map(|(v, _)| v.to_string()).unwrap_or_default(),
        ));
        return merged;
    }
    let text: Vec<String> = spans
        .iter()
        .map(|(outcome, from, to)| {
            if from == to {
                format!("{outcome} with {from}")
            } else {
                format!("{outcome} with {from}–{to}")
            }
        })
        .collect();
    let detail = format!(
        "the CNI version is unknown ({}): this path is {}; give the version (or let podreach read the aws-node DaemonSet) to decide it",
        crate::cni::VERSION_SOURCES,
        text.join(", ")
    );
    let same_verdict = releases.iter().all(|(_, e)| e.verdict == merged.verdict);
    undecided_unless(merged, same_verdict, detail)
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
