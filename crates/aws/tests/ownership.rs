//! `on-change` scopes an event by what the clusters' nodes own: the index a full audit stores
//! (`podreach_aws::owners`), then one lookup for a live ENI the index does not know. Someone
//! else's ENI (a Lambda's, an ECS task's, an instance that is no node) costs at most that lookup
//! and no audit; a gone ENI, attachment or association is its owner cluster's, or nobody's.
//! The collector double serves the demo (`shop`: i-0a5f0e1d2c3b4a701 with eni-0a01… and
//! eni-0a02…; `legacy`: i-0c5f0e1d2c3b4a703; `payments-db` i-0b5f0e1d2c3b4a702 is no node).

mod doubles;

use podreach_aws::Scope;
use podreach_aws::function::{Context, on_change_invocation, scheduled_audit};
use podreach_aws::owners::{Owners, fingerprint};
use podreach_aws::state::{MemoryStore, Partition, StateStore};
use podreach_core::raw;
use serde_json::{Value, json};

use doubles::*;

fn at() -> Partition {
    Partition {
        account: "111122223333".to_owned(),
        region: "eu-west-1".to_owned(),
    }
}

/// A Lambda's ENI in the cluster's VPC, as `describe-network-interfaces` prints it.
fn lambda_eni() -> raw::NetworkInterface {
    serde_json::from_value(json!({
        "NetworkInterfaceId": "eni-0f1a2b3c4d5e6f701",
        "SubnetId": "subnet-0a10e5f1c2d3b4a01",
        "VpcId": "vpc-0a5e1d2c3b4a59601",
        "Description": "AWS Lambda VPC ENI-orders-handler-6c1b9f3e",
        "InterfaceType": "lambda",
        "RequesterId": "AROAEXAMPLE:orders-handler",
        "RequesterManaged": true,
        "Status": "in-use",
        "PrivateIpAddress": "10.0.3.17",
        "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.3.17"}],
        "Groups": [],
        "TagSet": []
    }))
    .expect("a real-shaped ENI")
}

/// An event sample with `field` of its request set to `value`.
fn event(name: &str, field: &str, value: &str) -> Value {
    let mut event = sample(name);
    event["detail"]["requestParameters"][field] = json!(value);
    if let Some(eni) = event["detail"]["responseElements"].get_mut("networkInterface") {
        eni["networkInterfaceId"] = json!(value);
    }
    event
}

fn record(id: usize, event: &Value) -> Value {
    json!({
        "messageId": format!("m-{id}"),
        "receiptHandle": format!("AQEB{id}"),
        "body": event.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764133200000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:podreach-ChangeEventsQueue",
        "awsRegion": "eu-west-1"
    })
}

/// A collector that looks ENIs up, and a store where a full audit left its index.
async fn audited() -> (DemoCollector, &'static MemoryStore) {
    let collector = DemoCollector {
        foreign: Some(vec![lambda_eni()]),
        ..DemoCollector::default()
    };
    let store: &'static MemoryStore = Box::leak(Box::new(MemoryStore::default()));
    {
        let (config, publisher) = (config(), RecordingPublisher::default());
        let context = Context {
            store,
            ..context(&config, &collector, &publisher)
        };
        scheduled_audit(&sample("scheduled.json"), &context)
            .await
            .expect("the full audit");
    }
    collector.scopes.lock().expect("not poisoned").clear();
    (collector, store)
}

async fn on_change(collector: &DemoCollector, store: &MemoryStore, payload: &Value) -> Value {
    let (config, publisher) = (config(), RecordingPublisher::default());
    let context = Context {
        store,
        ..context(&config, collector, &publisher)
    };
    on_change_invocation(payload, &context)
        .await
        .expect("handled")
}

fn collected(collector: &DemoCollector) -> Vec<Scope> {
    collector.scopes.lock().expect("not poisoned").clone()
}

fn lookups(collector: &DemoCollector) -> usize {
    collector.lookups.lock().expect("not poisoned").len()
}

#[test]
fn the_index_holds_each_clusters_nodes_enis_attachments_and_associations() {
    let collection = podreach_aws::Collection {
        documents: demo_documents(),
        notes: raw::CollectionNotes::default(),
        cluster_names: vec!["legacy".to_owned(), "shop".to_owned()],
        listed_clusters: None,
        missing_clusters: Vec::new(),
    };
    let shop = Owners::of(&collection, "shop", 1_800_000_000);
    for id in [
        "i-0a5f0e1d2c3b4a701",
        "eni-0a01f1e2d3c4b5a61",
        "eni-0a02f1e2d3c4b5a62",
        "eni-attach-0a02f1e2d3c4b5a62",
    ] {
        assert!(shop.owns(id), "shop owns {id}");
    }
    for id in [
        "i-0c5f0e1d2c3b4a703",
        "eni-0c02f1e2d3c4b5a64",
        "i-0b5f0e1d2c3b4a702",
        "eni-0b01f1e2d3c4b5a65",
    ] {
        assert!(!shop.owns(id), "{id} is not shop's");
    }
    let legacy = Owners::of(&collection, "legacy", 1_800_000_000);
    assert!(legacy.owns("eni-attach-0c02f1e2d3c4b5a64"));
    // Stored as 4 bytes per id and read back the same.
    let bytes = shop.to_bytes();
    assert_eq!(bytes.len(), 4 * shop.len());
    assert_eq!(
        Owners::from_bytes("shop", 1_800_000_000, &bytes),
        Some(shop)
    );
    assert_eq!(Owners::from_bytes("shop", 0, &[1, 2, 3]), None);
    // FNV-1a: stable across releases (the index outlives the process that wrote it).
    assert_eq!(fingerprint(""), 0x811c_9dc5);
    assert_eq!(fingerprint("a"), 0xe40c_292c);
}

#[tokio::test]
async fn a_full_audit_stores_the_index_and_a_hundred_unrelated_enis_gone_cost_no_audit_and_no_lookup()
 {
    let (collector, store) = audited().await;
    let owners = store.owners(&at()).await.expect("readable");
    let names: Vec<&str> = owners.iter().map(|o| o.cluster.as_str()).collect();
    assert_eq!(names, ["legacy", "shop"]);
    // 100 detaches, 20 deletes and 10 disassociations of someone else's, in one batch.
    let mut records = Vec::new();
    for i in 0..100 {
        let id = format!("eni-attach-0f{i:015x}");
        records.push(record(
            i,
            &event("ec2-detach-network-interface.json", "attachmentId", &id),
        ));
    }
    for i in 100..120 {
        let id = format!("eni-0f{i:015x}");
        records.push(record(
            i,
            &event(
                "ec2-delete-network-interface.json",
                "networkInterfaceId",
                &id,
            ),
        ));
    }
    for i in 120..130 {
        let id = format!("rtbassoc-0f{i:015x}");
        records.push(record(
            i,
            &event("ec2-disassociate-route-table.json", "associationId", &id),
        ));
    }
    let answer = on_change(&collector, store, &json!({ "Records": records })).await;
    assert_eq!(answer, json!({"batchItemFailures": []}), "none failed");
    assert_eq!(collected(&collector), [], "zero audits");
    assert_eq!(lookups(&collector), 0, "gone objects need no lookup");
    // One at a time, the same.
    for i in 0..100 {
        let id = format!("eni-attach-0f{i:015x}");
        let answer = on_change(
            &collector,
            store,
            &event("ec2-detach-network-interface.json", "attachmentId", &id),
        )
        .await;
        assert_eq!(answer["action"], "ignored", "{answer}");
        assert_eq!(answer["api_calls"], 0);
    }
    assert_eq!(collected(&collector), []);
}

#[tokio::test]
async fn a_gone_object_a_cluster_owned_audits_that_cluster_only() {
    let (collector, store) = audited().await;
    for (name, field, id) in [
        (
            "ec2-detach-network-interface.json",
            "attachmentId",
            "eni-attach-0a02f1e2d3c4b5a62",
        ),
        (
            "ec2-delete-network-interface.json",
            "networkInterfaceId",
            "eni-0a02f1e2d3c4b5a62",
        ),
    ] {
        let answer = on_change(&collector, store, &event(name, field, id)).await;
        assert_eq!(answer["action"], "audited", "{answer}");
        assert_eq!(
            collected(&collector),
            [Scope::Clusters(vec!["shop".to_owned()])],
            "{name}"
        );
        collector.scopes.lock().expect("not poisoned").clear();
    }
    // The association of a route table of legacy's VPC is legacy's.
    let answer = on_change(
        &collector,
        store,
        &event(
            "ec2-disassociate-route-table.json",
            "associationId",
            "rtbassoc-0c3e2d3c4b5a69703",
        ),
    )
    .await;
    assert_eq!(answer["action"], "audited", "{answer}");
    assert_eq!(
        collected(&collector),
        [Scope::Clusters(vec!["legacy".to_owned()])]
    );
}

#[tokio::test]
async fn a_live_eni_of_someone_else_costs_one_lookup_and_no_audit_and_a_nodes_is_audited() {
    let (collector, store) = audited().await;
    // A Lambda's ENI: looked up once, dismissed with what it is.
    let answer = on_change(
        &collector,
        store,
        &event(
            "ec2-create-network-interface.json",
            "networkInterfaceId",
            "eni-0f1a2b3c4d5e6f701",
        ),
    )
    .await;
    assert_eq!(answer["action"], "ignored", "{answer}");
    assert_eq!(answer["api_calls"], 1);
    assert!(
        answer["why"].as_str().is_some_and(|w| w.contains("lambda")),
        "{answer}"
    );
    // The ENI of an instance that is no node (payments-db): the same.
    let answer = on_change(
        &collector,
        store,
        &event(
            "ec2-assign-private-ip-addresses.json",
            "networkInterfaceId",
            "eni-0b01f1e2d3c4b5a65",
        ),
    )
    .await;
    assert_eq!(answer["action"], "ignored", "{answer}");
    assert!(
        answer["why"]
            .as_str()
            .is_some_and(|w| w.contains("i-0b5f0e1d2c3b4a702, which is no cluster's node")),
        "{answer}"
    );
    assert_eq!(collected(&collector), [], "no audit");
    assert_eq!(lookups(&collector), 2, "one lookup each");
    // A node's ENI the index knows: no lookup, the node's audit.
    let answer = on_change(
        &collector,
        store,
        &event(
            "ec2-assign-private-ip-addresses.json",
            "networkInterfaceId",
            "eni-0a01f1e2d3c4b5a61",
        ),
    )
    .await;
    assert_eq!(answer["action"], "audited", "{answer}");
    assert_eq!(lookups(&collector), 2, "the index answered");
    assert_eq!(collected(&collector).len(), 1);
}

#[tokio::test]
async fn an_input_change_reaudits_the_clusters_that_read_it_and_invalidates_their_contexts() {
    let (collector, store) = audited().await;
    assert!(!podreach_aws::context::is_invalidated(
        &cached(store, "shop").await
    ));
    // shop's own security group: shop alone, whole. The audit that follows is partial (a page
    // throttled), so it caches no new context: the old one stays invalidated.
    let partial = DemoCollector {
        incomplete: Some("shop"),
        foreign: Some(Vec::new()),
        ..DemoCollector::default()
    };
    let answer = on_change(
        &partial,
        store,
        &sample("ec2-authorize-security-group-egress.json"),
    )
    .await;
    assert_eq!(answer["action"], "audited", "{answer}");
    assert_eq!(
        collected(&partial),
        [Scope::Clusters(vec!["shop".to_owned()])]
    );
    assert!(podreach_aws::context::is_invalidated(
        &cached(store, "shop").await
    ));
    assert!(
        !podreach_aws::context::is_invalidated(&cached(store, "legacy").await),
        "legacy does not read shop's group"
    );
    // The far side's group (payments-db): both clusters read it.
    let answer = on_change(
        &collector,
        store,
        &sample("ec2-authorize-security-group-ingress.json"),
    )
    .await;
    assert_eq!(answer["action"], "audited", "{answer}");
    assert_eq!(
        collected(&collector),
        [Scope::Clusters(vec![
            "legacy".to_owned(),
            "shop".to_owned()
        ])]
    );
    // A prefix list no cluster reads: nothing.
    let answer = on_change(
        &collector,
        store,
        &sample("ec2-modify-managed-prefix-list.json"),
    )
    .await;
    assert_eq!(answer["action"], "ignored", "{answer}");
    assert_eq!(answer["api_calls"], 0);
}

async fn cached(store: &MemoryStore, cluster: &str) -> podreach_aws::context::CachedContext {
    store
        .context(&at(), cluster)
        .await
        .expect("readable")
        .expect("cached by the full audit")
}
