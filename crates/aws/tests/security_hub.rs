//! The scheduled audit's Security Hub step (`SECURITY_HUB=true`), through the handler with the
//! demo collector: every open finding imported FAILED under its stable id, in the Region
//! audited and for the event's account; the same ids again on the next run; a finding whose
//! cluster is deleted imported PASSED and ARCHIVED, and again on later runs within the week;
//! nothing imported when the setting is off, or by on-change.

mod doubles;

use doubles::{DemoCollector, RecordingPublisher, sample};
use podreach_aws::function::{Context, FunctionConfig, on_change, scheduled_audit};
use podreach_aws::state::MemoryStore;

fn config(security_hub: bool) -> FunctionConfig {
    FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:podreach".to_owned()),
        "SECURITY_HUB" => Some(security_hub.to_string()),
        _ => None,
    })
    .expect("a valid configuration")
}

fn at<'a>(
    config: &'a FunctionConfig,
    collector: &'a DemoCollector,
    publisher: &'a RecordingPublisher,
    store: &'a MemoryStore,
    now: i64,
) -> Context<'a, DemoCollector, RecordingPublisher, MemoryStore> {
    Context {
        now: Some(now),
        store,
        ..doubles::context(config, collector, publisher)
    }
}

#[tokio::test]
async fn open_findings_are_imported_failed_and_a_deleted_clusters_are_archived_passed() {
    let config = config(true);
    let (collector, publisher, store) = (
        DemoCollector::default(),
        RecordingPublisher::default(),
        MemoryStore::default(),
    );
    let event = sample("scheduled.json");
    let outcome = scheduled_audit(&event, &at(&config, &collector, &publisher, &store, 1_000))
        .await
        .expect("audited");
    let first: Vec<_> = publisher.imported.lock().expect("not poisoned").clone();
    assert_eq!(first.len(), 1, "one import per run");
    let (region, findings) = &first[0];
    assert_eq!(region, "eu-west-1", "the hub of the Region audited");
    assert_eq!(findings.len(), outcome.findings, "every open finding");
    let hub = outcome.security_hub.expect("the step ran");
    assert_eq!(
        (hub.imported, hub.accepted),
        (outcome.findings, outcome.findings)
    );
    for f in findings {
        assert_eq!(f.aws_account_id, "111122223333", "the event's account");
        assert_eq!(f.compliance.status, "FAILED");
        assert_eq!(f.record_state, "ACTIVE");
        assert!(f.id.starts_with("podreach/eu-west-1/"), "{}", f.id);
    }
    assert!(findings.iter().any(|f| f.id.contains("/legacy/")));

    // The next run: the same ids, updated.
    scheduled_audit(&event, &at(&config, &collector, &publisher, &store, 2_000))
        .await
        .expect("audited");
    let ids = |run: usize| -> Vec<String> {
        let imported = publisher.imported.lock().expect("not poisoned");
        imported[run].1.iter().map(|f| f.id.clone()).collect()
    };
    assert_eq!(ids(1), ids(0), "stable ids: an import replaces the record");

    // `legacy` is deleted: its findings are imported PASSED and ARCHIVED, the others FAILED.
    *collector.deleted.lock().expect("not poisoned") = Some("legacy");
    scheduled_audit(&event, &at(&config, &collector, &publisher, &store, 3_000))
        .await
        .expect("audited");
    let third = publisher.imported.lock().expect("not poisoned")[2]
        .1
        .clone();
    assert_eq!(
        third.len(),
        first[0].1.len(),
        "the same findings, in their new state"
    );
    for f in &third {
        if f.id.contains("/legacy/") {
            assert_eq!(
                (f.compliance.status, f.record_state),
                ("PASSED", "ARCHIVED"),
                "{}",
                f.id
            );
            assert!(
                f.description
                    .starts_with("Resolved: the cluster legacy no longer exists")
            );
        } else {
            assert_eq!(
                (f.compliance.status, f.record_state),
                ("FAILED", "ACTIVE"),
                "{}",
                f.id
            );
        }
    }
    // A week later the resolution is still imported (an import a run could not make is not
    // lost); after that, no more.
    let week = 7 * 24 * 3600;
    scheduled_audit(
        &event,
        &at(&config, &collector, &publisher, &store, 3_000 + week),
    )
    .await
    .expect("audited");
    scheduled_audit(
        &event,
        &at(&config, &collector, &publisher, &store, 3_001 + week),
    )
    .await
    .expect("audited");
    let imported = publisher.imported.lock().expect("not poisoned");
    let legacy = |run: usize| {
        imported[run]
            .1
            .iter()
            .filter(|f| f.id.contains("/legacy/"))
            .count()
    };
    assert!(legacy(3) > 0, "within the week");
    assert_eq!(legacy(4), 0, "after it");
}

#[tokio::test]
async fn nothing_goes_to_security_hub_when_it_is_off_or_from_on_change() {
    let (collector, publisher, store) = (
        DemoCollector::default(),
        RecordingPublisher::default(),
        MemoryStore::default(),
    );
    let off = config(false);
    let outcome = scheduled_audit(
        &sample("scheduled.json"),
        &at(&off, &collector, &publisher, &store, 1),
    )
    .await
    .expect("audited");
    assert!(outcome.security_hub.is_none());
    let on = config(true);
    let outcome = on_change(
        &sample("eks-update-addon.json"),
        &at(&on, &collector, &publisher, &store, 2),
    )
    .await
    .expect("handled");
    assert!(
        outcome.security_hub.is_none(),
        "one node's view is not the finding"
    );
    assert!(publisher.imported.lock().expect("not poisoned").is_empty());
}

#[tokio::test]
async fn an_event_without_an_account_imports_nothing_and_says_why() {
    let config = config(true);
    let (collector, publisher, store) = (
        DemoCollector::default(),
        RecordingPublisher::default(),
        MemoryStore::default(),
    );
    let mut event = sample("scheduled.json");
    event.as_object_mut().expect("an object").remove("account");
    let outcome = scheduled_audit(&event, &at(&config, &collector, &publisher, &store, 1))
        .await
        .expect("audited");
    let hub = outcome.security_hub.expect("the step ran");
    assert!(
        hub.skipped
            .as_deref()
            .is_some_and(|w| w.contains("names no account"))
    );
    assert!(publisher.imported.lock().expect("not poisoned").is_empty());
}
