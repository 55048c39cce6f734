//! At-least-once announcements under injected faults, at the handlers: the state store and the
//! publisher are wrapped in doubles that kill the invocation at a chosen operation (its future
//! never completes and is dropped, as when Lambda ends the process), refuse writes as a racing
//! invocation would (conditional-write conflicts), fail as a DynamoDB outage or SNS would. After
//! each fault the audit runs again, past the outbox lease, as the queue's redelivery or the next
//! schedule would. The invariants: every finding's NEW reaches the topic; every copy of it
//! carries one message id, and at most one copy is not marked a redelivery; once recovered, no
//! outbox entry is left and nothing more is sent.

mod doubles;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use podreach_aws::error::ApiFailure;
use podreach_aws::function::{Context, FunctionConfig, Outcome, scheduled_audit};
use podreach_aws::publish::{Message, Publish};
use podreach_aws::state::{
    Clusters, MemoryStore, Partition, Record, StateError, StateStore, Written,
};
use podreach_core::lifecycle::{FindingState, OUTBOX_LEASE};
use serde_json::Value;
use tokio::sync::Notify;

use doubles::*;

const T0: i64 = 1_800_000_000;

fn at() -> Partition {
    Partition {
        account: "111122223333".to_owned(),
        region: "eu-west-1".to_owned(),
    }
}

/// What a faulty double does at one of its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The process ends here: the operation never completes.
    Kill,
    /// A conditional write is refused, as when another invocation wrote first.
    Conflict,
    /// The service answers with an error (a DynamoDB outage, SNS throttling).
    Fail,
}

/// Faults by operation index; every operation is counted across both doubles, so a kill can be
/// placed at any step boundary of an invocation.
#[derive(Default)]
struct Faults {
    at: BTreeMap<usize, Fault>,
    /// Every n-th operation fails (0: none).
    fail_every: usize,
    next: AtomicUsize,
    killed: Notify,
}

impl Faults {
    async fn take(&self) -> Option<Fault> {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let fault = self.at.get(&index).copied().or_else(|| {
            (self.fail_every > 0 && index % self.fail_every == self.fail_every - 1)
                .then_some(Fault::Fail)
        });
        if fault == Some(Fault::Kill) {
            self.killed.notify_one();
            std::future::pending::<()>().await;
        }
        fault
    }

    fn count(&self) -> usize {
        self.next.load(Ordering::SeqCst)
    }
}

fn outage(action: &'static str) -> ApiFailure {
    ApiFailure {
        action,
        kind: podreach_aws::FailureKind::Service,
        code: Some("InternalServerError".to_owned()),
        message: "injected".to_owned(),
    }
}

/// The in-memory state behind injected faults.
struct FaultyStore<'a> {
    inner: &'a MemoryStore,
    faults: &'a Faults,
}

impl StateStore for FaultyStore<'_> {
    async fn load(
        &self,
        at: &Partition,
        clusters: Clusters<'_>,
    ) -> Result<Vec<Record>, StateError> {
        match self.faults.take().await {
            Some(Fault::Fail) => Err(outage("dynamodb:Query").into()),
            _ => self.inner.load(at, clusters).await,
        }
    }

    async fn get(
        &self,
        at: &Partition,
        cluster: &str,
        finding_id: &str,
    ) -> Result<Option<Record>, StateError> {
        match self.faults.take().await {
            Some(Fault::Fail) => Err(outage("dynamodb:GetItem").into()),
            _ => self.inner.get(at, cluster, finding_id).await,
        }
    }

    async fn put(
        &self,
        at: &Partition,
        state: &FindingState,
        expected: u64,
    ) -> Result<Written, StateError> {
        match self.faults.take().await {
            Some(Fault::Fail) => Err(outage("dynamodb:PutItem").into()),
            Some(Fault::Conflict) => Ok(Written::Conflict),
            _ => self.inner.put(at, state, expected).await,
        }
    }

    async fn last_digest(&self, at: &Partition) -> Result<Option<i64>, StateError> {
        self.inner.last_digest(at).await
    }

    async fn set_last_digest(&self, at: &Partition, time: i64) -> Result<(), StateError> {
        self.inner.set_last_digest(at, time).await
    }

    async fn context(
        &self,
        at: &Partition,
        cluster: &str,
    ) -> Result<Option<podreach_aws::context::CachedContext>, StateError> {
        self.inner.context(at, cluster).await
    }

    async fn put_context(
        &self,
        at: &Partition,
        context: &podreach_aws::context::CachedContext,
    ) -> Result<(), StateError> {
        self.inner.put_context(at, context).await
    }
}

/// Records what reached the topic, behind the same faults.
struct FaultyTopic<'a> {
    sent: &'a Mutex<Vec<Message>>,
    faults: &'a Faults,
}

impl Publish for FaultyTopic<'_> {
    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        match self.faults.take().await {
            Some(Fault::Fail) => Err(outage("sns:Publish")),
            _ => {
                self.sent
                    .lock()
                    .expect("not poisoned")
                    .push(message.clone());
                Ok(())
            }
        }
    }
}

/// One scheduled audit at `now` against `store` and `sent` behind `faults`; `None` when a
/// `Kill` ended it.
async fn audit(
    config: &FunctionConfig,
    store: &MemoryStore,
    sent: &Mutex<Vec<Message>>,
    faults: &Faults,
    now: i64,
    deadline: Option<SystemTime>,
) -> Option<Result<Outcome, String>> {
    let collector = DemoCollector::default();
    let store = FaultyStore {
        inner: store,
        faults,
    };
    let topic = FaultyTopic { sent, faults };
    let context = Context {
        config,
        region: "eu-west-1",
        collector: &collector,
        others: &[],
        publisher: &topic,
        store: &store,
        suppressions: &NO_SUPPRESSIONS,
        now: Some(now),
        deadline,
    };
    let event = doubles::sample("scheduled.json");
    let run = scheduled_audit(&event, &context);
    tokio::select! {
        outcome = run => Some(outcome.map_err(|e| format!("{}: {e}", e.error_type()))),
        () = faults.killed.notified() => None,
    }
}

/// A finding message's id, marker, dedupe id and whether it is marked a redelivery.
fn announcement(m: &Message) -> Option<(String, String, String, bool)> {
    if m.attributes.get("kind").is_some_and(|k| k == "digest") {
        return None;
    }
    let body: Value = serde_json::from_str(&m.body).expect("JSON messages");
    Some((
        m.attributes["finding_id"].clone(),
        m.attributes["lifecycle"].clone(),
        m.attributes.get("dedupe").cloned().unwrap_or_default(),
        body["redelivery"].as_bool().unwrap_or(false),
    ))
}

/// Checks the invariants over every message sent: each of `expected` announced NEW, one id per
/// finding, at most one copy unmarked.
fn each_new_once_or_marked(sent: &[Message], expected: &BTreeSet<String>, case: &str) {
    let mut copies: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for (finding, marker, dedupe, redelivery) in sent.iter().filter_map(announcement) {
        assert_eq!(marker, "NEW", "{case}: only NEWs in this sequence");
        assert!(
            !dedupe.is_empty(),
            "{case}: every announcement carries its id"
        );
        copies
            .entry(finding)
            .or_default()
            .push((dedupe, redelivery));
    }
    let announced: BTreeSet<String> = copies.keys().cloned().collect();
    assert_eq!(
        &announced, expected,
        "{case}: every finding reached the topic"
    );
    for (finding, copies) in &copies {
        let ids: BTreeSet<&String> = copies.iter().map(|(id, _)| id).collect();
        assert_eq!(
            ids.len(),
            1,
            "{case}: {finding} went out under one id: {copies:?}"
        );
        let unmarked = copies.iter().filter(|(_, again)| !again).count();
        assert!(
            unmarked <= 1,
            "{case}: {finding} sent twice unmarked: {copies:?}"
        );
    }
}

fn pending(store: &MemoryStore) -> usize {
    store
        .snapshot(&at())
        .0
        .iter()
        .filter(|f| f.outbox.is_some())
        .count()
}

fn json_config() -> FunctionConfig {
    FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:podreach".to_owned()),
        "MIN_SEVERITY" => Some("LOW".to_owned()),
        _ => None,
    })
    .expect("a valid configuration")
}

/// A clean run: its findings, and how many operations it takes.
async fn clean_run(config: &FunctionConfig) -> (BTreeSet<String>, usize) {
    let (store, sent, faults) = (MemoryStore::default(), Mutex::default(), Faults::default());
    let outcome = audit(config, &store, &sent, &faults, T0, None)
        .await
        .expect("not killed")
        .expect("a clean run succeeds");
    let sent = sent.into_inner().expect("not poisoned");
    let findings: BTreeSet<String> = sent.iter().filter_map(announcement).map(|a| a.0).collect();
    assert!(findings.len() >= 2, "the demo has findings: {outcome:?}");
    assert_eq!(pending(&store), 0, "a clean run confirms every entry");
    // Per finding a write, a publish and a confirmation, plus the load and the digest: every
    // boundary of the invocation is an operation a kill can be placed at.
    let operations = faults.count();
    assert_eq!(operations, 1 + 3 * findings.len() + 1, "{findings:?}");
    (findings, operations)
}

#[tokio::test]
async fn killed_at_every_step_boundary_each_new_reaches_the_topic_once_or_marked() {
    let config = json_config();
    let (findings, operations) = clean_run(&config).await;
    for kill in 0..operations {
        let case = format!("killed at operation {kill} of {operations}");
        let (store, sent) = (MemoryStore::default(), Mutex::default());
        let faults = Faults {
            at: BTreeMap::from([(kill, Fault::Kill)]),
            ..Faults::default()
        };
        assert!(
            audit(&config, &store, &sent, &faults, T0, None)
                .await
                .is_none(),
            "{case}: the kill happened"
        );
        // The redelivery (the queue's, or the next schedule), once the lease has passed.
        let healthy = Faults::default();
        let redelivered = audit(
            &config,
            &store,
            &sent,
            &healthy,
            T0 + OUTBOX_LEASE + 1,
            None,
        )
        .await
        .expect("not killed");
        assert!(
            redelivered.is_ok(),
            "{case}: the redelivery fails: {redelivered:?}"
        );
        let sent_now = sent.lock().expect("not poisoned").clone();
        each_new_once_or_marked(&sent_now, &findings, &case);
        assert_eq!(pending(&store), 0, "{case}: nothing left in the outbox");
        // And then nothing more is announced (the schedule's digest aside).
        let announced = |sent: &Mutex<Vec<Message>>| {
            sent.lock()
                .expect("not poisoned")
                .iter()
                .filter_map(announcement)
                .count()
        };
        let before = announced(&sent);
        let healthy = Faults::default();
        audit(
            &config,
            &store,
            &sent,
            &healthy,
            T0 + 3 * OUTBOX_LEASE,
            None,
        )
        .await
        .expect("not killed")
        .expect("a quiet run");
        assert_eq!(announced(&sent), before, "{case}");
    }
}

#[tokio::test]
async fn sns_failing_marks_nothing_announced_and_the_retry_delivers_it() {
    let config = json_config();
    let (findings, _) = clean_run(&config).await;
    // SNS alone failing: the state is written, each entry waits in the outbox.
    let (store, sent) = (MemoryStore::default(), Mutex::default());
    let topic_down = TopicDown::default();
    let outcome = audit_with_topic(&config, &store, &topic_down, T0).await;
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.starts_with("podreach.PublishFailed")),
        "{outcome:?}"
    );
    assert_eq!(
        pending(&store),
        findings.len(),
        "every announcement waits in the outbox"
    );
    // The retry, past the lease: each sent once, marked as a possible copy, then confirmed.
    let healthy = Faults::default();
    audit(&config, &store, &sent, &healthy, T0 + OUTBOX_LEASE, None)
        .await
        .expect("not killed")
        .expect("delivered on the retry");
    let sent = sent.into_inner().expect("not poisoned");
    each_new_once_or_marked(&sent, &findings, "after SNS recovered");
    assert!(
        sent.iter().filter_map(announcement).all(|a| a.3),
        "all marked"
    );
    assert_eq!(pending(&store), 0);
}

/// SNS refusing every message (throttled for the whole invocation).
#[derive(Default)]
struct TopicDown {
    tried: AtomicUsize,
}

impl Publish for TopicDown {
    async fn publish(&self, _message: &Message) -> Result<(), ApiFailure> {
        self.tried.fetch_add(1, Ordering::SeqCst);
        Err(outage("sns:Publish"))
    }
}

async fn audit_with_topic(
    config: &FunctionConfig,
    store: &MemoryStore,
    topic: &TopicDown,
    now: i64,
) -> Result<Outcome, String> {
    let collector = DemoCollector::default();
    let context = Context {
        config,
        region: "eu-west-1",
        collector: &collector,
        others: &[],
        publisher: topic,
        store,
        suppressions: &NO_SUPPRESSIONS,
        now: Some(now),
        deadline: None,
    };
    scheduled_audit(&doubles::sample("scheduled.json"), &context)
        .await
        .map_err(|e| format!("{}: {e}", e.error_type()))
}

#[tokio::test]
async fn conflicts_and_a_dynamodb_outage_lose_nothing_and_send_nothing_twice_unmarked() {
    let config = json_config();
    let (findings, operations) = clean_run(&config).await;
    // Writes refused as if another invocation wrote first: the run re-reads and
    // succeeds, each NEW once.
    for every in [3usize, 5] {
        let (store, sent) = (MemoryStore::default(), Mutex::default());
        let faults = Faults {
            at: (0..operations * 3)
                .filter(|i| i % every == 1)
                .map(|i| (i, Fault::Conflict))
                .collect(),
            ..Faults::default()
        };
        let outcome = audit(&config, &store, &sent, &faults, T0, None)
            .await
            .expect("not killed");
        let case = format!("a conflict every {every} operations");
        let sent = sent.into_inner().expect("not poisoned");
        assert!(outcome.is_ok(), "{case}: {outcome:?}");
        each_new_once_or_marked(&sent, &findings, &case);
        assert!(sent.iter().filter_map(announcement).all(|a| !a.3), "{case}");
    }
    // DynamoDB failing one operation in four: runs fail, none loses an announcement; healthy
    // again, everything is out and confirmed.
    let (store, sent) = (MemoryStore::default(), Mutex::default());
    for round in 0..4 {
        let faults = Faults {
            fail_every: 4,
            ..Faults::default()
        };
        let now = T0 + round * (OUTBOX_LEASE + 1);
        let _ = audit(&config, &store, &sent, &faults, now, None)
            .await
            .expect("not killed");
    }
    let healthy = Faults::default();
    audit(
        &config,
        &store,
        &sent,
        &healthy,
        T0 + 10 * OUTBOX_LEASE,
        None,
    )
    .await
    .expect("not killed")
    .expect("healthy again");
    let sent = sent.into_inner().expect("not poisoned");
    each_new_once_or_marked(&sent, &findings, "after the outage");
    assert_eq!(pending(&store), 0);
}

#[tokio::test]
async fn a_deadline_too_close_stops_before_the_first_write_with_nothing_written() {
    let config = json_config();
    let (store, sent, faults) = (MemoryStore::default(), Mutex::default(), Faults::default());
    let deadline = SystemTime::now() + Duration::from_secs(2);
    let outcome = audit(&config, &store, &sent, &faults, T0, Some(deadline))
        .await
        .expect("not killed");
    let error = outcome.expect_err("stopped");
    assert!(error.starts_with("podreach.OutOfTime"), "{error}");
    assert!(error.contains("writing the state"), "{error}");
    assert!(store.snapshot(&at()).0.is_empty(), "nothing half-written");
    assert!(sent.lock().expect("not poisoned").is_empty());
    // With time enough, the same run goes through.
    let deadline = SystemTime::now() + Duration::from_secs(120);
    audit(&config, &store, &sent, &faults, T0, Some(deadline))
        .await
        .expect("not killed")
        .expect("time enough");
    assert_eq!(pending(&store), 0);
}
