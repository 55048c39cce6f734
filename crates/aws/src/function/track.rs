//! The track step: what this run may conclude about the stored findings, handed to
//! [`crate::lifecycle::track`].
//!
//! The conclusions depend on how much the run saw, and the policy: which clusters are
//! reconciled, which were fully audited (only they resolve findings), which are known to be
//! deleted, and whether a change or a reminder can be judged. They are worked out here, from the
//! collection and the [`RunPolicy`](super::policy::RunPolicy), so the lifecycle itself knows
//! nothing of the two functions.

use std::collections::BTreeSet;

use podreach_core::lifecycle::{self, Policy};
use podreach_core::report::Report;
use podreach_core::suppressions::Suppression;

use crate::lifecycle::{Inputs, Tracked};
use crate::state::{Clusters, StateStore};

use super::collection::Collected;
use super::error::HandlerError;
use super::run::Run;

/// Reconciles `report` of the audited `clusters` with the stored state.
pub(crate) async fn track<'r, S: StateStore>(
    run: &Run<'_>,
    store: &S,
    report: &'r Report,
    collected: &Collected,
    clusters: &[String],
    suppressions: &[Suppression],
) -> Result<Tracked<'r>, HandlerError> {
    let policy = run.policy;
    let collection = &collected.collection;
    // One node's audit sees part of its cluster: it resolves nothing.
    let complete = match collected.context_age {
        Some(_) => BTreeSet::new(),
        None => lifecycle::fully_audited(report),
    };
    // Only a listing of every cluster of the region tells that a stored cluster is gone.
    let existing: Option<BTreeSet<String>> = collection
        .listed_clusters
        .as_ref()
        .filter(|_| policy.knows_deletions)
        .map(|names| names.iter().cloned().collect());
    let missing: BTreeSet<String> = if policy.knows_deletions {
        collection.missing_clusters.iter().cloned().collect()
    } else {
        BTreeSet::new()
    };
    let inputs = Inputs {
        clusters: if policy.reconcile_all {
            Clusters::All
        } else {
            Clusters::Named(clusters)
        },
        complete: &complete,
        existing: existing.as_ref(),
        missing: &missing,
        suppressions,
        now: run.now,
        policy: Policy {
            renotify_after: policy.renotify_after,
            judge_changes: collected.context_age.is_none(),
            outbox: true,
            ..Policy::default()
        },
    };
    crate::lifecycle::track(store, &run.at, report, inputs)
        .await
        .map_err(HandlerError::State)
}
