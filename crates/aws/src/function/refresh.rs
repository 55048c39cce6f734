//! The refresh step: after a whole collection, each cluster that got verdicts has its cached
//! context replaced ([`crate::context`]), for the next node event to be audited against.
//!
//! Caching is best effort: a context that cannot be written is logged and the run goes on (the
//! next node event then collects the whole cluster). A node's audit refreshes nothing: its
//! collection holds one node, not the cluster.

use podreach_core::report::Report;

use crate::state::StateStore;

use super::collection::Collected;
use super::run::Run;

/// Caches the context of every cluster of a whole collection that got verdicts.
pub(crate) async fn refresh<S: StateStore>(
    run: &Run<'_>,
    store: &S,
    collected: &Collected,
    report: &Report,
) {
    if collected.context_age.is_some() {
        return;
    }
    let collection = &collected.collection;
    // Every cluster that got verdicts (with its gaps, which the context keeps); none when
    // something of the whole run is missing.
    let run_is_partial = report.gaps.iter().any(|g| g.cluster.is_none())
        || report.not_analysed.iter().any(|n| n.cluster.is_none());
    let cacheable = collection.cluster_names.iter().filter(|c| {
        !run_is_partial
            && !report
                .not_analysed
                .iter()
                .any(|n| n.cluster.as_deref() == Some(c.as_str()))
    });
    for cluster in cacheable {
        if let Some(cached) = crate::context::of(collection, cluster, run.now)
            && let Err(error) = store.put_context(&run.at, &cached).await
        {
            tracing::warn!(%cluster, %error, "could not cache the cluster's context");
        }
    }
}
