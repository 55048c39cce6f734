//! The hub's organization run through its handlers, with doubles for AWS: the scheduled audit
//! plans and queues one message per account × Region (`plan_run`), the audit worker audits each
//! through a session of its account (`audit_worker_invocation`), and the run's and the targets'
//! records live in memory (`MemoryRuns`). What is shown: blind targets announced once with their
//! remedy and resolved when they recover or leave the plan, one organization digest per run
//! whatever the redeliveries, the per-account cap in the message groups, and a run that never
//! finished named in the next one's digest.

mod doubles;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use doubles::{DemoCollector, NO_SUPPRESSIONS, RecordingPublisher};
use podreach_aws::error::ApiFailure;
use podreach_aws::function::{
    FunctionConfig, Opened, Organization, Sessions, Worker, audit_worker_invocation, plan_run,
};
use podreach_aws::org::OrgError;
use podreach_aws::publish::{Message, Origin, Publish};
use podreach_aws::runs::{MemoryRuns, RunStore};
use podreach_aws::state::MemoryStore;
use podreach_core::org::{Account, AccountState, Blocker, Queued, Target};
use serde_json::{Value, json};

const HUB: &str = "999999999999";
const PAYMENTS: &str = "111111111111";
const NO_ROLE: &str = "222222222222";
const OPT_OUT: &str = "333333333333";

fn config(accounts: &str) -> FunctionConfig {
    let accounts = accounts.to_owned();
    FunctionConfig::from_lookup(move |name| match name {
        "TOPIC_ARN" => Some(format!("arn:aws:sns:eu-west-1:{HUB}:podreach")),
        "MIN_SEVERITY" => Some("LOW".to_owned()),
        "STATE_TABLE" => Some("podreach-state".to_owned()),
        "MEMBER_ROLE_NAME" => Some("podreach-member".to_owned()),
        "ORGANIZATION" => Some("true".to_owned()),
        "AUDIT_QUEUE_URL" => {
            Some("https://sqs.eu-west-1.amazonaws.com/999999999999/podreach-audit.fifo".to_owned())
        }
        "ACCOUNTS" => Some(accounts.clone()),
        "ACCOUNT_CONCURRENCY" => Some("2".to_owned()),
        "REGIONS" => Some("eu-west-1,us-east-1".to_owned()),
        _ => None,
    })
    .expect("a valid configuration")
}

/// Organizations and the queue: the accounts given, the messages kept.
#[derive(Default)]
struct Org {
    accounts: Vec<Account>,
    queued: Mutex<Vec<Queued>>,
}

impl Organization for Org {
    async fn accounts(&self, _with_units: bool) -> Result<Vec<Account>, OrgError> {
        Ok(self.accounts.clone())
    }

    async fn enqueue(&self, queued: &[Queued]) -> Vec<(Queued, ApiFailure)> {
        self.queued
            .lock()
            .expect("not poisoned")
            .extend(queued.iter().cloned());
        Vec::new()
    }
}

/// The hub's topic, shared by every target's publisher.
#[derive(Clone, Default)]
struct Topic(Arc<RecordingPublisher>);

impl Publish for Topic {
    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        self.0.publish(message).await
    }
}

impl Topic {
    fn sent(&self) -> Vec<Message> {
        self.0.sent.lock().expect("not poisoned").clone()
    }

    fn clear(&self) {
        self.0.sent.lock().expect("not poisoned").clear();
    }
}

/// Sessions: refused for the accounts in `no_role`, the Region of `opted_out` not enabled.
struct Members {
    topic: Topic,
    no_role: Mutex<Vec<&'static str>>,
    opted_out: Option<Target>,
}

impl Sessions for Members {
    type Collector = DemoCollector;
    type Publisher = Topic;

    async fn open(
        &self,
        target: &Target,
    ) -> Result<Opened<DemoCollector, Topic>, (Blocker, String)> {
        let role_arn = format!("arn:aws:iam::{}:role/podreach-member", target.account);
        if self
            .no_role
            .lock()
            .expect("as set up")
            .contains(&target.account.as_str())
        {
            return Err((
                Blocker::classify(
                    "sts:AssumeRole",
                    "AccessDenied",
                    "not authorized to perform: sts:AssumeRole",
                    &role_arn,
                ),
                "AccessDenied: not authorized to perform: sts:AssumeRole".to_owned(),
            ));
        }
        Ok(Opened {
            collector: DemoCollector {
                unreachable: self.opted_out.as_ref() == Some(target),
                ..DemoCollector::default()
            },
            publisher: self.topic.clone(),
            role_arn,
        })
    }
}

struct Hub {
    config: FunctionConfig,
    org: Org,
    members: Members,
    topic: Topic,
    store: MemoryStore,
    runs: MemoryRuns,
}

fn account(id: &str, name: &str) -> Account {
    Account {
        id: id.to_owned(),
        name: Some(name.to_owned()),
        state: AccountState::Active,
        ous: Vec::new(),
    }
}

impl Hub {
    fn new() -> Hub {
        let topic = Topic::default();
        Hub {
            config: config(""),
            org: Org {
                accounts: vec![
                    account(PAYMENTS, "payments"),
                    account(NO_ROLE, "no-role"),
                    account(OPT_OUT, "opt-out"),
                ],
                ..Org::default()
            },
            members: Members {
                topic: topic.clone(),
                no_role: Mutex::new(vec![NO_ROLE]),
                opted_out: Some(Target {
                    account: OPT_OUT.to_owned(),
                    region: "us-east-1".to_owned(),
                }),
            },
            topic,
            store: MemoryStore::default(),
            runs: MemoryRuns::default(),
        }
    }

    fn origin() -> Origin {
        Origin {
            account: HUB.to_owned(),
            region: "eu-west-1".to_owned(),
            alias: None,
        }
    }

    async fn plan(&self, now: i64) -> Value {
        let settings = self.config.organization.clone().expect("organization mode");
        plan_run(
            &self.org,
            &self.topic,
            &self.runs,
            &self.config,
            &settings,
            &Self::origin(),
            now,
        )
        .await
        .expect("planned")
    }

    /// Delivers each queued message (one SQS record per invocation, as BatchSize 1 does).
    async fn work(&self, queued: &[Queued], now: i64) -> Vec<Value> {
        let hub = Self::origin();
        let worker = Worker {
            config: &self.config,
            sessions: &self.members,
            publisher: &self.topic,
            store: &self.store,
            runs: &self.runs,
            suppressions: &NO_SUPPRESSIONS,
            hub: &hub,
            now: Some(now),
            deadline: None,
        };
        let mut answers = Vec::new();
        for (index, q) in queued.iter().enumerate() {
            let payload = json!({"Records": [{
                "messageId": format!("m-{index}"),
                "body": serde_json::to_string(&q.message).expect("JSON"),
                "attributes": {"MessageGroupId": q.group},
                "eventSource": "aws:sqs",
            }]});
            answers.push(
                audit_worker_invocation(&payload, &worker)
                    .await
                    .expect("an answer"),
            );
        }
        answers
    }

    /// The hub's own on-change context (eu-west-1), with `own` as its collector.
    fn own_context<'a>(
        &'a self,
        own: &'a DemoCollector,
    ) -> podreach_aws::function::Context<'a, DemoCollector, Topic, MemoryStore> {
        podreach_aws::function::Context {
            config: &self.config,
            region: "eu-west-1",
            collector: own,
            others: &[],
            publisher: &self.topic,
            store: &self.store,
            suppressions: &NO_SUPPRESSIONS,
            now: Some(1_796_000_000),
            deadline: None,
        }
    }

    fn take_queued(&self) -> Vec<Queued> {
        std::mem::take(&mut *self.org.queued.lock().expect("not poisoned"))
    }
}

fn of_kind<'a>(sent: &'a [Message], kind: &str) -> Vec<&'a Message> {
    sent.iter()
        .filter(|m| m.attributes.get("kind").map(String::as_str) == Some(kind))
        .collect()
}

fn body(message: &Message) -> Value {
    serde_json::from_str(&message.body).expect("JSON")
}

#[tokio::test]
async fn a_run_queues_every_account_and_region_within_the_per_account_cap() {
    let hub = Hub::new();
    let outcome = hub.plan(1_796_000_000).await;
    assert_eq!(outcome["targets"], 6, "{outcome:#}");
    assert_eq!(outcome["queued"], 6);
    let queued = hub.take_queued();
    let groups: BTreeMap<&str, Vec<&str>> = queued.iter().fold(BTreeMap::new(), |mut m, q| {
        m.entry(q.message.account.as_str())
            .or_default()
            .push(q.group.as_str());
        m
    });
    for (account, groups) in &groups {
        assert_eq!(groups.len(), 2, "{account}: one message per Region");
        let distinct: std::collections::BTreeSet<_> = groups.iter().collect();
        assert!(
            distinct.len() <= 2,
            "{account}: at most ACCOUNT_CONCURRENCY groups"
        );
    }
    assert!(queued.iter().all(|q| q.message.run == "run-1796000000"));
    assert_eq!(queued[0].message.alias.as_deref(), Some("payments"));
}

#[tokio::test]
async fn blind_targets_are_announced_once_and_one_digest_counts_the_run() {
    let hub = Hub::new();
    hub.plan(1_796_000_000).await;
    let queued = hub.take_queued();
    let answers = hub.work(&queued, 1_796_000_100).await;
    assert!(
        answers.iter().all(|a| a["batchItemFailures"]
            .as_array()
            .expect("an array")
            .is_empty()),
        "a blind target is a result, not a failure: {answers:#?}"
    );
    let sent = hub.topic.sent();
    let unreachable = of_kind(&sent, "account-unreachable");
    let announced: Vec<(String, String, String)> = unreachable
        .iter()
        .map(|m| {
            let b = body(m);
            (
                b["account"].as_str().expect("a string").to_owned(),
                b["region"].as_str().expect("a string").to_owned(),
                b["reason"].as_str().expect("a string").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        announced,
        [
            (
                NO_ROLE.to_owned(),
                "eu-west-1".to_owned(),
                "role-not-assumable".to_owned()
            ),
            (
                NO_ROLE.to_owned(),
                "us-east-1".to_owned(),
                "role-not-assumable".to_owned()
            ),
            (
                OPT_OUT.to_owned(),
                "us-east-1".to_owned(),
                "region-not-enabled".to_owned()
            ),
        ]
    );
    assert_eq!(body(unreachable[0])["alias"], "no-role");
    assert!(
        body(unreachable[0])["remedy"]
            .as_str()
            .expect("as set up")
            .contains("infra/member.yaml")
    );
    // The audited targets' findings carry their own account.
    let findings: Vec<&Message> = sent
        .iter()
        .filter(|m| {
            m.attributes.get("lifecycle").map(String::as_str) == Some("NEW")
                && m.attributes["kind"] != "account-unreachable"
        })
        .collect();
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .all(|m| [PAYMENTS, OPT_OUT].contains(&m.attributes["account"].as_str()))
    );
    // Each finding's message names its account's alias too (attribute and JSON).
    for m in &findings {
        let alias = if m.attributes["account"] == PAYMENTS {
            "payments"
        } else {
            "opt-out"
        };
        assert_eq!(m.attributes.get("alias").map(String::as_str), Some(alias));
        assert_eq!(body(m)["alias"], alias);
        assert!(
            m.attributes.len() <= 10,
            "SNS allows ten: {:?}",
            m.attributes
        );
    }
    // No per-target digest; one organization digest, after the last target.
    assert!(
        of_kind(&sent, "digest").is_empty(),
        "targets send no digest of their own"
    );
    let digests = of_kind(&sent, "organization-digest");
    assert_eq!(digests.len(), 1);
    assert_eq!(
        sent.last().expect("as set up"),
        digests[0],
        "the digest comes last"
    );
    let digest = body(digests[0]);
    assert_eq!(digest["planned"], 6);
    assert_eq!(digest["audited"], 3);
    assert_eq!(digest["complete"], false);
    assert!(
        digest["headline"]
            .as_str()
            .expect("as set up")
            .starts_with("3 of 6 accounts × Regions audited; 3 not:")
    );
    assert_eq!(digests[0].attributes["severity"], "HIGH");
}

#[tokio::test]
async fn a_redelivered_message_counts_nothing_and_sends_no_second_digest() {
    let hub = Hub::new();
    hub.plan(1_796_000_000).await;
    let queued = hub.take_queued();
    hub.work(&queued, 1_796_000_100).await;
    hub.topic.clear();
    // SQS delivers at least once: the last message again.
    let again = hub.work(&queued[queued.len() - 1..], 1_796_000_200).await;
    assert_eq!(again[0]["targets"][0]["recorded"], false, "{again:#?}");
    assert_eq!(again[0]["targets"][0]["organization_digest"], false);
    let sent = hub.topic.sent();
    assert!(of_kind(&sent, "organization-digest").is_empty());
    assert!(
        of_kind(&sent, "account-unreachable").is_empty(),
        "a repeat of a blind spot is quiet"
    );
}

#[tokio::test]
async fn a_recovered_account_is_resolved_and_a_still_blind_one_stays_quiet() {
    let hub = Hub::new();
    hub.plan(1_796_000_000).await;
    let queued = hub.take_queued();
    hub.work(&queued, 1_796_000_100).await;
    hub.topic.clear();
    // The member stack is deployed in the second account; the opt-in Region stays off.
    hub.members.no_role.lock().expect("not poisoned").clear();
    hub.plan(1_796_086_400).await;
    let queued = hub.take_queued();
    hub.work(&queued, 1_796_086_500).await;
    let sent = hub.topic.sent();
    let unreachable: Vec<Value> = of_kind(&sent, "account-unreachable")
        .into_iter()
        .map(body)
        .collect();
    let lifecycles: Vec<(&str, &str, &str)> = unreachable
        .iter()
        .map(|b| {
            (
                b["account"].as_str().expect("a string"),
                b["region"].as_str().expect("a string"),
                b["lifecycle"].as_str().expect("a string"),
            )
        })
        .collect();
    assert_eq!(
        lifecycles,
        [
            (NO_ROLE, "eu-west-1", "RESOLVED"),
            (NO_ROLE, "us-east-1", "RESOLVED")
        ]
    );
    let digest = body(of_kind(&sent, "organization-digest")[0]);
    assert_eq!(digest["audited"], 5);
    assert_eq!(hub.runs.blind_targets().await.expect("as set up").len(), 1);
}

#[tokio::test]
async fn an_account_that_leaves_the_plan_has_its_blind_spot_resolved() {
    let mut hub = Hub::new();
    hub.plan(1_796_000_000).await;
    let queued = hub.take_queued();
    hub.work(&queued, 1_796_000_100).await;
    hub.topic.clear();
    hub.org.accounts.retain(|a| a.id != NO_ROLE);
    let outcome = hub.plan(1_796_086_400).await;
    assert_eq!(outcome["no_longer_planned_resolved"], 2, "{outcome:#}");
    let sent = hub.topic.sent();
    let resolved: Vec<Value> = of_kind(&sent, "account-unreachable")
        .into_iter()
        .map(body)
        .collect();
    assert_eq!(resolved.len(), 2);
    assert!(
        resolved
            .iter()
            .all(|b| b["lifecycle"] == "RESOLVED" && b["account"] == NO_ROLE)
    );
    assert!(
        resolved[0]["why"]
            .as_str()
            .expect("as set up")
            .contains("no longer planned")
    );
    let blind = hub.runs.blind_targets().await.expect("as set up");
    assert!(blind.iter().all(|t| t.account != NO_ROLE), "{blind:?}");
}

#[tokio::test]
async fn a_run_that_never_finished_is_named_in_the_next_runs_plan() {
    let hub = Hub::new();
    hub.plan(1_796_000_000).await;
    let queued = hub.take_queued();
    // The last target's message went to the dead-letter queue.
    hub.work(&queued[..queued.len() - 1], 1_796_000_100).await;
    assert!(of_kind(&hub.topic.sent(), "organization-digest").is_empty());
    hub.topic.clear();
    let outcome = hub.plan(1_796_086_400).await;
    assert_eq!(
        outcome["overdue_digest_of"], "run-1796000000",
        "{outcome:#}"
    );
    let sent = hub.topic.sent();
    let digests = of_kind(&sent, "organization-digest");
    assert_eq!(digests.len(), 1);
    let digest = body(digests[0]);
    assert_eq!(digest["run"], "run-1796000000");
    assert_eq!(digest["complete"], false);
    let missing = &queued[queued.len() - 1].message;
    let headline = digest["headline"].as_str().expect("a string");
    assert!(
        headline.contains(&format!(
            "{}/{} (no result)",
            missing.account, missing.region
        )),
        "{headline}"
    );
}

#[tokio::test]
async fn a_message_that_is_not_a_target_fails_alone() {
    let hub = Hub::new();
    let h = Hub::origin();
    let worker = Worker {
        config: &hub.config,
        sessions: &hub.members,
        publisher: &hub.topic,
        store: &hub.store,
        runs: &hub.runs,
        suppressions: &NO_SUPPRESSIONS,
        hub: &h,
        now: Some(1),
        deadline: None,
    };
    let payload = json!({"Records": [{"messageId": "bad", "body": "{\"not\": \"a target\"}"}]});
    let answer = audit_worker_invocation(&payload, &worker)
        .await
        .expect("as set up");
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "bad"}])
    );
}

#[test]
fn organization_mode_refuses_to_start_without_its_queue_or_role() {
    let error = FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:999999999999:podreach".to_owned()),
        "ORGANIZATION" => Some("true".to_owned()),
        _ => None,
    })
    .expect_err("refused");
    assert_eq!(error.name, "AUDIT_QUEUE_URL");
    let error = FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:999999999999:podreach".to_owned()),
        "ORGANIZATION" => Some("true".to_owned()),
        "AUDIT_QUEUE_URL" => Some("https://sqs/q.fifo".to_owned()),
        "STATE_TABLE" => Some("t".to_owned()),
        _ => None,
    })
    .expect_err("refused");
    assert_eq!(error.name, "MEMBER_ROLE_NAME");
    let error = FunctionConfig::from_lookup(|name| match name {
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:999999999999:podreach".to_owned()),
        "ORGANIZATION" => Some("true".to_owned()),
        "AUDIT_QUEUE_URL" => Some("https://sqs/q.fifo".to_owned()),
        "STATE_TABLE" => Some("t".to_owned()),
        "MEMBER_ROLE_NAME" => Some("podreach-member".to_owned()),
        "ACCOUNT_CONCURRENCY" => Some("0".to_owned()),
        _ => None,
    })
    .expect_err("refused");
    assert_eq!(error.name, "ACCOUNT_CONCURRENCY");
}

#[tokio::test]
async fn on_the_hub_a_members_event_is_audited_in_its_account_and_a_refused_members_set_aside() {
    let hub = Hub::new();
    let event_of = |account: &str| {
        let mut event = doubles::sample("eks-update-addon.json");
        event["account"] = json!(account);
        event["region"] = json!("eu-west-1");
        event.to_string()
    };
    let record = |id: &str, account: &str| {
        json!({"messageId": id, "receiptHandle": format!("AQEB{id}"), "body": event_of(account),
               "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
               "awsRegion": "eu-west-1"})
    };
    let payload = json!({"Records": [
        record("m-1", PAYMENTS),
        record("m-2", NO_ROLE),
        record("m-3", HUB),
    ]});
    let own = DemoCollector::default();
    let context = hub.own_context(&own);
    let answer =
        podreach_aws::function::on_change_in_organization(&payload, &context, &hub.members, HUB)
            .await
            .expect("an answer");
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer:#}");
    let accounts: std::collections::BTreeSet<String> = hub
        .topic
        .sent()
        .iter()
        .map(|m| m.attributes["account"].clone())
        .collect();
    assert_eq!(
        accounts,
        [PAYMENTS.to_owned(), HUB.to_owned()].into_iter().collect(),
        "each account's findings under its own account; none for the member without a role"
    );
    assert_eq!(
        own.scopes.lock().expect("not poisoned").len(),
        1,
        "the hub's own collector read only the hub's event"
    );
    let members = answer["members"].as_array().expect("members");
    let refused = members
        .iter()
        .find(|m| m["target"] == format!("{NO_ROLE}/eu-west-1"))
        .expect("the refused member's answer");
    assert!(
        refused["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("set aside (role-not-assumable)")),
        "{refused:#}"
    );
}

#[tokio::test]
async fn on_the_hub_a_throttled_members_events_go_back_to_the_queue() {
    struct Throttled;
    impl Sessions for Throttled {
        type Collector = DemoCollector;
        type Publisher = Topic;
        async fn open(
            &self,
            target: &Target,
        ) -> Result<Opened<DemoCollector, Topic>, (Blocker, String)> {
            Err((
                Blocker::classify(
                    "sts:AssumeRole",
                    "Throttling",
                    "Rate exceeded",
                    &format!("arn:aws:iam::{}:role/podreach-member", target.account),
                ),
                "Throttling: Rate exceeded".to_owned(),
            ))
        }
    }
    let hub = Hub::new();
    let mut event = doubles::sample("eks-update-addon.json");
    event["account"] = json!(PAYMENTS);
    let payload = json!({"Records": [{"messageId": "m-1", "body": event.to_string()}]});
    let own = DemoCollector::default();
    let context = hub.own_context(&own);
    let answer =
        podreach_aws::function::on_change_in_organization(&payload, &context, &Throttled, HUB)
            .await
            .expect("an answer");
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-1"}])
    );
    assert!(hub.topic.sent().is_empty());
}
