//! The functions' handlers with the `Collect` and `Publish` capabilities replaced by doubles:
//! which scope an event or a batch collects, what gets published, and what fails. The collector
//! double answers with the bundled demo snapshot (clusters `shop` and `legacy`); the end-to-end
//! tests run the same handlers against moto.

mod doubles;

use podreach_aws::Scope;
use podreach_aws::function::{
    Context, FunctionConfig, on_change, on_change_invocation, scheduled_audit,
    scheduled_audit_in_every_region,
};
use podreach_aws::state::MemoryStore;
use serde_json::{Value, json};

use doubles::*;

fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("AQEB{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764133200000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:podreach-ChangeEventsQueue",
        "awsRegion": "eu-west-1"
    })
}

#[tokio::test]
async fn an_addon_update_audits_its_cluster_and_publishes_each_finding_once() {
    let (collector, publisher) = (DemoCollector::default(), RecordingPublisher::default());
    let outcome = on_change(
        &sample("eks-update-addon.json"),
        &context(&config(), &collector, &publisher),
    )
    .await
    .expect("handled");
    assert_eq!(outcome.action, "audited");
    assert_eq!(
        *collector.scopes.lock().expect("not poisoned"),
        [Scope::Clusters(vec!["shop".to_owned()])]
    );
    let sent = publisher.sent.lock().expect("not poisoned");
    assert_eq!(sent.len(), outcome.published);
    assert!(outcome.findings >= sent.len() && !sent.is_empty());
    assert!(
        sent.iter()
            .all(|m| m.attributes["account"] == "111122223333")
    );
}

#[tokio::test]
async fn a_failed_call_collects_nothing() {
    let (collector, publisher) = (DemoCollector::default(), RecordingPublisher::default());
    let outcome = on_change(
        &sample("invalid/ec2-attach-network-interface-failed.json"),
        &context(&config(), &collector, &publisher),
    )
    .await
    .expect("handled");
    assert_eq!(outcome.action, "ignored");
    assert!(collector.scopes.lock().expect("not poisoned").is_empty());
    assert!(publisher.sent.lock().expect("not poisoned").is_empty());
}

#[tokio::test]
async fn a_batch_is_audited_once_for_the_union_and_only_bad_records_fail() {
    let (collector, publisher) = (DemoCollector::default(), RecordingPublisher::default());
    let batch = json!({"Records": [
        sqs_record("m-1", &sample("ec2-assign-private-ip-addresses.json").to_string()),
        sqs_record("m-2", &sample("eks-update-addon.json").to_string()),
        sqs_record("m-3", "{\"not\": \"an event\"}"),
        sqs_record("m-4", &sample("invalid/ec2-attach-network-interface-failed.json").to_string()),
        sqs_record("m-5", &sample("ec2-assign-private-ip-addresses.json").to_string()),
    ]});
    let answer = on_change_invocation(&batch, &context(&config(), &collector, &publisher))
        .await
        .expect("a batch always gets a partial-failure answer");
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-3"}]})
    );
    let scopes = collector.scopes.lock().expect("not poisoned");
    assert_eq!(
        *scopes,
        [Scope::Union(vec![
            Scope::Enis(vec!["eni-0a1b2c3d4e5f6a002".to_owned()]),
            Scope::Clusters(vec!["shop".to_owned()]),
        ])],
        "one collection for the whole batch"
    );
    let sent = publisher.sent.lock().expect("not poisoned");
    let ids: std::collections::BTreeSet<&String> =
        sent.iter().map(|m| &m.attributes["finding_id"]).collect();
    assert_eq!(
        ids.len(),
        sent.len(),
        "each finding is published once per batch"
    );
}

#[tokio::test]
async fn a_publish_failure_fails_the_batch_items_that_were_audited() {
    let collector = DemoCollector::default();
    let publisher = RecordingPublisher {
        fail_on: Some("shop"),
        ..RecordingPublisher::default()
    };
    let batch = json!({"Records": [
        sqs_record("m-1", &sample("eks-update-addon.json").to_string()),
        sqs_record("m-2", &sample("invalid/ec2-attach-network-interface-failed.json").to_string()),
    ]});
    let answer = on_change_invocation(&batch, &context(&config(), &collector, &publisher))
        .await
        .expect("a partial-failure answer");
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]})
    );
}

#[tokio::test]
async fn a_single_malformed_event_is_a_typed_error() {
    let (collector, publisher) = (DemoCollector::default(), RecordingPublisher::default());
    let error = on_change_invocation(
        &json!({"hello": "world"}),
        &context(&config(), &collector, &publisher),
    )
    .await
    .expect_err("not an event");
    assert_eq!(error.error_type(), "podreach.MalformedEvent");
}

#[tokio::test]
async fn the_schedule_publishes_findings_and_a_digest_for_the_configured_clusters() {
    let (collector, publisher) = (DemoCollector::default(), RecordingPublisher::default());
    let config = FunctionConfig::from_lookup(|name| match name {
        "DRY_RUN" => Some("true".to_owned()),
        "CLUSTERS" => Some("shop".to_owned()),
        _ => None,
    })
    .expect("a valid configuration");
    let outcome = scheduled_audit(
        &sample("scheduled.json"),
        &context(&config, &collector, &publisher),
    )
    .await
    .expect("handled");
    assert_eq!(
        *collector.scopes.lock().expect("not poisoned"),
        [Scope::Clusters(vec!["shop".to_owned()])]
    );
    let sent = publisher.sent.lock().expect("not poisoned");
    assert_eq!(
        sent.iter()
            .filter(|m| m.attributes["kind"] == "digest")
            .count(),
        1
    );
    assert_eq!(outcome.published, sent.len());
}

#[tokio::test]
async fn a_cluster_not_analysed_is_in_the_outcome_and_the_digest_never_reads_clean() {
    let collector = DemoCollector {
        incomplete: Some("shop"),
        ..DemoCollector::default()
    };
    let publisher = RecordingPublisher::default();
    let outcome = scheduled_audit(
        &sample("scheduled.json"),
        &context(&config(), &collector, &publisher),
    )
    .await
    .expect("handled");
    assert_eq!(outcome.not_analysed.len(), 1, "{outcome:?}");
    assert!(outcome.not_analysed[0].starts_with("shop: "), "{outcome:?}");
    let sent = publisher.sent.lock().expect("not poisoned");
    let digest = sent
        .iter()
        .find(|m| m.attributes["kind"] == "digest")
        .expect("a digest");
    assert!(
        digest.subject.contains("NOT ANALYSED"),
        "{}",
        digest.subject
    );
    let body: Value = serde_json::from_str(&digest.body).expect("a JSON digest");
    assert_eq!(body["not_analysed"][0]["cluster"], "shop", "{body}");
}

#[tokio::test]
async fn tcp_ports_judge_every_path_on_exactly_those_ports() {
    // The demo's peer database admits tcp/5432 and tcp/443 from both cluster VPCs.
    let ports = |list: &'static str| {
        FunctionConfig::from_lookup(move |name| match name {
            "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:podreach".to_owned()),
            "MIN_SEVERITY" => Some("LOW".to_owned()),
            "TCP_PORTS" => Some(list.to_owned()),
            _ => None,
        })
        .expect("a valid configuration")
    };
    let sg_messages = |config: FunctionConfig| async move {
        let (collector, publisher) = (DemoCollector::default(), RecordingPublisher::default());
        on_change(
            &sample("eks-update-addon.json"),
            &context(&config, &collector, &publisher),
        )
        .await
        .expect("handled");
        let sent = publisher.sent.lock().expect("not poisoned");
        sent.iter()
            .filter(|m| m.attributes["cause"] == "PEER_SG")
            .count()
    };
    assert_eq!(
        sg_messages(ports("tcp/5432")).await,
        0,
        "the database's port passes"
    );
    assert!(
        sg_messages(ports("tcp/5432,tcp/6379")).await > 0,
        "tcp/6379 is not admitted by the peer's group"
    );
}

/// A context auditing `eu-west-1` with `home` and the `others`, sharing one store.
fn regions_context<'a, P>(
    config: &'a FunctionConfig,
    home: &'a DemoCollector,
    others: &'a [(String, DemoCollector)],
    publisher: &'a P,
    store: &'a MemoryStore,
) -> Context<'a, DemoCollector, P, MemoryStore> {
    Context {
        others,
        store,
        ..context(config, home, publisher)
    }
}

fn scopes(collector: &DemoCollector) -> usize {
    collector.scopes.lock().expect("not poisoned").len()
}

/// The Regions the messages sent are about.
fn regions_of(publisher: &RecordingPublisher) -> std::collections::BTreeSet<String> {
    publisher
        .sent
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|m| m.attributes["region"].clone())
        .collect()
}

#[tokio::test]
async fn the_schedule_audits_every_region_and_one_that_fails_hides_none() {
    let home = DemoCollector::default();
    let others = [
        (
            "ap-south-2".to_owned(),
            DemoCollector {
                unreachable: true,
                ..DemoCollector::default()
            },
        ),
        ("us-east-1".to_owned(), DemoCollector::default()),
    ];
    let (publisher, store) = (RecordingPublisher::default(), MemoryStore::default());
    let config = config();
    let context = regions_context(&config, &home, &others, &publisher, &store);
    let error = scheduled_audit_in_every_region(&sample("scheduled.json"), &context)
        .await
        .expect_err("a Region failed");
    assert_eq!(error.error_type(), "podreach.ListClustersFailed");
    assert!(
        error.to_string().starts_with("Region ap-south-2: "),
        "{error}"
    );
    // Every Region was collected, the one after the failure too, each with its own collector.
    assert_eq!(
        (scopes(&home), scopes(&others[0].1), scopes(&others[1].1)),
        (1, 1, 1)
    );
    // Each audited Region announced its findings and its digest, in its own name.
    assert_eq!(
        regions_of(&publisher),
        ["eu-west-1".to_owned(), "us-east-1".to_owned()].into()
    );
    let digests = publisher
        .sent
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|m| m.attributes["kind"] == "digest")
        .count();
    assert_eq!(digests, 2);
    // Each Region's lifecycle is kept in its own partition: the same findings, twice.
    let records = |region: &str| {
        store
            .snapshot(&podreach_aws::state::Partition {
                account: "111122223333".to_owned(),
                region: region.to_owned(),
            })
            .0
            .len()
    };
    assert!(records("eu-west-1") > 0);
    assert_eq!(records("eu-west-1"), records("us-east-1"));
    assert_eq!(records("ap-south-2"), 0);

    // Fixed: the next run answers with every Region's outcome.
    let fixed = [("us-east-1".to_owned(), DemoCollector::default())];
    let context = regions_context(&config, &home, &fixed, &publisher, &store);
    let answer = scheduled_audit_in_every_region(&sample("scheduled.json"), &context)
        .await
        .expect("every Region audited");
    let regions: Vec<&str> = answer["regions"]
        .as_array()
        .expect("each Region's outcome")
        .iter()
        .map(|r| r["region"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    assert_eq!(answer["regions"][1]["outcome"]["action"], "audited");
}

#[tokio::test]
async fn events_are_audited_in_their_own_region_and_others_are_ignored() {
    let home = DemoCollector::default();
    let others = [("us-east-1".to_owned(), DemoCollector::default())];
    let (publisher, store) = (RecordingPublisher::default(), MemoryStore::default());
    let config = config();
    let context = regions_context(&config, &home, &others, &publisher, &store);
    let from = |region: &str| {
        let mut event = sample("eks-update-addon.json");
        event["region"] = json!(region);
        event.to_string()
    };
    let batch = json!({"Records": [
        sqs_record("m-1", &from("us-east-1")),
        sqs_record("m-2", &from("eu-west-1")),
        sqs_record("m-3", &from("us-east-1")),
        sqs_record("m-4", &from("sa-east-1")),
    ]});
    let answer = on_change_invocation(&batch, &context)
        .await
        .expect("a partial-failure answer");
    assert_eq!(answer, json!({"batchItemFailures": []}));
    // One collection per Region, with the Region's own collector; none for sa-east-1.
    assert_eq!((scopes(&home), scopes(&others[0].1)), (1, 1));
    assert_eq!(
        regions_of(&publisher),
        ["eu-west-1".to_owned(), "us-east-1".to_owned()].into()
    );

    // One event, delivered directly, from a Region not audited: ignored, saying how to add it.
    let outcome = on_change(
        &serde_json::from_str(&from("sa-east-1")).expect("JSON"),
        &context,
    )
    .await
    .expect("handled");
    assert_eq!(outcome.action, "ignored");
    assert!(outcome.why.contains("add it to REGIONS"), "{}", outcome.why);
    assert_eq!((scopes(&home), scopes(&others[0].1)), (1, 1));
}
