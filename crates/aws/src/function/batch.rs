//! `on-change`'s invocation: a batch of SQS records from the debounce queue, answered with
//! Lambda's partial batch response, or one EventBridge event delivered directly.
//!
//! The records and the answer are `aws_lambda_events`' typed [`SqsMessage`] and
//! [`SqsBatchResponse`] (which serialises as `{"batchItemFailures":[{"itemIdentifier":…}]}`,
//! the shape Lambda reads). Each record is read on its own rather than the batch as one
//! `SqsEvent`: a record that cannot be read fails alone and goes back to the queue, the others
//! are still audited, which is what a partial batch response is for. The records read are
//! gathered in a [`Batch`] so one audit serves them all.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use serde::Deserialize;
use serde_json::Value;

use crate::collect::{Collect, Scope};
use crate::publish::Publish;
use crate::state::StateStore;
use crate::trigger::{self, Decision, EventError};

use super::capabilities::Context;
use super::error::HandlerError;
use super::handlers::{event_region, on_change, within_configured};
use super::policy::RunPolicy;
use super::sequence::audit_and_publish;

/// `on-change`'s entry point: a batch of EventBridge events from the debounce queue (an SQS
/// event, `{"Records": [...]}`), or one EventBridge event delivered directly.
///
/// A batch is audited once for the union of its events' scopes: when pods scale, every node's
/// CNI assigns addresses within seconds, and one collection then serves dozens of events instead
/// of spending the EC2 budget the CNI itself needs. The answer to a batch is Lambda's partial
/// batch response: the records that could not be handled go back to the queue, and after its
/// `maxReceiveCount` to the dead-letter queue.
pub async fn on_change_invocation<C: Collect, P: Publish, S: StateStore>(
    payload: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Value, HandlerError> {
    match payload.get("Records").and_then(Value::as_array) {
        Some(records) => {
            let response = on_change_batch(records, context).await;
            Ok(serde_json::to_value(response).unwrap_or_default())
        }
        None => on_change(payload, context)
            .await
            .map(|outcome| serde_json::to_value(outcome).unwrap_or_default())
            .inspect_err(|error| {
                tracing::error!(error_type = error.error_type(), %error, "event rejected");
            }),
    }
}

/// Handles SQS records whose bodies are EventBridge events; answers with the failed message
/// ids. The records of each Region are audited together, in that Region; a Region's failure
/// fails only its records.
async fn on_change_batch<C: Collect, P: Publish, S: StateStore>(
    records: &[Value],
    context: &Context<'_, C, P, S>,
) -> SqsBatchResponse {
    let mut batch = Batch::default();
    for record in records {
        batch.read(record, context);
    }
    let Batch {
        mut failed,
        regions,
    } = batch;
    for (region, audit) in regions {
        let Some(here) = context.in_region(&region) else {
            continue;
        };
        let RegionBatch {
            scopes,
            audited_ids,
            reasons,
            first_event,
        } = audit;
        let scope = Scope::union(scopes);
        let why = format!("{} event(s): {}", reasons.len(), reasons.join("; "));
        let event = first_event.unwrap_or(Value::Null);
        let policy = RunPolicy::on_change(here.config);
        let audit = audit_and_publish(&event, scope, why, &policy, &here);
        // Boxed, like `on_change`'s.
        if let Err(error) = Box::pin(audit).await {
            tracing::error!(%region, error_type = error.error_type(), %error, "batch failed");
            failed.extend(audited_ids);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

/// The records of a batch as read: the ones that failed, and what the others ask to audit, by
/// Region.
#[derive(Default)]
struct Batch {
    /// Message ids of the records that could not be handled.
    failed: Vec<String>,
    regions: BTreeMap<String, RegionBatch>,
}

/// What the records of one Region ask to audit.
#[derive(Default)]
struct RegionBatch {
    scopes: Vec<Scope>,
    /// Message ids of the records the audit is for: they fail with it.
    audited_ids: Vec<String>,
    reasons: Vec<String>,
    /// The first record's event that could be decided on: the origin of the messages.
    first_event: Option<Value>,
}

impl Batch {
    /// Reads one record: ignored, to be audited in its Region, or failed.
    fn read<C, P, S>(&mut self, record: &Value, context: &Context<'_, C, P, S>) {
        let (id, decision) = match SqsMessage::deserialize(record) {
            Ok(message) => {
                let id = message.message_id.unwrap_or_default();
                let body = message.body.as_deref().unwrap_or_default();
                (id, decide(body, context))
            }
            Err(error) => (message_id(record), Err(EventError::NotAnEvent(error))),
        };
        match decision {
            Ok(Read::Ignore(why)) => {
                tracing::info!(message_id = %id, %why, "event ignored");
            }
            Ok(Read::Audit {
                region,
                event,
                scope,
                why,
            }) => {
                let audit = self.regions.entry(region).or_default();
                audit.scopes.push(within_configured(scope, context.config));
                audit.reasons.push(why);
                audit.audited_ids.push(id);
                audit.first_event.get_or_insert(event);
            }
            Err(error) => {
                tracing::error!(message_id = %id, error_type = error.error_type(), %error, "event rejected");
                self.failed.push(id);
            }
        }
    }
}

/// A record's body as read.
enum Read {
    Ignore(String),
    /// To audit `scope` in `region` because of `why`; `event` is the record's event.
    Audit {
        region: String,
        event: Value,
        scope: Scope,
        why: String,
    },
}

/// The decision on a record's body: an event from a Region this deployment does not audit is
/// ignored, like an event not worth an audit.
fn decide<C, P, S>(body: &str, context: &Context<'_, C, P, S>) -> Result<Read, EventError> {
    let event = serde_json::from_str::<Value>(body).map_err(EventError::NotAnEvent)?;
    let (scope, why) = match trigger::decide(&event)? {
        Decision::Ignore(why) => return Ok(Read::Ignore(why)),
        Decision::Audit { scope, why } => (scope, why),
    };
    match event_region(&event, context) {
        Ok(here) => Ok(Read::Audit {
            region: here.region.to_owned(),
            event,
            scope,
            why,
        }),
        Err(why) => Ok(Read::Ignore(why)),
    }
}

/// The message id of a record that is not an SQS message, so it still goes back to the queue.
fn message_id(record: &Value) -> String {
    record
        .get("messageId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
