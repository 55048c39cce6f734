//! `scheduled-audit` in organization mode (`ORGANIZATION=true`): the hub's scheduled audit audits
//! nothing itself; it plans the run and queues one message per target (account × Region) for
//! the audit workers ([`super::worker`]).
//!
//! The steps, each recorded before the next so a failure is seen, never absorbed:
//! 1. the accounts: `ACCOUNTS`, or every account Organizations lists (the units above each only
//!    when `EXCLUDE_OUS` asks for them); the core plans the targets
//!    ([`podreach_core::org::plan`]), and a selection that cannot be planned fails the run;
//! 2. the run's targets in the table ([`crate::runs`]); the run before it, if its digest never
//!    went out (a message lost to the dead-letter queue, a plan that could not queue every
//!    target), gets its digest now, each target without a result named;
//! 3. the targets blind until now that are no longer planned (an account closed or excluded, a
//!    Region removed) are RESOLVED, as the core's `coverage` says, so no blind spot stays open
//!    forever;
//! 4. the messages, ten per call; a target that could not be queued fails the invocation
//!    (Lambda's error metric sees it) and is named in the next run's digest as without result.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use podreach_core::org::{Account, RunTarget, Target, coverage, queue, run_id};
use serde_json::{Value, json};

use crate::org::OrgError;
use crate::org::messages::{organization_digest, unreachable_message};
use crate::publish::{Origin, Publish};
use crate::runs::RunStore;

use super::config::{FunctionConfig, OrganizationConfig};
use super::error::HandlerError;

/// What planning an organization run needs from AWS: the accounts, and the queue.
pub trait Organization {
    /// Every account Organizations lists; with `with_units`, each with the units above it.
    fn accounts(
        &self,
        with_units: bool,
    ) -> impl Future<Output = Result<Vec<Account>, OrgError>> + Send;

    /// Queues the messages; the ones SQS refused, with its text.
    fn enqueue(
        &self,
        queued: &[podreach_core::org::Queued],
    ) -> impl Future<Output = Vec<(podreach_core::org::Queued, crate::error::ApiFailure)>> + Send;
}

/// Plans one organization run at `now` and queues it. `hub` is the hub's own account and Region.
pub async fn plan_run<O: Organization, P: Publish, R: RunStore>(
    organization: &O,
    publisher: &P,
    runs: &R,
    config: &FunctionConfig,
    settings: &OrganizationConfig,
    hub: &Origin,
    now: i64,
) -> Result<Value, HandlerError> {
    // 1. The plan.
    let accounts = if settings.accounts.is_empty() {
        organization
            .accounts(!settings.exclude_ous.is_empty())
            .await?
    } else {
        podreach_core::org::listed(&settings.accounts)
    };
    let regions = if config.regions.is_empty() {
        vec![hub.region.clone()]
    } else {
        config.regions.clone()
    };
    let selection = podreach_core::org::Selection {
        exclude_accounts: settings.exclude_accounts.iter().cloned().collect(),
        exclude_ous: settings.exclude_ous.iter().cloned().collect(),
        regions,
    };
    let plan = podreach_core::org::plan(&accounts, &selection)?;
    let aliases: BTreeMap<String, String> = accounts
        .iter()
        .filter_map(|a| a.name.clone().map(|n| (a.id.clone(), n)))
        .collect();
    // 2. The run's record, and the digest of the run before when it never went out.
    let run = run_id(now);
    let targets: Vec<RunTarget> = plan
        .targets
        .iter()
        .map(|t| RunTarget {
            target: t.clone(),
            alias: aliases.get(&t.account).cloned(),
            result: None,
        })
        .collect();
    let previous = runs.start_run(&run, &targets, now).await?;
    let mut published = 0usize;
    let overdue = match &previous {
        Some(previous) => overdue_digest(publisher, runs, config, hub, previous, now).await?,
        None => false,
    };
    published += usize::from(overdue);
    // 3. Blind spots of targets no longer planned.
    let planned: BTreeSet<&Target> = plan.targets.iter().collect();
    let mut stale = Vec::new();
    for target in runs.blind_targets().await? {
        if planned.contains(&target) {
            continue;
        }
        if let Some(state) = runs.target_state(&target).await? {
            stale.push(state);
        }
    }
    let (_, changes, _) = coverage(&plan.targets, &BTreeMap::new(), &stale, now);
    for change in &changes {
        let alias = aliases.get(&change.target.account).map(String::as_str);
        let message = unreachable_message(change, alias, config.format);
        publisher
            .publish(&message)
            .await
            .map_err(|failure| HandlerError::Publish {
                attempted: changes.len(),
                failures: vec![failure],
            })?;
        published += 1;
    }
    for mut state in stale {
        state.blocker = None;
        state.last_error = None;
        state.blind_since = None;
        runs.put_target_state(&state).await?;
    }
    // 4. The messages.
    let queued = queue(&plan.targets, &aliases, &run, settings.account_concurrency);
    let refused = organization.enqueue(&queued).await;
    let outcome = json!({
        "action": "planned",
        "run": run,
        "targets": plan.targets.len(),
        "accounts": plan.targets.iter().map(|t| t.account.as_str()).collect::<BTreeSet<_>>().len(),
        "skipped": plan.skipped,
        "queued": queued.len() - refused.len(),
        "no_longer_planned_resolved": changes.len(),
        "overdue_digest_of": if overdue { previous } else { None },
        "published": published,
    });
    if refused.is_empty() {
        tracing::info!(%outcome, "organization run planned");
        return Ok(outcome);
    }
    tracing::error!(%outcome, refused = refused.len(), "targets not queued");
    Err(HandlerError::Enqueue {
        run,
        attempted: queued.len(),
        failures: refused
            .into_iter()
            .map(|(q, failure)| (q.message.target().key(), failure))
            .collect(),
    })
}

/// Sends the digest of `previous` if it never went out (claimed here, so a worker finishing it
/// late cannot send it too); `true` when sent.
async fn overdue_digest<P: Publish, R: RunStore>(
    publisher: &P,
    runs: &R,
    config: &FunctionConfig,
    hub: &Origin,
    previous: &str,
    now: i64,
) -> Result<bool, HandlerError> {
    let Some(mut meta) = runs.run_meta(previous).await? else {
        return Ok(false);
    };
    if meta.digest_at.is_some() {
        return Ok(false);
    }
    // A run with targets still without result: counted as done so the claim can be made, the
    // missing ones named in the digest.
    let targets = runs.run_targets(previous).await?;
    if !runs.claim_overdue_digest(previous, now).await? {
        return Ok(false);
    }
    meta.done = targets.iter().filter(|t| t.result.is_some()).count();
    let message = organization_digest(&meta, &targets, hub, config.format);
    if let Err(failure) = publisher.publish(&message).await {
        runs.release_digest(previous).await?;
        return Err(HandlerError::Publish {
            attempted: 1,
            failures: vec![failure],
        });
    }
    Ok(true)
}
