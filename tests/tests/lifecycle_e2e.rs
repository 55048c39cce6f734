//! The finding lifecycle end to end: the handlers against moto's DynamoDB (the table as the
//! template defines it), SSM (the suppression parameter), SNS and SQS (a subscriber queue that
//! shows exactly what was published), and the CLI's `--state` file on the same sequence.
//!
//! The sequence is `podreach_tests::lifecycle::STEPS`: a finding appears, repeats 50 times,
//! grows, is suppressed, the suppression expires, a malformed suppression document suppresses
//! nothing, a partial audit resolves nothing, it is fixed, it comes back. The functions then get
//! what only they have: the scheduled reminder and digest, and the cluster's deletion. The first
//! appearance and the growth run as two invocations racing on the same change, held at a barrier
//! after both read the state, so both decide to publish and only the conditional write decides:
//! each change must still reach the topic exactly once. EC2 and EKS are not involved: the
//! collector double hands out each step's snapshot (the collection itself is tested elsewhere).

use std::collections::BTreeMap;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use podreach_aws::Scope;
use podreach_aws::collect::{Collect, Collection};
use podreach_aws::error::CollectError;
use podreach_aws::function::{Context, FunctionConfig, Outcome, on_change, scheduled_audit};
use podreach_aws::publish::SnsPublisher;
use podreach_aws::state::{
    Clusters, DynamoStore, Partition, Record, StateError, StateStore, Written,
};
use podreach_aws::suppressions::SuppressionSource;
use podreach_core::SourceFile;
use podreach_core::lifecycle::FindingState;
use podreach_core::raw::CollectionNotes;
use podreach_core::snapshot::Document;
use podreach_tests::infra::built_binary;
use podreach_tests::lambda::{self, Notification, Subscribers};
use podreach_tests::lifecycle::{self, AFTER_SUPPRESSION, STEPS, Shop, Suppression};
use podreach_tests::moto::{Account, Moto};
use podreach_tests::seed::SeededDemo;
use serde_json::Value;

/// Hands out one step's snapshot, whatever the scope.
struct StepCollector {
    files: Vec<SourceFile>,
    /// Every cluster of the region, as a listing would say (the scheduled audit's scope).
    listed: Option<Vec<String>>,
    /// Named clusters EKS says do not exist.
    missing: Vec<String>,
}

impl StepCollector {
    fn new(shop: Option<Shop>, partial: bool, listed: Option<&[&str]>) -> Self {
        StepCollector {
            files: shop.map_or_else(Vec::new, |shop| lifecycle::files(shop, partial)),
            listed: listed.map(|names| names.iter().map(|n| (*n).to_owned()).collect()),
            missing: Vec::new(),
        }
    }
}

impl Collect for StepCollector {
    async fn collect(&self, _scope: &Scope) -> Result<Collection, CollectError> {
        let files: Vec<SourceFile> = self
            .files
            .iter()
            .map(|f| SourceFile {
                path: format!("clusters/{}", f.path),
                text: f.text.clone(),
            })
            .collect();
        let mut notes = CollectionNotes::default();
        let mut documents = Vec::new();
        let loaded = podreach_core::snapshot::load(&files)
            .into_result()
            .expect("the step's snapshot is valid");
        for document in loaded.documents {
            match document.document {
                Document::Collection(note) => notes = note.podreach_collection,
                _ => documents.push(document),
            }
        }
        Ok(Collection {
            documents,
            notes,
            cluster_names: if self.files.is_empty() {
                Vec::new()
            } else {
                vec!["shop".to_owned()]
            },
            listed_clusters: self.listed.clone(),
            missing_clusters: self.missing.clone(),
        })
    }
}

/// A store that holds every `load` at a barrier until `parties` invocations have read the
/// state: they then all decide from the same version, and only the conditional write decides.
struct Racing<'a> {
    inner: &'a DynamoStore,
    barrier: tokio::sync::Barrier,
}

impl StateStore for Racing<'_> {
    async fn load(
        &self,
        at: &Partition,
        clusters: Clusters<'_>,
    ) -> Result<Vec<Record>, StateError> {
        let records = self.inner.load(at, clusters).await;
        self.barrier.wait().await;
        records
    }
    async fn get(
        &self,
        at: &Partition,
        cluster: &str,
        finding_id: &str,
    ) -> Result<Option<Record>, StateError> {
        self.inner.get(at, cluster, finding_id).await
    }
    async fn put(
        &self,
        at: &Partition,
        state: &FindingState,
        expected: u64,
    ) -> Result<Written, StateError> {
        self.inner.put(at, state, expected).await
    }
    async fn last_digest(&self, at: &Partition) -> Result<Option<i64>, StateError> {
        self.inner.last_digest(at).await
    }
    async fn set_last_digest(&self, at: &Partition, time: i64) -> Result<(), StateError> {
        self.inner.set_last_digest(at, time).await
    }
}

/// A moto account with the state table, the suppression parameter, the topic and subscribers.
struct World {
    account: Account,
    subscribers: Subscribers,
    table: String,
    store: DynamoStore,
    dynamo: aws_sdk_dynamodb::Client,
    ssm: aws_sdk_ssm::Client,
    suppressions: SuppressionSource,
    config: FunctionConfig,
    event: Value,
}

const PARAMETER: &str = "/podreach/suppressions";

impl World {
    async fn new() -> World {
        let account = Moto::shared().account().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&account.config);
        let table = "podreach-state".to_owned();
        lifecycle::create_table_as_the_template_does(&dynamo, &table).await;
        let ssm = aws_sdk_ssm::Client::new(&account.config);
        let subscribers = lambda::subscribers(&account).await;
        let topic = subscribers.topic_arn.clone();
        let config = FunctionConfig::from_lookup(|name| match name {
            "TOPIC_ARN" => Some(topic.clone()),
            _ => None,
        })
        .expect("a valid configuration");
        let event = lambda::sample_event("eks-update-addon.json", &SeededDemo::default(), &account);
        let world = World {
            store: DynamoStore::from_client(dynamo.clone(), &table),
            suppressions: SuppressionSource::Ssm {
                client: ssm.clone(),
                name: PARAMETER.to_owned(),
            },
            account,
            subscribers,
            table,
            dynamo,
            ssm,
            config,
            event,
        };
        world.suppress(r#"{"suppressions": []}"#).await;
        world
    }

    async fn suppress(&self, document: &str) {
        self.ssm
            .put_parameter()
            .name(PARAMETER)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .value(document)
            .overwrite(true)
            .send()
            .await
            .expect("moto's SSM stores the parameter");
    }

    fn context<'a, C, S>(
        &'a self,
        collector: &'a C,
        publisher: &'a SnsPublisher,
        store: &'a S,
        now: i64,
    ) -> Context<'a, C, SnsPublisher, S> {
        Context {
            config: &self.config,
            region: moto_region(),
            collector,
            others: &[],
            publisher,
            store,
            suppressions: &self.suppressions,
            now: Some(now),
            deadline: None,
        }
    }

    async fn on_change(&self, collector: &StepCollector, now: i64) -> Outcome {
        let publisher = self.subscribers.publisher();
        on_change(
            &self.event,
            &self.context(collector, &publisher, &self.store, now),
        )
        .await
        .unwrap_or_else(|e| handler_failed(&e.to_string()))
    }

    /// Two invocations of the same change at once, both past the state read before either writes.
    async fn racing(&self, collector: &StepCollector, now: i64) -> [Outcome; 2] {
        let publisher = self.subscribers.publisher();
        let racing = Racing {
            inner: &self.store,
            barrier: tokio::sync::Barrier::new(2),
        };
        let context = self.context(collector, &publisher, &racing, now);
        let (a, b) = tokio::join!(
            on_change(&self.event, &context),
            on_change(&self.event, &context)
        );
        [a, b].map(|o| o.unwrap_or_else(|e| handler_failed(&e.to_string())))
    }

    async fn scheduled(&self, collector: &StepCollector, now: i64) -> Outcome {
        let publisher = self.subscribers.publisher();
        let event = lambda::sample_event("scheduled.json", &SeededDemo::default(), &self.account);
        scheduled_audit(
            &event,
            &self.context(collector, &publisher, &self.store, now),
        )
        .await
        .unwrap_or_else(|e| handler_failed(&e.to_string()))
    }

    /// Every message published since the last call: (lifecycle or `digest`, message).
    async fn published(&self, expected: usize) -> Vec<(String, Notification)> {
        let mut messages: Vec<(String, Notification)> =
            lambda::drain(&self.subscribers.sqs, &self.subscribers.all, expected)
                .await
                .into_iter()
                .map(|n| {
                    let marker = if n.attribute("kind") == "digest" {
                        "digest".to_owned()
                    } else {
                        n.attribute("lifecycle").to_owned()
                    };
                    (marker, n)
                })
                .collect();
        messages.sort_by(|a, b| a.0.cmp(&b.0));
        messages
    }
}

fn moto_region() -> &'static str {
    podreach_tests::moto::DEFAULT_REGION
}

#[allow(
    clippy::panic,
    reason = "a handler failure fails the test with its message"
)]
fn handler_failed(error: &str) -> ! {
    panic!("the handler failed: {error}")
}

fn markers(messages: &[(String, Notification)]) -> Vec<&str> {
    messages.iter().map(|(m, _)| m.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_change_reaches_the_topic_once_and_only_changes_do() {
    let world = World::new().await;
    let start: i64 = 1_890_000_000; // 2029-11-22, before the suppression's end
    let mut now = start;
    let mut finding_id = String::new();

    for (index, step) in STEPS.iter().enumerate() {
        let collector = StepCollector::new(Some(step.shop), step.partial, None);
        if !finding_id.is_empty() {
            world
                .suppress(&lifecycle::suppression_document(
                    step.suppression,
                    &finding_id,
                ))
                .await;
        }
        if step.suppression == Suppression::Expired {
            now = now.max(AFTER_SUPPRESSION);
        }
        let racing = index == 0 || step.shop == Shop::BrokenMore && step.publishes == ["CHANGED"];
        for _ in 0..step.times {
            now += 60;
            if racing {
                let outcomes = world.racing(&collector, now).await;
                assert!(
                    outcomes.iter().map(|o| o.state_conflicts).sum::<usize>() >= 1,
                    "{}: the two invocations raced on the same record: {outcomes:?}",
                    step.what
                );
                assert_eq!(
                    outcomes.iter().map(|o| o.published).sum::<usize>(),
                    step.publishes.len(),
                    "{}: {outcomes:?}",
                    step.what
                );
            } else {
                let outcome = world.on_change(&collector, now).await;
                assert_eq!(
                    outcome.suppressions_problem.is_some(),
                    step.suppression == Suppression::Malformed,
                    "{}: {outcome:?}",
                    step.what
                );
                if step.suppression == Suppression::Malformed {
                    let problem = outcome.suppressions_problem.unwrap_or_default();
                    assert!(problem.contains("suppressions[0]"), "{problem}");
                }
            }
            let published = world.published(step.publishes.len()).await;
            assert_eq!(markers(&published), step.publishes, "{}", step.what);
            for (_, message) in &published {
                if finding_id.is_empty() {
                    finding_id = message.attribute("finding_id").to_owned();
                }
                assert_eq!(
                    message.attribute("finding_id"),
                    finding_id,
                    "{}: one finding",
                    step.what
                );
                assert_eq!(message.body()["lifecycle"], message.attribute("lifecycle"));
            }
        }
    }
    assert!(!finding_id.is_empty(), "the sequence published the finding");

    // The scheduled audit recalls the finding once its interval (a day) has passed since the
    // last message, and adds the digest; an hour later only the digest goes out.
    now += 25 * 3600;
    let broken = StepCollector::new(Some(Shop::Broken), false, Some(&["shop"]));
    world.scheduled(&broken, now).await;
    let published = world.published(2).await;
    assert_eq!(markers(&published), ["ONGOING", "digest"]);
    let digest = published[1].1.body();
    assert_eq!(digest["lifecycle"]["open"], 1, "{digest}");
    assert_eq!(
        digest["lifecycle"]["oldest_open"][0]["id"],
        finding_id.as_str()
    );
    now += 3600;
    world.scheduled(&broken, now).await;
    let published = world.published(1).await;
    assert_eq!(markers(&published), ["digest"]);
    let digest = published[0].1.body();
    assert_eq!(
        digest["lifecycle"]["new"].as_array().map(Vec::len),
        Some(0),
        "nothing is new since the last digest: {digest}"
    );

    // The cluster is deleted: the region's listing no longer has it.
    now += 3600;
    let gone = StepCollector::new(None, false, Some(&[]));
    world.scheduled(&gone, now).await;
    let published = world.published(2).await;
    assert_eq!(markers(&published), ["RESOLVED", "digest"]);
    let resolved = &published[0].1;
    assert_eq!(resolved.attribute("finding_id"), finding_id);
    assert_eq!(
        resolved.attribute("severity"),
        "HIGH",
        "filed as the finding was"
    );
    assert!(
        resolved.body()["why"][0]
            .as_str()
            .is_some_and(|w| w.contains("no longer exists")),
        "{}",
        resolved.message
    );

    // The resolved record expires through the table's TTL attribute.
    let item = world
        .dynamo
        .get_item()
        .table_name(&world.table)
        .key(
            "pk",
            AttributeValue::S(format!("{}#{}", world.account.id, moto_region())),
        )
        .key(
            "sk",
            AttributeValue::S(format!("finding#shop#{finding_id}")),
        )
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the record is kept");
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().unwrap_or_default(),
        other => handler_failed(&format!("{name}: {other:?}")),
    };
    assert_eq!(
        item.get("status"),
        Some(&AttributeValue::S("resolved".to_owned()))
    );
    assert_eq!(
        number("expires_at"),
        number("resolved_at") + podreach_aws::state::RESOLVED_RETENTION
    );
}

/// The CLI's `--state` file through the same steps gives the same markers (it has no listing
/// of the region, so the deletion step is the functions' only).
#[test]
fn the_cli_state_file_gives_the_same_sequence_of_markers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = dir.path().join("state.json");
    let suppressions = dir.path().join("suppressions.json");
    let mut finding_id = String::new();
    for (index, step) in STEPS.iter().enumerate() {
        let snapshot = dir.path().join(format!("step-{index}"));
        for file in lifecycle::files(step.shop, step.partial) {
            let path = snapshot.join(&file.path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, &file.text).expect("write");
        }
        std::fs::write(
            &suppressions,
            lifecycle::suppression_document(step.suppression, &finding_id),
        )
        .expect("write the suppressions");
        for _ in 0..step.times.min(3) {
            let output = Command::new(built_binary("podreach"))
                .arg("audit")
                .arg("--snapshot")
                .arg(&snapshot)
                .arg("--state")
                .arg(&state)
                .arg("--suppressions")
                .arg(&suppressions)
                .args(["--format", "json"])
                .output()
                .expect("podreach runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            if step.suppression == Suppression::Malformed {
                // The CLI refuses the document outright (the functions carry on suppressing
                // nothing, and say so): either way nothing is silenced by a typo.
                assert!(!output.status.success(), "{}", step.what);
                assert!(stderr.contains("suppressions[0]"), "{stderr}");
                continue;
            }
            let report: Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| handler_failed(&format!("{}: {e}: {stderr}", step.what)));
            let entries = report["lifecycle"].as_array().cloned().unwrap_or_default();
            let published: Vec<&str> = entries
                .iter()
                .filter(|e| e["notify"] == true)
                .filter_map(|e| e["lifecycle"].as_str())
                .collect();
            assert_eq!(published, step.publishes, "{}: {entries:?}", step.what);
            if finding_id.is_empty() {
                finding_id = entries
                    .first()
                    .and_then(|e| e["finding_id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
            }
            let suppressed = entries.iter().any(|e| e["lifecycle"] == "SUPPRESSED");
            assert_eq!(
                suppressed,
                step.suppression == Suppression::Active,
                "{}: {entries:?}",
                step.what
            );
        }
    }
    let stored: BTreeMap<String, Value> =
        serde_json::from_str::<Value>(&std::fs::read_to_string(&state).expect("the state file"))
            .expect("JSON")["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["finding_id"].as_str().unwrap_or_default().to_owned(),
                    f.clone(),
                )
            })
            .collect();
    assert_eq!(stored[&finding_id]["status"], "open", "{stored:?}");
}

/// With `Clusters` set the scheduled audit lists nothing; a named cluster that EKS no longer
/// knows (`DescribeCluster`: ResourceNotFoundException) is deleted, and its findings resolved.
#[tokio::test(flavor = "multi_thread")]
async fn a_named_cluster_that_no_longer_exists_has_its_findings_resolved() {
    let world = World::new().await;
    let now = 1_890_000_000;
    world
        .on_change(&StepCollector::new(Some(Shop::Broken), false, None), now)
        .await;
    assert_eq!(markers(&world.published(1).await), ["NEW"]);
    let gone = StepCollector {
        missing: vec!["shop".to_owned()],
        ..StepCollector::new(None, false, None)
    };
    world.scheduled(&gone, now + 60).await;
    let published = world.published(2).await;
    assert_eq!(markers(&published), ["RESOLVED", "digest"]);
    assert!(
        published[0].1.body()["why"][0]
            .as_str()
            .is_some_and(|w| w.contains("no longer exists")),
        "{}",
        published[0].1.message
    );
}
