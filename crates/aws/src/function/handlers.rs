//! The two handlers for one event.
//!
//! A handler only turns its event into a scope and a reason, picks its [`RunPolicy`] and hands
//! both to [`audit_and_publish`]: everything the functions do after that is the same steps for
//! both. The capabilities are passed in (not built here) so the tests run the handlers with
//! doubles, and the binaries with the clients of [`super::Runtime`].

use serde_json::{Value, json};

use crate::collect::{Collect, Scope};
use crate::publish::Publish;
use crate::state::StateStore;
use crate::trigger::{self, Decision};

use super::capabilities::Context;
use super::config::FunctionConfig;
use super::error::HandlerError;
use super::outcome::{Outcome, ignored};
use super::policy::RunPolicy;
use super::sequence::audit_and_publish;

/// Narrows an event's scope to the configured clusters, if any.
pub(crate) fn within_configured(scope: Scope, config: &FunctionConfig) -> Scope {
    match (&scope, config.clusters.is_empty()) {
        (_, true) => scope,
        (Scope::AllClusters, false) => Scope::Clusters(config.clusters.clone()),
        _ => scope,
    }
}

/// The context of the Region an event comes from (EventBridge's envelope names it; the first
/// Region audited when it does not), or why the event is not this deployment's.
pub(crate) fn event_region<'a, C, P, S>(
    event: &Value,
    context: &Context<'a, C, P, S>,
) -> Result<Context<'a, C, P, S>, String> {
    let Some(region) = event.get("region").and_then(Value::as_str) else {
        return Ok(context.here());
    };
    context.in_region(region).ok_or_else(|| {
        let audited: Vec<&str> = context.regions().iter().map(|c| c.region).collect();
        format!(
            "the event comes from Region {region}, which this deployment does not audit \
             (it audits {}; add it to REGIONS)",
            audited.join(", ")
        )
    })
}

/// `on-change`: one EventBridge event, audited in the Region it comes from.
pub async fn on_change<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    // Read first: a malformed event is an error wherever it comes from.
    let (scope, why) = match trigger::decide(event)? {
        Decision::Ignore(why) => {
            tracing::info!(%why, "event ignored");
            return Ok(ignored(why, Vec::new(), 0, 0));
        }
        Decision::Audit { scope, why } => (within_configured(scope, context.config), why),
    };
    let context = &match event_region(event, context) {
        Ok(context) => context,
        Err(why) => {
            tracing::info!(%why, "event ignored");
            return Ok(ignored(why, Vec::new(), 0, 0));
        }
    };
    let policy = RunPolicy::on_change(context.config);
    // Boxed: the steps' futures would otherwise nest inside the handler's, towards the
    // compiler's layout depth in the binaries (see the node step's own box).
    Box::pin(audit_and_publish(event, scope, why, &policy, context)).await
}

/// `scheduled-audit`: every (configured) cluster; reconciles the whole state, recalls open
/// findings at the configured interval, and publishes a digest.
pub async fn scheduled_audit<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let policy = RunPolicy::scheduled(context.config);
    every_cluster(event, "scheduled audit", &policy, context)
        .await
        .inspect_err(|error| {
            tracing::error!(error_type = error.error_type(), %error, "scheduled audit failed");
        })
}

/// One target of an organization run (`audit-worker`), in the context of its account's session:
/// the scheduled audit's steps, in the target's state partition, without a digest of its own.
pub(crate) async fn organization_target<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let policy = RunPolicy::organization_target(context.config);
    every_cluster(event, "organization audit", &policy, context).await
}

/// Every (configured) cluster of the context's account and Region, audited as `policy` says.
async fn every_cluster<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    why: &str,
    policy: &RunPolicy,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let scope = within_configured(Scope::AllClusters, context.config);
    // Boxed, like `on_change`'s.
    Box::pin(audit_and_publish(
        event,
        scope,
        why.to_owned(),
        policy,
        context,
    ))
    .await
}

/// `scheduled-audit` in every Region this deployment audits (`REGIONS`), one after the other
/// (a Region's audit holds its collection in memory; one at a time keeps the function within
/// its memory whatever the number of Regions), each on its own: its own state partition,
/// messages and digest. One Region's failure never keeps the others from being audited and
/// announced; once all have run, the invocation fails naming it, so the function's error metric
/// and its alarm see it. The answer is the Region's outcome, or with several, each Region's.
pub async fn scheduled_audit_in_every_region<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Value, HandlerError> {
    if !context.several_regions() {
        return Box::pin(scheduled_audit(event, context))
            .await
            .map(|outcome| serde_json::to_value(outcome).unwrap_or_default());
    }
    let mut answers = Vec::new();
    let mut failed = None;
    for here in context.regions() {
        match Box::pin(scheduled_audit(event, &here)).await {
            Ok(outcome) => answers.push(json!({ "region": here.region, "outcome": outcome })),
            Err(error) => {
                answers.push(json!({
                    "region": here.region,
                    "error_type": error.error_type(),
                    "error": error.to_string(),
                }));
                failed.get_or_insert(HandlerError::InRegion {
                    region: here.region.to_owned(),
                    error: Box::new(error),
                });
            }
        }
    }
    match failed {
        Some(error) => {
            tracing::error!(regions = %json!(answers), "scheduled audit failed in a Region");
            Err(error)
        }
        None => Ok(json!({ "regions": answers })),
    }
}
