//! Where an organization run is kept while its workers audit it, and each target's blind-spot
//! state between runs: the same DynamoDB table as the findings' lifecycle ([`crate::state`]),
//! other keys.
//!
//! A run is planned by the scheduled audit and finished by whichever worker reports its last
//! target, so every step that could be taken twice (a retried plan, a message delivered twice, two
//! workers finishing at once) is made idempotent by a condition in the table, not by timing:
//!
//! | `pk` | `sk` | what |
//! | --- | --- | --- |
//! | `run#{run}` | `run` | `planned`, `done` (counted once per target), `started`, `digest_at` once claimed |
//! | `run#{run}` | `target#{account}#{region}` | the target, its alias, its `result` once recorded |
//! | `organization` | `latest-run` | the last planned run |
//! | `organization` | `blind` | the keys of the targets blind now (a string set: a handful) |
//! | `{account}#{region}` | `target` | the target's [`TargetState`] (last success, blocker, since) |
//!
//! Recording a result and counting it are one transaction whose condition is "no result yet", so
//! a redelivered message counts nothing; the digest is claimed with a condition `done = planned
//! AND no digest yet`, so exactly one worker sends it. A run's items expire after
//! [`RUN_RETENTION`] through the table's TTL.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, Update};
use podreach_core::org::{RunTarget, Target, TargetResult, TargetState};

use crate::error::ApiFailure;
use crate::state::{DynamoStore, StateError};

/// How long a run's records are kept (30 days).
pub const RUN_RETENTION: i64 = 30 * 24 * 3600;

/// A run's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta {
    pub run: String,
    pub planned: usize,
    pub done: usize,
    pub started: i64,
    /// When the digest was claimed (sent, or being sent).
    pub digest_at: Option<i64>,
}

/// What recording a target's result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded and counted.
    Counted,
    /// The target already had a result (a redelivered message): nothing changed.
    Again,
}

/// The capability to keep organization runs; DynamoDB in production, memory in tests.
pub trait RunStore {
    /// Writes the run's targets and counters; returns the run planned before, if any.
    fn start_run(
        &self,
        run: &str,
        targets: &[RunTarget],
        now: i64,
    ) -> impl Future<Output = Result<Option<String>, StateError>> + Send;

    fn run_meta(
        &self,
        run: &str,
    ) -> impl Future<Output = Result<Option<RunMeta>, StateError>> + Send;

    /// The run's targets with their results so far, in (account, Region) order.
    fn run_targets(
        &self,
        run: &str,
    ) -> impl Future<Output = Result<Vec<RunTarget>, StateError>> + Send;

    /// Records `target`'s result and counts it, once.
    fn record(
        &self,
        run: &str,
        target: &Target,
        result: &TargetResult,
    ) -> impl Future<Output = Result<Recorded, StateError>> + Send;

    /// Claims the run's digest: `true` for exactly one caller, once every target is counted.
    fn claim_digest(
        &self,
        run: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StateError>> + Send;

    /// Claims the digest of a run that did not finish (some target never reported): `true` for
    /// exactly one caller, whatever the count.
    fn claim_overdue_digest(
        &self,
        run: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StateError>> + Send;

    /// Gives the claim back (the digest could not be sent): the next claim may send it.
    fn release_digest(&self, run: &str) -> impl Future<Output = Result<(), StateError>> + Send;

    fn target_state(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<TargetState>, StateError>> + Send;

    /// Stores the target's state, and keeps it in (or out of) the index of blind targets.
    fn put_target_state(
        &self,
        state: &TargetState,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// The targets blind now (the index [`RunStore::put_target_state`] keeps).
    fn blind_targets(&self) -> impl Future<Output = Result<Vec<Target>, StateError>> + Send;
}

type Attributes = HashMap<String, AttributeValue>;

const ORGANIZATION: &str = "organization";

fn run_pk(run: &str) -> String {
    format!("run#{run}")
}

fn target_sk(target: &Target) -> String {
    format!("target#{}#{}", target.account, target.region)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> Attributes {
    Attributes::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn bad(key: &str, message: impl Into<String>) -> StateError {
    StateError::Record {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn number(item: &Attributes, name: &str, at: &str) -> Result<i64, StateError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad(at, format!("{name} is not a number")))
}

fn json_of<T: serde::de::DeserializeOwned>(
    item: &Attributes,
    name: &str,
    at: &str,
) -> Result<Option<T>, StateError> {
    let Some(value) = item.get(name) else {
        return Ok(None);
    };
    let text = value
        .as_s()
        .map_err(|_| bad(at, format!("{name} is not a string")))?;
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| bad(at, format!("{name}: {e}")))
}

fn text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Whether an error is a refused condition (also inside a cancelled transaction).
fn refused<E>(
    error: &aws_sdk_dynamodb::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    match error.code() {
        Some("ConditionalCheckFailedException") => true,
        Some("TransactionCanceledException") => error
            .message()
            .is_some_and(|m| m.contains("ConditionalCheckFailed")),
        _ => false,
    }
}

/// Writes one batch of a run's targets (at most 25), sending unprocessed items again a few
/// times with a pause (throttling).
async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    run: &str,
    chunk: Vec<Attributes>,
) -> Result<(), StateError> {
    let mut pending: Vec<_> = chunk
        .into_iter()
        .map(|item| {
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("an item"),
                )
                .build()
        })
        .collect();
    for attempt in 0..8u32 {
        let answer = client
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::RUN_PLAN_WRITE, e))?;
        pending = answer
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
    }
    Err(StateError::Contention {
        key: run_pk(run),
        attempts: 8,
    })
}

impl DynamoStore {
    /// Sets the run's `digest_at` if `condition` holds: `true` for the one caller it held for.
    async fn claim(&self, run: &str, now: i64, condition: &str) -> Result<bool, StateError> {
        let answer = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(run_pk(run), "run")))
            .update_expression("SET digest_at = :now")
            .condition_expression(condition)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(error) if refused(&error) => Ok(false),
            Err(error) => Err(ApiFailure::from_sdk(crate::iam::RUN_UPDATE, error).into()),
        }
    }
}

impl RunStore for DynamoStore {
    async fn start_run(
        &self,
        run: &str,
        targets: &[RunTarget],
        now: i64,
    ) -> Result<Option<String>, StateError> {
        let expires = now + RUN_RETENTION;
        let items: Vec<Attributes> = targets
            .iter()
            .map(|t| {
                let mut item = key(run_pk(run), &target_sk(&t.target));
                item.insert("target".to_owned(), s(text(&t.target)));
                if let Some(alias) = &t.alias {
                    item.insert("alias".to_owned(), s(alias.clone()));
                }
                item.insert("expires_at".to_owned(), n(expires));
                item
            })
            .collect();
        // A few batches at once (see crate::bounded): each retries its unprocessed items.
        let chunks: Vec<Vec<Attributes>> = items.chunks(25).map(<[Attributes]>::to_vec).collect();
        let count = chunks.len();
        let written = crate::bounded::in_flight(chunks, 8, |chunk| {
            let (client, table, run) = (
                self.client().clone(),
                self.table().to_owned(),
                run.to_owned(),
            );
            async move { write_batch(&client, &table, &run, chunk).await }
        })
        .await;
        if written.len() < count {
            return Err(bad(
                &run_pk(run),
                "a batch of the run's targets was not written",
            ));
        }
        written.into_iter().collect::<Result<(), StateError>>()?;
        let mut meta = key(run_pk(run), "run");
        meta.insert("planned".to_owned(), n(targets.len()));
        meta.insert("done".to_owned(), n(0));
        meta.insert("started".to_owned(), n(now));
        meta.insert("expires_at".to_owned(), n(expires));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(meta))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_PUT, e))?;
        let answer = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(ORGANIZATION.to_owned(), "latest-run")))
            .update_expression("SET #run = :run")
            .expression_attribute_names("#run", "run")
            .expression_attribute_values(":run", s(run))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::RUN_UPDATE, e))?;
        Ok(answer
            .attributes
            .and_then(|a| a.get("run").and_then(|v| v.as_s().ok()).cloned()))
    }

    async fn run_meta(&self, run: &str) -> Result<Option<RunMeta>, StateError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(run_pk(run), "run")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_GET, e))?;
        let Some(item) = answer.item else {
            return Ok(None);
        };
        let at = run_pk(run);
        Ok(Some(RunMeta {
            run: run.to_owned(),
            planned: usize::try_from(number(&item, "planned", &at)?).unwrap_or(0),
            done: usize::try_from(number(&item, "done", &at)?).unwrap_or(0),
            started: number(&item, "started", &at)?,
            digest_at: number(&item, "digest_at", &at).ok(),
        }))
    }

    async fn run_targets(&self, run: &str) -> Result<Vec<RunTarget>, StateError> {
        let mut targets = Vec::new();
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(run_pk(run)))
            .expression_attribute_values(":prefix", s("target#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_QUERY, e))?;
            let at = format!(
                "{}/{}",
                run_pk(run),
                item.get("sk")
                    .and_then(|v| v.as_s().ok())
                    .map_or("?", |v| v)
            );
            let target: Target =
                json_of(&item, "target", &at)?.ok_or_else(|| bad(&at, "no target"))?;
            targets.push(RunTarget {
                target,
                alias: item.get("alias").and_then(|v| v.as_s().ok()).cloned(),
                result: json_of(&item, "result", &at)?,
            });
        }
        targets.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(targets)
    }

    async fn record(
        &self,
        run: &str,
        target: &Target,
        result: &TargetResult,
    ) -> Result<Recorded, StateError> {
        let put_result = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(run_pk(run), &target_sk(target))))
            .update_expression("SET #result = :result")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#result)")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":result", s(text(result)))
            .build()
            .expect("an update");
        let count = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(run_pk(run), "run")))
            .update_expression("ADD done :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("an update");
        let answer = self
            .client()
            .transact_write_items()
            .transact_items(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .update(put_result)
                    .build(),
            )
            .transact_items(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .update(count)
                    .build(),
            )
            .send()
            .await;
        match answer {
            Ok(_) => Ok(Recorded::Counted),
            Err(error) if refused(&error) => {
                // Refused: a result is there already, or the run is not (expired, or never
                // planned: a message nobody can count).
                match self.run_meta(run).await? {
                    Some(_) => Ok(Recorded::Again),
                    None => Err(bad(&run_pk(run), "the run is not in the table (expired?)")),
                }
            }
            Err(error) => Err(ApiFailure::from_sdk(crate::iam::RUN_UPDATE, error).into()),
        }
    }

    async fn claim_digest(&self, run: &str, now: i64) -> Result<bool, StateError> {
        self.claim(
            run,
            now,
            "done = planned AND attribute_not_exists(digest_at)",
        )
        .await
    }

    async fn claim_overdue_digest(&self, run: &str, now: i64) -> Result<bool, StateError> {
        self.claim(
            run,
            now,
            "attribute_exists(pk) AND attribute_not_exists(digest_at)",
        )
        .await
    }

    async fn release_digest(&self, run: &str) -> Result<(), StateError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(run_pk(run), "run")))
            .update_expression("REMOVE digest_at")
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::RUN_UPDATE, e))?;
        Ok(())
    }

    async fn target_state(&self, target: &Target) -> Result<Option<TargetState>, StateError> {
        let pk = format!("{}#{}", target.account, target.region);
        let answer = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(pk.clone(), "target")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_GET, e))?;
        match answer.item {
            Some(item) => json_of(&item, "state", &format!("{pk}/target")),
            None => Ok(None),
        }
    }

    async fn put_target_state(&self, state: &TargetState) -> Result<(), StateError> {
        let target = &state.target;
        let mut item = key(format!("{}#{}", target.account, target.region), "target");
        item.insert("state".to_owned(), s(text(state)));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_PUT, e))?;
        let verb = if state.blocker.is_some() {
            "ADD"
        } else {
            "DELETE"
        };
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(ORGANIZATION.to_owned(), "blind")))
            .update_expression(format!("{verb} #keys :key"))
            .expression_attribute_names("#keys", "keys")
            .expression_attribute_values(":key", AttributeValue::Ss(vec![text(target)]))
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::RUN_UPDATE, e))?;
        Ok(())
    }

    async fn blind_targets(&self) -> Result<Vec<Target>, StateError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(ORGANIZATION.to_owned(), "blind")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ApiFailure::from_sdk(crate::iam::STATE_GET, e))?;
        let keys = answer
            .item
            .and_then(|item| item.get("keys").and_then(|v| v.as_ss().ok()).cloned())
            .unwrap_or_default();
        let mut targets = keys
            .iter()
            .map(|k| serde_json::from_str(k).map_err(|e| bad("organization/blind", e.to_string())))
            .collect::<Result<Vec<Target>, _>>()?;
        targets.sort();
        Ok(targets)
    }
}

/// Runs in memory, for tests and trials.
#[derive(Debug, Default)]
pub struct MemoryRuns {
    inner: Mutex<Runs>,
}

#[derive(Debug, Default)]
struct Runs {
    metas: BTreeMap<String, RunMeta>,
    targets: BTreeMap<String, BTreeMap<Target, RunTarget>>,
    latest: Option<String>,
    states: BTreeMap<Target, TargetState>,
    blind: BTreeSet<Target>,
}

impl MemoryRuns {
    fn with<T>(&self, f: impl FnOnce(&mut Runs) -> T) -> T {
        f(&mut self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// As [`DynamoStore`]'s: the run's `digest_at` set if unset and `holds`.
    fn claim(&self, run: &str, now: i64, holds: impl Fn(&RunMeta) -> bool) -> bool {
        self.with(|r| match r.metas.get_mut(run) {
            Some(meta) if meta.digest_at.is_none() && holds(meta) => {
                meta.digest_at = Some(now);
                true
            }
            _ => false,
        })
    }
}

impl RunStore for MemoryRuns {
    async fn start_run(
        &self,
        run: &str,
        targets: &[RunTarget],
        now: i64,
    ) -> Result<Option<String>, StateError> {
        self.with(|r| {
            r.targets.insert(
                run.to_owned(),
                targets
                    .iter()
                    .map(|t| (t.target.clone(), t.clone()))
                    .collect(),
            );
            r.metas.insert(
                run.to_owned(),
                RunMeta {
                    run: run.to_owned(),
                    planned: targets.len(),
                    done: 0,
                    started: now,
                    digest_at: None,
                },
            );
            Ok(r.latest.replace(run.to_owned()))
        })
    }

    async fn run_meta(&self, run: &str) -> Result<Option<RunMeta>, StateError> {
        Ok(self.with(|r| r.metas.get(run).cloned()))
    }

    async fn run_targets(&self, run: &str) -> Result<Vec<RunTarget>, StateError> {
        Ok(self.with(|r| {
            r.targets
                .get(run)
                .map(|t| t.values().cloned().collect())
                .unwrap_or_default()
        }))
    }

    async fn record(
        &self,
        run: &str,
        target: &Target,
        result: &TargetResult,
    ) -> Result<Recorded, StateError> {
        self.with(|r| {
            let Some(entry) = r.targets.get_mut(run).and_then(|t| t.get_mut(target)) else {
                return Err(bad(&run_pk(run), "the run is not in the table (expired?)"));
            };
            if entry.result.is_some() {
                return Ok(Recorded::Again);
            }
            entry.result = Some(result.clone());
            if let Some(meta) = r.metas.get_mut(run) {
                meta.done += 1;
            }
            Ok(Recorded::Counted)
        })
    }

    async fn claim_digest(&self, run: &str, now: i64) -> Result<bool, StateError> {
        Ok(self.claim(run, now, |meta| meta.done == meta.planned))
    }

    async fn claim_overdue_digest(&self, run: &str, now: i64) -> Result<bool, StateError> {
        Ok(self.claim(run, now, |_| true))
    }

    async fn release_digest(&self, run: &str) -> Result<(), StateError> {
        self.with(|r| {
            if let Some(meta) = r.metas.get_mut(run) {
                meta.digest_at = None;
            }
        });
        Ok(())
    }

    async fn target_state(&self, target: &Target) -> Result<Option<TargetState>, StateError> {
        Ok(self.with(|r| r.states.get(target).cloned()))
    }

    async fn put_target_state(&self, state: &TargetState) -> Result<(), StateError> {
        self.with(|r| {
            r.states.insert(state.target.clone(), state.clone());
            if state.blocker.is_some() {
                r.blind.insert(state.target.clone());
            } else {
                r.blind.remove(&state.target);
            }
        });
        Ok(())
    }

    async fn blind_targets(&self) -> Result<Vec<Target>, StateError> {
        Ok(self.with(|r| r.blind.iter().cloned().collect()))
    }
}
