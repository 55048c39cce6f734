//! Differential test: the model's per-ENI verdicts against a real kernel.
//!
//! For each generated scenario (see `podreach_tests::scenario`) the snapshot is read and analysed
//! by podreach-core, and the same node is rebuilt in network namespaces by podreach-lab, which
//! sends real TCP connections pod → peer and peer → pod. Every pod ENI × destination block ×
//! direction must agree; a disagreement prints the scenario, the model's hops and the lab's
//! evidence side by side. Scenarios run on a few worker threads, each lab in its own uniquely
//! named namespaces.
//!
//! Needs root. Without root: fails when `CI` is set, otherwise prints
//! "datapath lab NOT RUN: needs root" and returns. `PODREACH_LAB_SCENARIOS` (default 240) and
//! `PODREACH_LAB_WORKERS` (default 3) tune the run.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use podreach_core::report::{Direction, PathVerdict, Verdict};
use podreach_core::{Model, analyze};
use podreach_lab::{DisagreementKind, LabOptions, Measurement, compare, render, run_node};
use podreach_tests::scenario::{
    self, BRANCH_ENI, CLUSTER, Exclude, Filters, INSTANCE, PeerReturn, Scenario, SecondarySubnet,
    Sgp, SgpMode, TgwTable,
};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one scenario produced.
struct Outcome {
    scenario: Scenario,
    rows: usize,
    reachable: usize,
    /// Rows of the branch-ENI pod (security groups for pods), and how many of them connected.
    branch_rows: usize,
    branch_reachable: usize,
    failure: Option<String>,
}

fn run_scenario(scenario: Scenario, options: &LabOptions) -> Outcome {
    let mut outcome = Outcome {
        scenario: scenario.clone(),
        rows: 0,
        reachable: 0,
        branch_rows: 0,
        branch_reachable: 0,
        failure: None,
    };
    let loaded = match podreach_core::snapshot::load(&scenario.files()).into_result() {
        Ok(l) => l,
        Err(e) => {
            outcome.failure = Some(format!("snapshot does not load: {e}"));
            return outcome;
        }
    };
    let model = Model::from_documents(&loaded.documents, &scenario.overrides());
    let report = analyze(&model, &scenario.question());
    let result = match run_node(&model, CLUSTER, INSTANCE, options) {
        Ok(r) => r,
        Err(e) => {
            outcome.failure = Some(format!("lab failed: {e}"));
            return outcome;
        }
    };
    outcome.rows = result.measurements.len();
    outcome.reachable = result.measurements.iter().filter(|m| m.reachable).count();
    let branch = || {
        result
            .measurements
            .iter()
            .filter(|m| m.eni_id == BRANCH_ENI)
    };
    outcome.branch_rows = branch().count();
    outcome.branch_reachable = branch().filter(|m| m.reachable).count();
    let mut disagreements = compare(&result, &report);
    // A security-group reference over a transit gateway crosses only when the attachments enable
    // SecurityGroupReferencingSupport, which the snapshot does not hold: the model must say
    // unknown for that reason, and only then is the row not a failure.
    if scenario.via_tgw.is_some() && scenario.filters == Filters::PeerAdmitsNodeGroup {
        disagreements.retain(|d| {
            !(d.kind == DisagreementKind::ModelUnknown
                && d.model.as_ref().is_some_and(|m| {
                    m.causes
                        .iter()
                        .any(|c| c.contains("SecurityGroupReferencingSupport"))
                }))
        });
    }
    let model_paths = report.paths.as_ref().map_or(0, |p| {
        p.iter()
            .filter(|p| p.instance_id == INSTANCE && p.verdict != Verdict::Unknown)
            .count()
    });
    if result.measurements.is_empty() {
        outcome.failure = Some(format!(
            "the lab measured nothing (model has {model_paths} paths)"
        ));
    } else if scenario.sgp.is_some() && outcome.branch_rows == 0 {
        outcome.failure = Some(format!(
            "the lab built no branch-ENI pod (notes: {})",
            result.notes.join("; ")
        ));
    } else if !disagreements.is_empty() {
        let kinds: Vec<&str> = disagreements
            .iter()
            .map(|d| match d.kind {
                DisagreementKind::VerdictDiffers => "verdict differs",
                DisagreementKind::ModelUnknown => "model unknown",
                DisagreementKind::NoModelVerdict => "no model verdict",
            })
            .collect();
        outcome.failure = Some(format!(
            "{} row(s) not in agreement ({})\n{}",
            disagreements.len(),
            kinds.join(", "),
            render(&result, &report)
        ));
    }
    outcome
}

#[test]
fn the_model_agrees_with_the_kernel_on_every_pod_eni_destination_and_direction() {
    if !podreach_tests::lab::can_run() {
        return;
    }
    let count = env_number("PODREACH_LAB_SCENARIOS", 240);
    let workers = env_number("PODREACH_LAB_WORKERS", 3).max(1);
    let scenarios = scenario::generate(count);
    let options = LabOptions::default();
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(s) = scenarios.get(i) else { break };
                    let outcome = run_scenario(s.clone(), &options);
                    outcomes
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(outcome);
                }
            });
        }
    });
    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rows: usize = outcomes.iter().map(|o| o.rows).sum();
    let reachable: usize = outcomes.iter().map(|o| o.reachable).sum();
    let branch_rows: usize = outcomes.iter().map(|o| o.branch_rows).sum();
    let branch_reachable: usize = outcomes.iter().map(|o| o.branch_reachable).sum();
    let mut failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    failures.sort_by_key(|o| o.scenario.id);
    eprintln!(
        "datapath lab: {} scenarios, {rows} measured connections ({reachable} reachable, {} unreachable; \
         branch-ENI pods {branch_rows}, {branch_reachable} reachable), {} failing, {:.1} s on {workers} workers",
        outcomes.len(),
        rows - reachable,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    let mut text = String::new();
    for o in &failures {
        text.push_str(&format!(
            "\n=== scenario {}\n{}\n",
            o.scenario,
            o.failure.as_deref().unwrap_or("")
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios disagree or failed:{text}",
        failures.len(),
        outcomes.len()
    );
    // A lab that never connects (or never fails) would agree with a degenerate model: both outcomes must occur.
    assert!(
        reachable > 0 && reachable < rows,
        "the lab saw {reachable} reachable of {rows}: the emulation is degenerate"
    );
    assert!(
        branch_reachable > 0 && branch_reachable < branch_rows,
        "branch-ENI pods: {branch_reachable} reachable of {branch_rows}: degenerate"
    );
    assert_eq!(outcomes.len(), count);
    // Every lab removed its namespaces (the Drop guard), failed ones included.
    let own = format!("prl-{}-", std::process::id());
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&own))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

/// The case of issue 19: security groups for pods in standard mode, CNI v1.12.0 (rule 1024 is
/// gated by `AWS_VPC_CNI_NODE_PORT_SUPPORT` alone until v1.12.1), SNAT on, the peer routing back
/// the branch pod's /28 and not the node IP (or, in the last case, the whole subnets).
fn standard_mode_branch_case(node_port_support: bool, peer_return: PeerReturn) -> Scenario {
    Scenario {
        id: 9000,
        version: "v1.12.0",
        external_snat: false,
        exclude: Exclude::None,
        external_service: false,
        node_port_support,
        rp_filter_primary: 2,
        rp_filter_secondary: Some(1),
        secondary_subnet: SecondarySubnet::NodeSubnet,
        peer_return,
        prefix_delegation: false,
        peering_inactive: false,
        via_prefix_list: false,
        via_tgw: None,
        tgw_table: TgwTable::Routing,
        filters: Filters::Open,
        sgp: Some(Sgp {
            mode: SgpMode::Standard,
            in_pod_subnet: false,
            branch_admits_peer: true,
        }),
    }
}

/// The branch pod's pod → peer row of the model and of the lab, after checking that every row
/// of the scenario agrees.
fn branch_pod_to_peer(scenario: &Scenario) -> (PathVerdict, Measurement) {
    let loaded = podreach_core::snapshot::load(&scenario.files())
        .into_result()
        .expect("the scenario loads");
    let model = Model::from_documents(&loaded.documents, &scenario.overrides());
    let report = analyze(&model, &scenario.question());
    let result = run_node(&model, CLUSTER, INSTANCE, &LabOptions::default()).expect("lab runs");
    let disagreements = compare(&result, &report);
    assert!(
        disagreements.is_empty(),
        "{scenario}\n{}",
        render(&result, &report)
    );
    let row = podreach_lab::compare::rows(&result, &report)
        .into_iter()
        .find(|r| r.lab.eni_id == BRANCH_ENI && r.lab.direction == Direction::PodToPeer)
        .expect("the lab measured the branch pod");
    let measured = row.lab.clone();
    let path = row.model.cloned().expect("the model judged the branch pod");
    (path, measured)
}

#[test]
fn a_standard_mode_branch_pod_reaches_the_peer_unsnated_by_its_vlan_before_1_12_1_without_node_port_support()
 {
    if !podreach_tests::lab::can_run() {
        return;
    }
    let branch_ip = scenario::Sgp {
        mode: SgpMode::Standard,
        in_pod_subnet: false,
        branch_admits_peer: true,
    }
    .branch_ip();

    // Node port support off: no rule 1024, `from <pod> lookup 103` sends the first packet out of
    // vlan.eth.3, `! -o vlan+` skips SNAT, the branch ENI owns the pod address and the peer
    // routes it back. Reachable, from the pod's own address.
    let (path, lab) = branch_pod_to_peer(&standard_mode_branch_case(
        false,
        PeerReturn::SecondaryPodsOnly,
    ));
    assert_eq!(path.verdict, Verdict::Reachable, "{:?}", path.causes);
    assert!(lab.reachable, "{}", lab.evidence);
    assert_eq!(path.source_ip_at_peer, "pod-ip");
    assert_eq!(lab.pod_ip.to_string(), branch_ip);
    assert_eq!(path.egress_eni, BRANCH_ENI);
    assert!(
        lab.evidence.contains("left vlan.eth.3"),
        "the kernel sent it out of the VLAN: {}",
        lab.evidence
    );

    // Node port support on: rule 1024 sends the marked packet to main, out of eth0, SNATed to
    // the node IP, which this peer does not route back.
    let (path, lab) = branch_pod_to_peer(&standard_mode_branch_case(
        true,
        PeerReturn::SecondaryPodsOnly,
    ));
    assert_eq!(path.verdict, Verdict::Unreachable);
    assert!(!lab.reachable, "{}", lab.evidence);
    assert_eq!(path.source_ip_at_peer, "10.0.1.10", "the node IP");
    assert!(lab.evidence.contains("left eth0"), "{}", lab.evidence);

    // ... and reachable when the peer routes the node subnet back.
    let (path, lab) = branch_pod_to_peer(&standard_mode_branch_case(
        true,
        PeerReturn::NodeAndPodSubnets,
    ));
    assert_eq!(path.verdict, Verdict::Reachable, "{:?}", path.causes);
    assert!(lab.reachable, "{}", lab.evidence);
    assert_eq!(path.source_ip_at_peer, "10.0.1.10", "the node IP");
}
