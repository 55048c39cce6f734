//! The two handlers for one event.
//!
//! A handler only turns its event into a scope and a reason, picks its [`RunPolicy`] and hands
//! both to [`audit_and_publish`]: everything the functions do after that is the same steps for
//! both. The capabilities are passed in (not built here) so the tests run the handlers with
//! doubles, and the binaries with the clients of [`super::Runtime`].

use serde_json::Value;

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

/// `on-change`: one EventBridge event.
pub async fn on_change<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let (scope, why) = match trigger::decide(event)? {
        Decision::Ignore(why) => {
            tracing::info!(%why, "event ignored");
            return Ok(ignored(why, Vec::new(), 0, 0));
        }
        Decision::Audit { scope, why } => (within_configured(scope, context.config), why),
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
    let scope = within_configured(Scope::AllClusters, context.config);
    let policy = RunPolicy::scheduled(context.config);
    // Boxed, like `on_change`'s.
    Box::pin(audit_and_publish(
        event,
        scope,
        "scheduled audit".to_owned(),
        &policy,
        context,
    ))
    .await
    .inspect_err(|error| {
        tracing::error!(error_type = error.error_type(), %error, "scheduled audit failed");
    })
}
