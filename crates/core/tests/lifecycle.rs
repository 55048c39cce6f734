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

/// One audit with the outbox on (the functions' policy): the transitions, and the new state.
fn outbox_step(state: State, report: &Report, now: i64) -> (Vec<lifecycle::Transition<'_>>, State) {
    let complete = lifecycle::fully_audited(report);
    let r = lifecycle::reconcile(
        state,
        report,
        &complete,
        &BTreeSet::new(),
        &[],
        now,
        Policy {
            outbox: true,
            ..Policy::default()
        },
    );
    (r.transitions, r.state)
}

/// Clears every outbox entry, as a publisher does once its messages are out.
fn confirmed(mut state: State) -> State {
    for f in &mut state.findings {
        f.outbox = None;
    }
    state
}

#[test]
fn an_announcement_never_confirmed_is_sent_again_with_the_same_id_once_its_writer_has_ended() {
    let report = broken().audit();
    // The NEW is written with its outbox entry and a stable id.
    let (t, state) = outbox_step(State::default(), &report, T0);
    assert_eq!(t[0].marker, Marker::New);
    let id = t[0]
        .message_id
        .clone()
        .expect("an announced change has an id");
    assert!(!t[0].redelivery);
    assert_eq!(
        state.findings[0]
            .outbox
            .as_ref()
            .map(|o| o.message_id.clone()),
        Some(id.clone())
    );
    // The writer never confirmed (killed between the state write and the publish). Within the
    // lease it may still be publishing: a racing or next invocation stays quiet.
    let (t, state) = outbox_step(state, &report, T0 + lifecycle::OUTBOX_LEASE - 1);
    assert!(!t[0].publish, "the writer may still send it: {:?}", t[0]);
    assert!(state.findings[0].outbox.is_some(), "still pending");
    // Past the lease the writer has certainly ended: the NEW goes out again, same id, marked.
    let later = T0 + lifecycle::OUTBOX_LEASE + 60;
    let (t, state) = outbox_step(state, &report, later);
    assert_eq!((t[0].marker, t[0].publish), (Marker::New, true));
    assert_eq!(t[0].message_id.as_deref(), Some(id.as_str()));
    assert!(t[0].redelivery);
    // Taken over: a second invocation right after sees a young entry and stays quiet.
    let (t2, _) = outbox_step(state.clone(), &report, later + 1);
    assert!(!t2[0].publish, "{:?}", t2[0]);
    // Confirmed: nothing more, ever (but reminders).
    let (t, _) = outbox_step(
        confirmed(state),
        &report,
        later + 2 * lifecycle::OUTBOX_LEASE,
    );
    assert!(!t[0].publish, "{:?}", t[0]);
}

#[test]
fn a_change_of_a_finding_whose_new_never_went_out_is_announced_as_new() {
    let (broken, more) = (broken().audit(), broken_more().audit());
    let (t, state) = outbox_step(State::default(), &broken, T0);
    let first = t[0].message_id.clone();
    // It grew (a new destination) before anyone confirmed the NEW.
    let (t, state) = outbox_step(state, &more, T0 + 60);
    assert_eq!(
        (t[0].marker, t[0].publish),
        (Marker::New, true),
        "{:?}",
        t[0]
    );
    assert_ne!(t[0].message_id, first, "a new announcement, a new id");
    // Once confirmed, the next growth is a CHANGED as usual.
    let (t, _) = outbox_step(confirmed(state), &broken, T0 + 120);
    assert!(t.iter().all(|t| t.marker != Marker::New), "{t:?}");
}

#[test]
fn an_unconfirmed_resolution_is_sent_again_and_the_cli_policy_writes_no_outbox() {
    let (broken, fixed) = (broken().audit(), fixed().audit());
    let (_, state) = outbox_step(State::default(), &broken, T0);
    let (t, state) = outbox_step(confirmed(state), &fixed, T0 + 60);
    assert_eq!((t[0].marker, t[0].publish), (Marker::Resolved, true));
    let id = t[0].message_id.clone();
    assert!(
        id.as_deref()
            .is_some_and(|i| i.ends_with(&format!("/RESOLVED/{}", T0 + 60)))
    );
    let (t, _) = outbox_step(state.clone(), &fixed, T0 + 120);
    assert!(t.is_empty(), "within the lease: {t:?}");
    let (t, _) = outbox_step(state, &fixed, T0 + 60 + lifecycle::OUTBOX_LEASE);
    assert_eq!((t[0].marker, t[0].redelivery), (Marker::Resolved, true));
    assert_eq!(t[0].message_id, id);
    // The CLI's policy: no entry, no id.
    let (_, _, state) = step(State::default(), &broken, &[], T0);
    assert!(state.findings.iter().all(|f| f.outbox.is_none()));
}
