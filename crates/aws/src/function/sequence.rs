//! One audit run, as the sequence of its named steps: collect (the event's nodes or whole
//! clusters), audit, refresh the cached contexts, track the findings' lifecycle, compose the
//! messages, deliver them, import the findings into Security Hub.
//!
//! [`audit_and_publish`] only sequences the steps; each lives in its own module, takes typed
//! values and returns one, so a step can be read (and changed) without the others. What differs
//! between the two functions is the `RunPolicy` the handler passes in; what every step shares
//! about the invocation (where, when, how configured) is one `Run`.

use serde_json::Value;

use crate::collect::{Collect, Scope};
use crate::publish::Publish;
use crate::state::StateStore;

use super::capabilities::Context;
use super::collection::{self, Collected};
use super::error::HandlerError;
use super::outcome::{self, Outcome};
use super::ownership::{self, Owned};
use super::policy::RunPolicy;
use super::run::{Run, WRITE_RESERVE};
use super::{audit, compose, deliver, refresh, security_hub, track};

/// Audits `scope` because of `why`, as `policy` says, and publishes what changed.
pub(crate) async fn audit_and_publish<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    scope: Scope,
    why: String,
    policy: &RunPolicy,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let run = Run::new(event, policy, context);
    let store = context.store;
    let (scope, why, looked_up) = if policy.scope_by_ownership {
        match ownership::by_ownership(&run, context.collector, store, scope).await? {
            Owned::Ignore { why: reason, calls } => {
                let why = format!("{why}: {reason}");
                tracing::info!(%why, api_calls = calls, "event ignored");
                return Ok(outcome::ignored(why, Vec::new(), 0, calls));
            }
            Owned::Audit {
                scope,
                dismissed,
                calls,
            } if !dismissed.is_empty() => (
                scope,
                format!(
                    "{why} (left out, owned by no cluster: {})",
                    dismissed.join("; ")
                ),
                calls,
            ),
            Owned::Audit { scope, calls, .. } => (scope, why, calls),
        }
    } else {
        (scope, why, 0)
    };
    let plan = collection::plan(&scope, policy);
    let mut collected = collection::collect(&run, context.collector, store, &scope, plan).await?;
    collected.spent += looked_up;
    let why = collected.why(why);
    let clusters = collected.collection.clusters();
    if clusters.is_empty() && policy.ignore_without_clusters {
        return Ok(concerns_no_cluster(why, &scope, clusters, &collected));
    }
    let report = audit::audit(&collected.collection, run.config);
    let suppressions = context.suppressions.load().await;
    // The first write: from here each record is whole (announcements wait in its outbox), so
    // this is the last point where stopping costs nothing but the audit itself.
    run.ensure("writing the state", WRITE_RESERVE, 0)?;
    refresh::refresh(&run, store, &collected, &report).await;
    let tracked = track::track(
        &run,
        store,
        &report,
        &collected,
        &clusters,
        &suppressions.rules,
    )
    .await?;
    let problem = suppressions.problem.as_deref();
    let digest = compose::digest(&run, store, &report, &tracked, problem).await?;
    let outgoing = compose::compose(&run, &tracked, digest);
    let delivered = deliver::deliver(&run, context.publisher, store, &outgoing).await?;
    let imported =
        security_hub::import(&run, context.publisher, &report, &tracked, &collected).await;
    let mut outcome = outcome::audited(
        why,
        clusters,
        &report,
        &collected,
        &tracked,
        suppressions.problem,
        delivered.published(),
    );
    outcome.security_hub = imported;
    tracing::info!(outcome = ?outcome, "audit done");
    delivered.into_result(outcome)
}

/// The outcome of a run whose collection found no cluster, when the policy ignores it.
fn concerns_no_cluster(
    why: String,
    scope: &Scope,
    clusters: Vec<String>,
    collected: &Collected,
) -> Outcome {
    let why = format!("{why}: the event concerns no EKS cluster (scope {scope:?})");
    let api_calls = collected.api_calls();
    tracing::info!(%why, api_calls, "event ignored");
    outcome::ignored(
        why,
        clusters,
        collected.collection.notes.gaps.len(),
        api_calls,
    )
}
