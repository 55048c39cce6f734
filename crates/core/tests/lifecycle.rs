//! The finding lifecycle over a sequence of audits of the demo's `shop` cluster: a finding
//! appears, repeats, grows, is suppressed, comes back when the suppression expires, is fixed;
//! a partial audit resolves nothing; a deleted cluster's findings are resolved; an open finding
//! is recalled once a day. Each step asserts exactly which messages would go out.

mod support;

use std::collections::BTreeSet;

use podreach_core::lifecycle::{self, Marker, Policy, State, Status};
use podreach_core::report::{Gap, Report};
use podreach_core::suppressions;
use serde_json::json;
use support::*;

const DAY: i64 = 24 * 3600;
const T0: i64 = 1_800_000_000;

/// shop on v1.11.4 with NODE_PORT_SUPPORT=false: one HIGH finding (secondary-ENI egress).
fn broken() -> Snapshot {
    shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")])
}

/// The same, with a more specific peered route (a new destination) broken by the same cause.
fn broken_more() -> Snapshot {
    let mut s = broken();
    s.routes_mut(ROUTES_FILE, NODE_ROUTE_TABLE)
        .push(peering_route("10.1.0.0/25", PEERING));
    s
}

fn fixed() -> Snapshot {
    shop().cni("v1.11.4", &[])
}

/// One audit step: the published markers, in order, and the new state.
fn step(
    state: State,
    report: &Report,
    suppressions: &[suppressions::Suppression],
    now: i64,
) -> (Vec<(Marker, String)>, Vec<Marker>, State) {
    let complete = lifecycle::fully_audited(report);
    let r = lifecycle::reconcile(
        state,
        report,
        &complete,
        &BTreeSet::new(),
        suppressions,
        now,
        Policy::default(),
    );
    let published = r
        .transitions
        .iter()
        .filter(|t| t.publish)
        .map(|t| (t.marker, t.finding_id.clone()))
        .collect();
    let all = r.transitions.iter().map(|t| t.marker).collect();
    (published, all, r.state)
}

#[test]
fn only_changes_reach_the_channel_and_resolution_is_earned() {
    // 1. The finding appears: NEW, published.
    let report = broken().audit();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let id = report.findings[0].id.clone();
    let (published, _, state) = step(State::default(), &report, &[], T0);
    assert_eq!(published, [(Marker::New, id.clone())]);

    // 2. It repeats 50 times within the day: nothing is published, last_seen moves.
    let mut state = state;
    for i in 1..=50 {
        let (published, all, next) = step(state, &report, &[], T0 + i * 60);
        assert!(published.is_empty(), "repeat {i}: {published:?}");
        assert_eq!(all, [Marker::Ongoing]);
        state = next;
    }
    assert_eq!(state.findings[0].last_seen, T0 + 50 * 60);
    assert_eq!(state.findings[0].first_seen, T0);

    // 3. It grows (a destination added): CHANGED, published once.
    let grown = broken_more().audit();
    assert_eq!(
        grown.findings[0].id, id,
        "the id does not depend on the destinations"
    );
    let (published, _, state) = step(state, &grown, &[], T0 + 3600);
    assert_eq!(published, [(Marker::Changed, id.clone())]);
    let (published, _, state) = step(state, &grown, &[], T0 + 3700);
    assert!(published.is_empty());

    // 4. Suppressed (until the end of a day): recorded with the reason, not published.
    let expires = "2027-01-16"; // through 2027-01-16 UTC; T0 + 1 day is 2027-01-16 08:00
    let rules = suppressions::parse(
        &json!({"suppressions": [{"cluster": CLUSTER, "cause": "SRCDST_EGRESS",
            "reason": "NODE_PORT_SUPPORT goes back on in the next release", "expires": expires}]})
        .to_string(),
    )
    .expect("a valid document");
    let (published, all, state) = step(state, &grown, &rules, T0 + DAY);
    assert!(published.is_empty(), "{published:?}");
    assert_eq!(all, [Marker::Suppressed]);
    assert_eq!(state.findings[0].status, Status::Suppressed);
    assert_eq!(
        state.findings[0].suppressed_because.as_deref(),
        Some("NODE_PORT_SUPPORT goes back on in the next release")
    );

    // 5. The suppression expires: the finding comes back as NEW.
    let after = rules[0].expires.expect("an expiry") + 1;
    let (published, _, state) = step(state, &grown, &rules, after);
    assert_eq!(published, [(Marker::New, id.clone())]);

    // 6. A partial audit (a gap of the cluster) without the finding resolves nothing.
    let mut partial = fixed().audit();
    partial.gaps.push(Gap {
        region: None,
        cluster: Some(CLUSTER.to_owned()),
        file: None,
        object: Some("ec2:DescribeRouteTables".to_owned()),
        message: "throttled".to_owned(),
    });
    let (published, all, state) = step(state, &partial, &[], after + 60);
    assert!(published.is_empty() && all.is_empty(), "{all:?}");
    assert_eq!(state.findings[0].status, Status::Open);

    // 7. Fixed and fully re-audited: RESOLVED, published once, then quiet.
    let (published, _, state) = step(state, &fixed().audit(), &[], after + 120);
    assert_eq!(published, [(Marker::Resolved, id.clone())]);
    let (published, all, state) = step(state, &fixed().audit(), &[], after + 180);
    assert!(published.is_empty() && all.is_empty());

    // 8. It breaks again: NEW ("back after it was resolved").
    let r = lifecycle::reconcile(
        state,
        &report,
        &lifecycle::fully_audited(&report),
        &BTreeSet::new(),
        &[],
        after + 240,
        Policy::default(),
    );
    assert_eq!(r.transitions[0].marker, Marker::New);
    assert_eq!(r.transitions[0].why, ["back after it was resolved"]);
}

#[test]
fn an_open_finding_is_recalled_once_the_interval_has_passed_and_never_with_zero() {
    let report = broken().audit();
    let (_, _, state) = step(State::default(), &report, &[], T0);
    let (published, _, state) = step(state, &report, &[], T0 + DAY - 1);
    assert!(published.is_empty());
    let (published, _, state) = step(state, &report, &[], T0 + DAY);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, Marker::Ongoing);
    let never = Policy {
        renotify_after: None,
        ..Policy::default()
    };
    let r = lifecycle::reconcile(
        state,
        &report,
        &lifecycle::fully_audited(&report),
        &BTreeSet::new(),
        &[],
        T0 + 30 * DAY,
        never,
    );
    assert!(r.transitions.iter().all(|t| !t.publish));
}

#[test]
fn a_deleted_clusters_findings_are_resolved_and_an_unseen_clusters_are_kept() {
    let report = broken().audit();
    let (_, _, state) = step(State::default(), &report, &[], T0);
    // An audit of nothing (another cluster's scope) keeps the finding open.
    let mut empty = fixed().audit();
    empty.clusters.clear();
    empty.findings.clear();
    let (published, all, kept) = step(state.clone(), &empty, &[], T0 + 60);
    assert!(published.is_empty() && all.is_empty());
    assert_eq!(kept.findings[0].status, Status::Open);
    // The region's full listing no longer has the cluster: resolved.
    let r = lifecycle::reconcile(
        state,
        &empty,
        &BTreeSet::new(),
        &BTreeSet::from([CLUSTER.to_owned()]),
        &[],
        T0 + 120,
        Policy::default(),
    );
    assert_eq!(r.transitions.len(), 1);
    assert_eq!(r.transitions[0].marker, Marker::Resolved);
    assert!(r.transitions[0].why[0].contains("no longer exists"));
}
