//! The first step: plan the collection (the event's nodes alone, or whole clusters) and make
//! it.
//!
//! [`plan`] is pure: a scope made only of ENIs and instances, under a policy that allows it, is
//! worth trying as those nodes against their cluster's cached context ([`super::nodes`]).
//! [`collect`] carries the plan out and falls back to the whole cluster whenever the nodes'
//! attempt says it cannot stand ([`Nodes::Whole`]), so what it returns, [`Collected`], is
//! always a collection that can be audited, with what it cost and how it was made.

use crate::Collection;
use crate::collect::{Collect, Scope};
use crate::state::StateStore;

use super::error::HandlerError;
use super::nodes::{Nodes, nodes_with_context};
use super::policy::RunPolicy;
use super::run::Run;

/// How the run will collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The event's nodes alone, against their cluster's cached context no older than `max_age`
    /// seconds.
    Nodes {
        enis: Vec<String>,
        instances: Vec<String>,
        max_age: i64,
    },
    /// Everything the scope names.
    Whole,
}

/// What was collected, and how.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) collection: Collection,
    /// Set when only the event's node(s) were collected and joined to the cluster's cached
    /// context: how old that context was, in seconds. Such a collection sees part of its
    /// cluster.
    pub(crate) context_age: Option<i64>,
    /// API calls spent on an attempt given up (the nodes' lookup before the whole cluster).
    pub(crate) spent: u64,
}

impl Collected {
    /// Every API call this run made to collect.
    pub(crate) fn api_calls(&self) -> u64 {
        self.collection.notes.stats.calls + self.spent
    }

    /// `why`, with how much was audited when it was not the whole scope.
    pub(crate) fn why(&self, why: String) -> String {
        match self.context_age {
            Some(age) => format!(
                "{why}; only the event's node(s) audited, against the cluster's context collected {age} s ago"
            ),
            None => why,
        }
    }
}

/// How `scope` is to be collected under `policy`.
pub(crate) fn plan(scope: &Scope, policy: &RunPolicy) -> Plan {
    match (node_objects(scope), policy.node_context_max_age) {
        (Some((enis, instances)), Some(max_age)) => Plan::Nodes {
            enis,
            instances,
            max_age,
        },
        _ => Plan::Whole,
    }
}

/// Collects `scope` as `plan` says, falling back to the whole cluster.
pub(crate) async fn collect<C: Collect, S: StateStore>(
    run: &Run<'_>,
    collector: &C,
    store: &S,
    scope: &Scope,
    plan: Plan,
) -> Result<Collected, HandlerError> {
    let attempt = match plan {
        Plan::Nodes {
            enis,
            instances,
            max_age,
        } => Some(
            // Boxed: its future would otherwise nest inside the handler's, past the compiler's
            // layout depth in the binaries.
            Box::pin(nodes_with_context(
                collector,
                store,
                &run.at,
                (&enis, &instances),
                run.now,
                max_age,
            ))
            .await?,
        ),
        Plan::Whole => None,
    };
    Ok(match attempt {
        Some(Nodes::Audited(collection, age)) => Collected {
            collection: *collection,
            context_age: Some(age),
            spent: 0,
        },
        Some(Nodes::Whole {
            calls,
            why: reason,
            clusters,
        }) => {
            tracing::info!(%reason, "auditing the whole cluster");
            // The nodes' lookup already named their clusters: no need to resolve the event again.
            let collection = if clusters.is_empty() {
                collector.collect(scope).await?
            } else {
                collector.collect(&Scope::Clusters(clusters)).await?
            };
            Collected {
                collection,
                context_age: None,
                spent: calls,
            }
        }
        None => Collected {
            collection: collector.collect(scope).await?,
            context_age: None,
            spent: 0,
        },
    })
}

/// The ENIs and instances of a scope made of nothing else (a node event, or a batch of them).
fn node_objects(scope: &Scope) -> Option<(Vec<String>, Vec<String>)> {
    fn walk(scope: &Scope, enis: &mut Vec<String>, instances: &mut Vec<String>) -> bool {
        match scope {
            Scope::Enis(ids) => {
                enis.extend(ids.iter().cloned());
                true
            }
            Scope::Instances(ids) => {
                instances.extend(ids.iter().cloned());
                true
            }
            Scope::Union(scopes) => scopes.iter().all(|s| walk(s, enis, instances)),
            _ => false,
        }
    }
    let (mut enis, mut instances) = (Vec::new(), Vec::new());
    walk(scope, &mut enis, &mut instances).then_some((enis, instances))
}
