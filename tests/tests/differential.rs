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

use podreach_core::report::Verdict;
use podreach_core::{AnalyzeOptions, Model, analyze};
use podreach_lab::{DisagreementKind, LabOptions, compare, render, run_node};
use podreach_tests::scenario::{self, CLUSTER, Filters, INSTANCE, Scenario};

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
    failure: Option<String>,
}

fn run_scenario(scenario: Scenario, options: &LabOptions) -> Outcome {
    let mut outcome = Outcome {
        scenario: scenario.clone(),
        rows: 0,
        reachable: 0,
        failure: None,
    };
    let loaded = match podreach_core::snapshot::load(&scenario.files()).into_result() {
        Ok(l) => l,
        Err(e) => {
            outcome.failure = Some(format!("snapshot does not load: {e}"));
            return outcome;
        }
    };
    let model = Model::build(&loaded.documents, &scenario.overrides());
    let report = analyze(
        &model,
        &AnalyzeOptions {
            include_paths: true,
        },
    );
    let result = match run_node(&model, CLUSTER, INSTANCE, options) {
        Ok(r) => r,
        Err(e) => {
            outcome.failure = Some(format!("lab failed: {e}"));
            return outcome;
        }
    };
    outcome.rows = result.measurements.len();
    outcome.reachable = result.measurements.iter().filter(|m| m.reachable).count();
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
    let uid = nix_uid();
    if uid != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "datapath lab needs root in CI (running as uid {uid}); run the tests as root"
        );
        eprintln!("datapath lab NOT RUN: needs root");
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
    let mut failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    failures.sort_by_key(|o| o.scenario.id);
    eprintln!(
        "datapath lab: {} scenarios, {rows} measured connections ({reachable} reachable, {} unreachable), {} failing, {:.1} s on {workers} workers",
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

fn nix_uid() -> u32 {
    // /proc/self/status `Uid:` line: real, effective, saved, fs; the effective one decides.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
