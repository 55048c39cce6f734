//! `on-change` on the hub (organization mode): the member accounts forward their network changes
//! to the hub's event bus (`infra/member.yaml`, `ForwardEvents`), so a batch holds events of many
//! accounts. Each account's events are audited in that account, through its member role, in the
//! Region they name: the hub's own events as ever, every other account's in a context built
//! from its session ([`Sessions`]), with its own state partition (the event's account) and its
//! findings' messages carrying that account.
//!
//! A member whose role cannot be assumed (no member stack yet, a refusal that will not pass on
//! its own) has its events set aside as handled, with a warning: retrying them would only fill
//! the dead-letter queue, and the scheduled run announces that account as `ACCOUNT_UNREACHABLE`
//! with the remedy. A refusal that may pass (throttled, failed) fails those records, for SQS to
//! deliver again.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use podreach_core::org::{Blocker, Target};
use serde_json::{Value, json};

use crate::collect::Collect;
use crate::publish::Publish;
use crate::state::StateStore;

use super::batch::on_change_invocation;
use super::capabilities::Context;
use super::error::HandlerError;
use super::worker::Sessions;

/// `on-change` on the hub: the records (or the one event) of `hub_account` in `context`, each
/// other account's in its own session.
pub async fn on_change_in_organization<X, C, P, S>(
    payload: &Value,
    context: &Context<'_, C, P, S>,
    sessions: &X,
    hub_account: &str,
) -> Result<Value, HandlerError>
where
    X: Sessions<Collector = C> + Sync,
    C: Collect + Sync,
    P: Publish + Sync,
    S: StateStore + Sync,
{
    let Some(records) = payload.get("Records").and_then(Value::as_array) else {
        // One event, delivered directly.
        return match member_target(payload, hub_account) {
            None => Box::pin(on_change_invocation(payload, context)).await,
            Some(target) => Box::pin(in_member(payload, &target, context, sessions, &[]))
                .await
                .map(|(answer, _)| answer),
        };
    };
    // The hub's records, and each member target's, in the batch's order.
    let mut groups: BTreeMap<Option<Target>, Vec<Value>> = BTreeMap::new();
    for record in records {
        let event = record
            .get("body")
            .and_then(Value::as_str)
            .and_then(|body| serde_json::from_str::<Value>(body).ok())
            .unwrap_or(Value::Null);
        groups
            .entry(member_target(&event, hub_account))
            .or_default()
            .push(record.clone());
    }
    let mut failures = Vec::new();
    let mut members = Vec::new();
    for (target, records) in groups {
        let ids: Vec<String> = records
            .iter()
            .filter_map(|r| {
                r.get("messageId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        let batch = json!({ "Records": records });
        let answered = match &target {
            None => Box::pin(on_change_invocation(&batch, context))
                .await
                .map(|answer| (answer, Value::Null)),
            Some(target) => Box::pin(in_member(&batch, target, context, sessions, &ids)).await,
        };
        match answered {
            Ok((answer, note)) => {
                failures.extend(failed_ids(&answer));
                if let Some(target) = &target {
                    members.push(json!({"target": target.key(), "answer": answer, "note": note}));
                }
            }
            Err(error) => {
                tracing::error!(error_type = error.error_type(), %error, "records failed");
                failures.extend(ids);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(failures);
    let mut answer = serde_json::to_value(response).unwrap_or_default();
    answer["members"] = json!(members);
    Ok(answer)
}

/// The target of an event from another account than the hub's (`None`: the hub's own, or an
/// event that names no account, which the hub's path reads and judges).
fn member_target(event: &Value, hub_account: &str) -> Option<Target> {
    let account = event.get("account").and_then(Value::as_str)?;
    let region = event.get("region").and_then(Value::as_str)?;
    (account != hub_account).then(|| Target {
        account: account.to_owned(),
        region: region.to_owned(),
    })
}

/// `payload` (records of one member target, or its one event) audited in that target's session;
/// the answer and, when the session could not be opened, why. `ids` are the records' message ids.
async fn in_member<X, C, P, S>(
    payload: &Value,
    target: &Target,
    context: &Context<'_, C, P, S>,
    sessions: &X,
    ids: &[String],
) -> Result<(Value, Value), HandlerError>
where
    X: Sessions<Collector = C> + Sync,
    C: Collect + Sync,
    P: Publish + Sync,
    S: StateStore + Sync,
{
    let opened = match sessions.open(target).await {
        Ok(opened) => opened,
        Err((blocker, error)) if passes_on_its_own(&blocker) => {
            tracing::warn!(target = %target.key(), %error, "member session failed; SQS delivers again");
            let mut response = SqsBatchResponse::default();
            response.set_failures(ids.to_vec());
            return Ok((
                serde_json::to_value(response).unwrap_or_default(),
                json!(error),
            ));
        }
        Err((blocker, error)) => {
            tracing::warn!(
                target = %target.key(),
                reason = blocker.kind(),
                %error,
                "member events set aside: its role cannot be assumed (the scheduled run announces it)"
            );
            return Ok((
                serde_json::to_value(SqsBatchResponse::default()).unwrap_or_default(),
                json!(format!("set aside ({}): {error}", blocker.kind())),
            ));
        }
    };
    let member = Context {
        config: context.config,
        region: &target.region,
        collector: &opened.collector,
        others: &[],
        publisher: context.publisher,
        store: context.store,
        suppressions: context.suppressions,
        now: context.now,
        deadline: context.deadline,
    };
    Box::pin(on_change_invocation(payload, &member))
        .await
        .map(|answer| (answer, Value::Null))
}

/// Whether a session's refusal may pass without anyone acting.
fn passes_on_its_own(blocker: &Blocker) -> bool {
    matches!(blocker, Blocker::Throttled { .. } | Blocker::Failed { .. })
}

/// The message ids a partial batch response names.
fn failed_ids(answer: &Value) -> Vec<String> {
    answer
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .map(|failures| {
            failures
                .iter()
                .filter_map(|f| {
                    f.get("itemIdentifier")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}
