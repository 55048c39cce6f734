//! The refresh step: after a whole collection, each cluster that got verdicts has its cached
//! context replaced ([`crate::context`]), for the next node event to be audited against, and its
//! owned ids ([`crate::owners`]), for the next event to be scoped by.
//!
//! Caching is best effort: a context that cannot be written is logged and the run goes on (the
//! next node event then collects the whole cluster). A node's audit refreshes no context (its
//! collection holds one node, not the cluster) but adds its nodes' ids to the cluster's owned
//! ids: a node launched since the last full audit is then known when the VPC CNI starts
//! assigning its addresses.

use podreach_core::report::Report;

use crate::Collection;
use crate::owners::Owners;
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
    let collection = &collected.collection;
    if collected.context_age.is_some() {
        add_owners(run, store, collection).await;
        return;
    }
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
        let owners = Owners::of(collection, cluster, run.now);
        if let Err(error) = store.put_owners(&run.at, &owners).await {
            tracing::warn!(%cluster, %error, "could not store the cluster's owned ids");
        }
    }
}

/// A node audit's ids added to its cluster's owned ids (when the cluster has an index).
async fn add_owners<S: StateStore>(run: &Run<'_>, store: &S, collection: &Collection) {
    let stored = match store.owners(&run.at).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(%error, "could not read the clusters' owned ids");
            return;
        }
    };
    for mut owners in stored {
        if !collection.cluster_names.contains(&owners.cluster) {
            continue;
        }
        let before = owners.len();
        owners.merge(&Owners::of(collection, &owners.cluster, run.now));
        if owners.len() > before
            && let Err(error) = store.put_owners(&run.at, &owners).await
        {
            tracing::warn!(cluster = %owners.cluster, %error, "could not store the cluster's owned ids");
        }
    }
}
