//! `audit-worker`: one target (account × Region) of an organization run per message of the audit
//! queue, audited through the member role with the scheduled audit's own steps.
//!
//! For each message:
//! 1. a session in the target's account ([`Sessions`]); a refusal is the target's blind spot,
//!    typed by the core ([`podreach_core::org::Blocker`]) with its remedy;
//! 2. the audit: `scheduled_audit`'s steps in the target's own state partition (its account and
//!    Region), its findings' messages carrying its account, without a digest of its own (the
//!    organization gets one); a target whose clusters cannot even be listed is blind too;
//! 3. the target's state between runs ([`podreach_core::org::step`]): `ACCOUNT_UNREACHABLE`
//!    announced when it goes blind or its reason changes, RESOLVED when it is audited again; the
//!    announcement goes out before the state is stored, so a failure repeats it rather than
//!    losing it;
//! 4. its result in the run, counted once ([`crate::runs`]), and, when it was the last, the
//!    organization's digest.
//!
//! A failure to keep state or to publish fails the message, which SQS delivers again (and after
//! three receives moves to the dead-letter queue; the next run's digest then names the target as
//! without result). The answer is Lambda's partial batch response.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use podreach_core::org::{AuditMessage, Blocker, Target, TargetOutcome, TargetResult, step};
use serde_json::{Value, json};

use crate::collect::Collect;
use crate::error::CollectError;
use crate::org::messages::{organization_digest, unreachable_message};
use crate::publish::{Origin, Publish};
use crate::runs::{Recorded, RunStore};
use crate::state::StateStore;
use crate::suppressions::SuppressionSource;

use super::capabilities::Context;
use super::config::FunctionConfig;
use super::error::HandlerError;
use super::handlers::organization_target;

/// A target's clients, opened through its member role.
#[derive(Debug)]
pub struct Opened<C, P> {
    pub collector: C,
    /// Publishes the target's findings (to the hub's topic; to Security Hub of the target's
    /// account, when switched on).
    pub publisher: P,
    pub role_arn: String,
}

/// The capability to open a target's session.
pub trait Sessions {
    type Collector: Collect + Sync;
    type Publisher: Publish + Sync;
    fn open(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Opened<Self::Collector, Self::Publisher>, (Blocker, String)>> + Send;
}

/// What the worker runs with besides the target's session.
#[derive(Debug)]
pub struct Worker<'a, X, P, S, R> {
    pub config: &'a FunctionConfig,
    pub sessions: &'a X,
    /// The hub's publisher: `ACCOUNT_UNREACHABLE` and the organization digest.
    pub publisher: &'a P,
    pub store: &'a S,
    pub runs: &'a R,
    pub suppressions: &'a SuppressionSource,
    /// The hub's own account and Region.
    pub hub: &'a Origin,
    /// Unix seconds; `None` reads the clock (tests fix it).
    pub now: Option<i64>,
    pub deadline: Option<std::time::SystemTime>,
}

/// The worker's invocation: SQS records of the audit queue; the failed ones answered for SQS to
/// deliver again.
pub async fn audit_worker_invocation<X, P, S, R>(
    payload: &Value,
    worker: &Worker<'_, X, P, S, R>,
) -> Result<Value, HandlerError>
where
    X: Sessions + Sync,
    P: Publish + Sync,
    S: StateStore + Sync,
    R: RunStore + Sync,
{
    let records = payload
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| HandlerError::BadMessage {
            message_id: "-".to_owned(),
            message: "not an SQS event (no Records): the audit worker reads the audit queue"
                .to_owned(),
        })?;
    let mut response = SqsBatchResponse::default();
    let mut outcomes = Vec::new();
    for record in records {
        let id = record
            .get("messageId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let result = match serde_json::from_value::<SqsMessage>(record.clone()) {
            Ok(message) => Box::pin(audit_message(&message, worker)).await,
            Err(e) => Err(HandlerError::BadMessage {
                message_id: id.clone(),
                message: format!("not an SQS record: {e}"),
            }),
        };
        match result {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                tracing::error!(message_id = %id, error_type = error.error_type(), %error, "target failed; SQS delivers it again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    let mut answer = serde_json::to_value(&response).unwrap_or_default();
    answer["targets"] = json!(outcomes);
    Ok(answer)
}

/// One message: the target audited, its state stepped, its result recorded.
async fn audit_message<X, P, S, R>(
    message: &SqsMessage,
    worker: &Worker<'_, X, P, S, R>,
) -> Result<Value, HandlerError>
where
    X: Sessions + Sync,
    P: Publish + Sync,
    S: StateStore + Sync,
    R: RunStore + Sync,
{
    let id = message.message_id.clone().unwrap_or_default();
    let body = message.body.as_deref().unwrap_or_default();
    let queued: AuditMessage =
        serde_json::from_str(body).map_err(|e| HandlerError::BadMessage {
            message_id: id.clone(),
            message: format!("not a target of a run ({e})"),
        })?;
    let target = queued.target();
    let now = worker.now.unwrap_or_else(now_seconds);
    let (outcome, result, detail) =
        Box::pin(audit(&target, queued.alias.as_deref(), worker, now)).await?;
    // The target's state: announce first, then store.
    let previous = worker.runs.target_state(&target).await?;
    let (state, change) = step(previous.as_ref(), &target, &outcome, now);
    if let Some(change) = &change {
        let message = unreachable_message(change, queued.alias.as_deref(), worker.config.format);
        publish(worker.publisher, &message).await?;
    }
    worker.runs.put_target_state(&state).await?;
    let recorded = worker.runs.record(&queued.run, &target, &result).await?;
    let digest = finish_run(&queued.run, worker, now).await?;
    Ok(json!({
        "target": target.key(),
        "run": queued.run,
        "result": result,
        "announced": change.map(|c| c.marker.as_str()),
        "recorded": recorded == Recorded::Counted,
        "organization_digest": digest,
        "audit": detail,
    }))
}

/// The target's audit, as the core's outcome, the run's result, and the audit's own outcome.
async fn audit<X, P, S, R>(
    target: &Target,
    alias: Option<&str>,
    worker: &Worker<'_, X, P, S, R>,
    now: i64,
) -> Result<(TargetOutcome, TargetResult, Value), HandlerError>
where
    X: Sessions + Sync,
    P: Publish + Sync,
    S: StateStore + Sync,
    R: RunStore + Sync,
{
    let blind = |blocker: Blocker, error: String| {
        (
            TargetOutcome::Blind {
                blocker: blocker.clone(),
                error: error.clone(),
            },
            TargetResult::Blind { blocker, error },
            Value::Null,
        )
    };
    let opened = match worker.sessions.open(target).await {
        Ok(opened) => opened,
        Err((blocker, error)) => return Ok(blind(blocker, error)),
    };
    let context = Context {
        config: worker.config,
        region: &target.region,
        collector: &opened.collector,
        others: &[],
        publisher: &opened.publisher,
        store: worker.store,
        suppressions: worker.suppressions,
        now: Some(now),
        deadline: worker.deadline,
    };
    // The event the run is about: the target's account and Region, as EventBridge's envelope
    // would name them, and the account's name for its messages.
    let event = json!({
        "source": super::run::ORGANIZATION_SOURCE,
        "detail-type": "Organization audit",
        "account": target.account,
        "region": target.region,
        "detail": {"alias": alias},
    });
    match Box::pin(organization_target(&event, &context)).await {
        Ok(outcome) => {
            let result = TargetResult::Audited {
                clusters: outcome.clusters.len(),
                findings: outcome.findings,
                worst: outcome.worst,
                incomplete: !outcome.not_analysed.is_empty() || !outcome.blind_spots.is_empty(),
            };
            let audited = TargetOutcome::Audited {
                clusters: outcome.clusters.len(),
            };
            Ok((
                audited,
                result,
                serde_json::to_value(&outcome).unwrap_or_default(),
            ))
        }
        Err(HandlerError::Collect(error)) => {
            let failure = match &error {
                CollectError::ListClusters(f) | CollectError::Resolve(f) => f,
            };
            let code = failure.code.clone().unwrap_or_default();
            let blocker =
                Blocker::classify(failure.action, &code, &failure.message, &opened.role_arn);
            Ok(blind(blocker, error.to_string()))
        }
        Err(other) => Err(other),
    }
}

/// Sends the organization's digest if this worker's result completed the run; whether it did.
async fn finish_run<X, P, S, R>(
    run: &str,
    worker: &Worker<'_, X, P, S, R>,
    now: i64,
) -> Result<bool, HandlerError>
where
    P: Publish + Sync,
    R: RunStore + Sync,
{
    if !worker.runs.claim_digest(run, now).await? {
        return Ok(false);
    }
    let sent = async {
        let meta = worker.runs.run_meta(run).await?.ok_or_else(|| {
            HandlerError::State(crate::state::StateError::Record {
                key: format!("run#{run}"),
                message: "claimed, then gone".to_owned(),
            })
        })?;
        let targets = worker.runs.run_targets(run).await?;
        let message = organization_digest(&meta, &targets, worker.hub, worker.config.format);
        publish(worker.publisher, &message).await
    }
    .await;
    if let Err(error) = sent {
        // Given back, so the message's next delivery sends it.
        worker.runs.release_digest(run).await?;
        return Err(error);
    }
    Ok(true)
}

async fn publish<P: Publish>(
    publisher: &P,
    message: &crate::publish::Message,
) -> Result<(), HandlerError> {
    publisher
        .publish(message)
        .await
        .map_err(|failure| HandlerError::Publish {
            attempted: 1,
            failures: vec![failure],
        })
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
