//! An organization run: planning (ACTIVE accounts only, exclusions by account and by OU at any
//! depth, × Regions, a stable order, every account left out said with why, a bad selection
//! refused), the blind spots typed from AWS's errors, and their announcements (NEW once, CHANGED
//! when the reason changes, RESOLVED when audited again or no longer planned).

use std::collections::BTreeMap;

use podreach_core::lifecycle::Marker;
use podreach_core::org::{
    Account, AccountState, Blocker, PlanError, Selection, Skip, Target, TargetOutcome, coverage,
    plan, step,
};
use proptest::prelude::*;

const ROLE: &str = "arn:aws:iam::222233334444:role/podreach-member";

fn account(id: u64, state: &str, ous: &[&str]) -> Account {
    Account {
        id: format!("{id:012}"),
        name: Some(format!("team-{id}")),
        state: AccountState::parse(state),
        ous: ous.iter().map(|o| (*o).to_owned()).collect(),
    }
}

fn regions(list: &[&str]) -> Selection {
    Selection {
        regions: list.iter().map(|r| (*r).to_owned()).collect(),
        ..Selection::default()
    }
}

fn target(account: u64, region: &str) -> Target {
    Target {
        account: format!("{account:012}"),
        region: region.to_owned(),
    }
}

#[test]
fn active_accounts_times_regions_in_a_stable_order_the_rest_said_with_why() {
    let accounts = vec![
        account(3, "ACTIVE", &["ou-root-prod"]),
        account(1, "ACTIVE", &[]),
        account(2, "SUSPENDED", &[]),
        account(4, "PENDING_CLOSURE", &[]),
        account(5, "ACTIVE", &["ou-root-sandbox", "ou-root-sandbox-deep"]),
        account(6, "ACTIVE", &[]),
    ];
    let mut selection = regions(&["us-east-1", "eu-west-1"]);
    selection.exclude_ous.insert("ou-root-sandbox".to_owned());
    selection.exclude_accounts.insert(format!("{:012}", 6));
    let out = plan(&accounts, &selection).expect("plans");
    assert_eq!(
        out.targets,
        vec![
            target(1, "us-east-1"),
            target(1, "eu-west-1"),
            target(3, "us-east-1"),
            target(3, "eu-west-1"),
        ]
    );
    let skipped: Vec<(String, Skip)> = out
        .skipped
        .into_iter()
        .map(|s| (s.account, s.skip))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                format!("{:012}", 2),
                Skip::NotActive {
                    state: "SUSPENDED".into()
                }
            ),
            (
                format!("{:012}", 4),
                Skip::NotActive {
                    state: "PENDING_CLOSURE".into()
                }
            ),
            (
                format!("{:012}", 5),
                Skip::ExcludedOu {
                    ou: "ou-root-sandbox".into()
                }
            ),
            (format!("{:012}", 6), Skip::ExcludedAccount),
        ]
    );
}

#[test]
fn a_selection_that_would_silently_audit_less_or_more_is_refused() {
    let accounts = vec![account(1, "ACTIVE", &[])];
    assert_eq!(plan(&accounts, &regions(&[])), Err(PlanError::NoRegions));
    assert_eq!(
        plan(&accounts, &regions(&["us-east-1", "us-east-1"])),
        Err(PlanError::RepeatedRegion("us-east-1".into()))
    );
    let mut typo = regions(&["us-east-1"]);
    typo.exclude_accounts.insert(format!("{:012}", 9));
    assert_eq!(
        plan(&accounts, &typo),
        Err(PlanError::UnknownExclusion(format!("{:012}", 9)))
    );
    assert_eq!(
        plan(&[], &regions(&["us-east-1"])),
        Err(PlanError::NothingToAudit { listed: 0 }),
        "a run of no target would read as clean"
    );
    assert_eq!(
        plan(&[account(2, "SUSPENDED", &[])], &regions(&["us-east-1"])),
        Err(PlanError::NothingToAudit { listed: 1 })
    );
    let bad = vec![Account {
        id: "12345".into(),
        ..account(1, "ACTIVE", &[])
    }];
    assert_eq!(
        plan(&bad, &regions(&["us-east-1"])),
        Err(PlanError::BadAccountId("12345".into()))
    );
}

proptest! {
    /// Planning against brute force: a target for exactly each (account, Region) whose account
    /// is ACTIVE, not excluded and under no excluded OU; every other account skipped once.
    #[test]
    fn the_plan_is_exactly_the_allowed_accounts_times_the_regions(
        raw in prop::collection::vec((0u64..40, 0usize..3, prop::collection::vec(0usize..5, 0..3)), 0..40),
        excluded_accounts in prop::collection::btree_set(0u64..40, 0..5),
        excluded_ous in prop::collection::btree_set(0usize..5, 0..3),
        region_count in 1usize..4,
    ) {
        let states = ["ACTIVE", "SUSPENDED", "ACTIVE"];
        let ous = ["ou-a", "ou-b", "ou-c", "ou-d", "ou-e"];
        let accounts: Vec<Account> = raw
            .iter()
            .map(|(id, s, path)| {
                let path: Vec<&str> = path.iter().map(|o| ous[*o]).collect();
                account(*id, states[*s], &path)
            })
            .collect();
        let all_regions = ["us-east-1", "eu-west-1", "ap-south-1"];
        let mut selection = regions(&all_regions[..region_count]);
        // Only exclusions of accounts that exist (the others are refused, tested above).
        selection.exclude_accounts = excluded_accounts
            .iter()
            .map(|a| format!("{a:012}"))
            .filter(|a| accounts.iter().any(|x| &x.id == a))
            .collect();
        selection.exclude_ous = excluded_ous.iter().map(|o| ous[*o].to_owned()).collect();
        let planned = plan(&accounts, &selection);
        // The first occurrence of a repeated id is not necessarily the one kept: compare with
        // the account the plan kept, the first in id order (a stable sort keeps input order).
        let mut firsts: BTreeMap<&str, &Account> = BTreeMap::new();
        for a in &accounts {
            firsts.entry(a.id.as_str()).or_insert(a);
        }
        let mut expected = Vec::new();
        let mut skipped = 0;
        for (id, a) in &firsts {
            let allowed = a.state == AccountState::Active
                && !selection.exclude_accounts.contains(*id)
                && !a.ous.iter().any(|o| selection.exclude_ous.contains(o));
            if allowed {
                for r in &selection.regions {
                    expected.push(Target { account: (*id).to_owned(), region: r.clone() });
                }
            } else {
                skipped += 1;
            }
        }
        match planned {
            Ok(out) => {
                prop_assert_eq!(&out.targets, &expected);
                prop_assert_eq!(out.skipped.len(), skipped);
            }
            Err(PlanError::NothingToAudit { listed }) => {
                prop_assert!(expected.is_empty());
                prop_assert_eq!(listed, accounts.len());
            }
            Err(other) => prop_assert!(false, "{other}"),
        }
    }
}

#[test]
fn aws_errors_become_typed_blockers_with_a_remedy() {
    let cases = [
        (
            "sts:AssumeRole",
            "AccessDenied",
            "User: arn:aws:sts::111122223333:assumed-role/podreach-audit-worker/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/podreach-member",
            "role-not-assumable",
            "infra/member.yaml",
        ),
        (
            "ec2:DescribeNetworkInterfaces",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation. with an explicit deny in a service control policy",
            "scp-denied",
            "service control policy",
        ),
        (
            "ec2:DescribeRouteTables",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            "action-denied",
            "ec2:DescribeRouteTables",
        ),
        (
            "ec2:DescribeInstances",
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
            "region-not-enabled",
            "enable-region",
        ),
        (
            "ec2:DescribeNetworkInterfaces",
            "RequestLimitExceeded",
            "Request limit exceeded.",
            "throttled",
            "AccountConcurrency",
        ),
        (
            "eks:ListClusters",
            "InternalFailure",
            "An internal error occurred",
            "failed",
            "the next run retries",
        ),
    ];
    for (action, code, message, kind, remedy) in cases {
        let blocker = Blocker::classify(action, code, message, ROLE);
        assert_eq!(blocker.kind(), kind, "{action} {code}");
        let text = blocker.remedy(&target(222_233_334_444, "ap-east-1"));
        assert!(text.contains(remedy), "{kind}: {text}");
    }
    assert_eq!(
        Blocker::classify("sts:AssumeRole", "AccessDenied", "denied", ROLE),
        Blocker::RoleNotAssumable {
            role_arn: ROLE.into()
        }
    );
}

fn blind(kind: &str) -> TargetOutcome {
    let blocker = match kind {
        "role" => Blocker::RoleNotAssumable {
            role_arn: ROLE.into(),
        },
        _ => Blocker::ActionDenied {
            action: "ec2:DescribeNetworkInterfaces".into(),
        },
    };
    TargetOutcome::Blind {
        blocker,
        error: format!("{kind} error"),
    }
}

#[test]
fn a_blind_target_is_announced_once_again_when_its_reason_changes_and_resolved_when_audited() {
    let t = target(2, "eu-west-1");
    let audited = TargetOutcome::Audited { clusters: 3 };
    let (s1, c1) = step(None, &t, &audited, 100);
    assert!(c1.is_none(), "a healthy first run says nothing");
    assert_eq!(s1.last_success, Some(100));

    let (s2, c2) = step(Some(&s1), &t, &blind("role"), 200);
    let c2 = c2.expect("NEW");
    assert_eq!(c2.marker, Marker::New);
    assert_eq!(
        c2.finding_id(),
        format!("ACCOUNT_UNREACHABLE/{:012}/eu-west-1", 2)
    );
    assert!(
        c2.remedy
            .as_deref()
            .expect("a remedy")
            .contains("podreach-member")
    );
    assert!(c2.title().contains("could not be audited"));
    assert_eq!(s2.last_success, Some(100), "the last success is kept");

    let (s3, c3) = step(Some(&s2), &t, &blind("role"), 300);
    assert!(c3.is_none(), "the same reason is not announced twice");
    assert_eq!(s3.blind_since, Some(200));
    assert_eq!(s3.last_error.as_deref(), Some("role error"));

    let (s4, c4) = step(Some(&s3), &t, &blind("action"), 400);
    let c4 = c4.expect("CHANGED");
    assert_eq!(c4.marker, Marker::Changed);
    assert_eq!(c4.since, 200, "blind since the first failure");

    let (s5, c5) = step(Some(&s4), &t, &audited, 500);
    let c5 = c5.expect("RESOLVED");
    assert_eq!(c5.marker, Marker::Resolved);
    assert_eq!(c5.since, 200);
    assert!(c5.title().contains("audited again"));
    assert_eq!(s5.blocker, None);
    assert_eq!(s5.blind_since, None);
    assert_eq!(s5.last_success, Some(500));
}

#[test]
fn coverage_counts_blind_and_missing_targets_out_and_resolves_targets_no_longer_planned() {
    let planned = vec![
        target(1, "us-east-1"),
        target(2, "us-east-1"),
        target(3, "us-east-1"),
        target(4, "us-east-1"),
    ];
    let gone = target(9, "us-east-1");
    let (_, was_blind) = step(None, &gone, &blind("role"), 50);
    let mut previous = vec![step(None, &gone, &blind("role"), 50).0];
    assert!(was_blind.is_some());
    previous.push(step(None, &planned[1], &blind("role"), 50).0);
    let outcomes = BTreeMap::from([
        (planned[0].clone(), TargetOutcome::Audited { clusters: 1 }),
        (planned[1].clone(), blind("role")),
        (planned[2].clone(), blind("action")),
        // planned[3]: no result (the run ended before it).
    ]);
    let (states, changes, cover) = coverage(&planned, &outcomes, &previous, 100);
    assert_eq!(cover.planned, 4);
    assert_eq!(cover.audited, 1);
    assert!(!cover.complete());
    assert_eq!(
        cover.headline(),
        format!(
            "1 of 4 accounts × Regions audited; 3 not: {:012}/us-east-1 (role-not-assumable), {:012}/us-east-1 (action-denied), {:012}/us-east-1 (no result)",
            2, 3, 4
        )
    );
    assert_eq!(
        states.len(),
        3,
        "a target with no result and no state gets none"
    );
    let markers: Vec<(String, Marker)> =
        changes.iter().map(|c| (c.target.key(), c.marker)).collect();
    assert_eq!(
        markers,
        vec![
            (format!("{:012}/us-east-1", 3), Marker::New),
            (format!("{:012}/us-east-1", 9), Marker::Resolved),
        ],
        "account 2 was already announced; account 9 left the plan"
    );
    let all_fine: BTreeMap<Target, TargetOutcome> = planned
        .iter()
        .map(|t| (t.clone(), TargetOutcome::Audited { clusters: 0 }))
        .collect();
    let (_, changes, cover) = coverage(&planned, &all_fine, &states, 200);
    assert!(cover.complete());
    assert_eq!(cover.headline(), "4 of 4 accounts × Regions audited");
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.marker == Marker::Resolved)
            .count(),
        2
    );
}
