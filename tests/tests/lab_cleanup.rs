//! The lab never leaves namespaces behind: its guard removes them when a run panics, and a new
//! run removes those of an earlier run whose process is gone.
//!
//! Needs root, like the differential test: without it, fails when `CI` is set, otherwise prints
//! "datapath lab NOT RUN: needs root" and returns.

use podreach_lab::netns::{Lab, Names, remove_stale, run};

fn exists(ns: &str) -> bool {
    std::path::Path::new(&format!("/run/netns/{ns}")).exists()
}

#[test]
fn a_panicking_run_still_removes_its_namespaces() {
    if !podreach_tests::lab::can_run() {
        return;
    }
    let names = Names::new(1, 1, 1);
    let all = names.all();
    let outcome = std::panic::catch_unwind(|| {
        let lab = Lab::create(names).expect("namespaces created");
        assert!(lab.names.all().iter().all(|ns| exists(ns)), "created");
        std::panic::resume_unwind(Box::new("simulated failure in the middle of a run"));
    });
    assert!(outcome.is_err());
    let left: Vec<&String> = all.iter().filter(|ns| exists(ns)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn namespaces_of_a_dead_run_are_removed_at_start_and_live_ones_are_kept() {
    if !podreach_tests::lab::can_run() {
        return;
    }
    // A pid above the kernel's maximum (4194304) never belongs to a live process.
    let stale = "prl-99999999-0-node";
    run("ip", &["netns", "add", stale], None).expect("stale namespace created");
    let live = Lab::create(Names::new(0, 0, 0)).expect("live namespaces");
    let removed = remove_stale();
    assert!(removed.iter().any(|n| n == stale), "{removed:?}");
    assert!(!exists(stale));
    assert!(
        live.names.all().iter().all(|ns| exists(ns)),
        "a live run's namespaces must survive"
    );
}
