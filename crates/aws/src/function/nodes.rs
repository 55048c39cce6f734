//! Auditing only an event's nodes: their documents, collected alone, joined to their cluster's
//! cached context ([`crate::context`]).
//!
//! Each check that can make the context unusable (the nodes span several clusters, no context
//! or a stale one, one that cannot be read, an aws-node DaemonSet changed since) answers
//! [`Nodes::Whole`] with its reason, and the caller collects the whole cluster instead: a node's
//! audit is an optimisation that must never say less than the full one would. The checks on the
//! stored context, the join with the Kubernetes reads and the nodes' Kubernetes names are
//! separate functions, in the order they run.

use std::collections::BTreeMap;

use podreach_core::snapshot::{Document, LoadedDocument};

use crate::Collection;
use crate::collect::Collect;
use crate::context::Restored;
use crate::state::{Partition, StateStore};

use super::error::HandlerError;

/// What the attempt to audit only the event's nodes came to.
pub(crate) enum Nodes {
    /// The nodes' documents with their cluster's cached context, and the context's age.
    Audited(Box<Collection>, i64),
    /// Not possible; the whole cluster is collected. The calls already spent, why, and the
    /// nodes' clusters when they were found (then the full collection need not look them up).
    Whole {
        calls: u64,
        why: String,
        clusters: Vec<String>,
    },
}

/// The nodes' one cluster and its cached context, restored: fresh enough to audit against.
struct Fresh {
    cluster: String,
    restored: Restored,
    age: i64,
}

/// The event's nodes, collected alone and joined to their cluster's cached context.
pub(crate) async fn nodes_with_context<C: Collect, S: StateStore>(
    collector: &C,
    store: &S,
    at: &Partition,
    (enis, instances): (&[String], &[String]),
    now: i64,
    max_age: i64,
) -> Result<Nodes, HandlerError> {
    let Some(nodes) = collector.collect_nodes(enis, instances).await? else {
        return Ok(Nodes::Whole {
            calls: 0,
            why: "the event's nodes could not be collected alone".to_owned(),
            clusters: Vec::new(),
        });
    };
    let fresh = fresh_context(store, at, &nodes, now, max_age).await;
    match fresh {
        Ok(fresh) => Ok(joined(collector, nodes, fresh).await),
        Err(why) => Ok(Nodes::Whole {
            calls: nodes.notes.stats.calls,
            why,
            clusters: nodes.cluster_names.clone(),
        }),
    }
}

/// The cached context of the nodes' one cluster, when there is one no older than `max_age`
/// seconds and it can be read; else why not.
async fn fresh_context<S: StateStore>(
    store: &S,
    at: &Partition,
    nodes: &Collection,
    now: i64,
    max_age: i64,
) -> Result<Fresh, String> {
    let [cluster] = nodes.cluster_names.as_slice() else {
        return Err(format!(
            "the nodes belong to {} clusters",
            nodes.cluster_names.len()
        ));
    };
    let cached = match store.context(at, cluster).await {
        Ok(Some(cached)) => cached,
        Ok(None) => return Err(format!("no cached context of {cluster}")),
        Err(error) => return Err(format!("the cached context of {cluster}: {error}")),
    };
    if crate::context::is_invalidated(&cached) {
        return Err(format!(
            "the cached context of {cluster} was invalidated by a change of its inputs"
        ));
    }
    let age = now.saturating_sub(cached.collected_at);
    if age > max_age {
        return Err(format!("the cached context of {cluster} is {age} s old"));
    }
    let restored = crate::context::documents(&cached)?;
    Ok(Fresh {
        cluster: cluster.clone(),
        restored,
        age,
    })
}

/// The nodes' documents joined to the context's, with the nodes' Kubernetes objects read now.
async fn joined<C: Collect>(collector: &C, nodes: Collection, fresh: Fresh) -> Nodes {
    let Fresh {
        cluster,
        restored,
        age,
    } = fresh;
    let cluster = &cluster;
    let mut collection = nodes;
    // The nodes' pods and the aws-node DaemonSet, read now: a DaemonSet that changed since the
    // context (`kubectl set env daemonset aws-node …`) makes the context stale.
    let described = restored.documents.iter().find_map(|d| match &d.document {
        Document::Cluster(c) if c.cluster.name == *cluster => Some(c.cluster.clone()),
        _ => None,
    });
    let mut documents = restored.documents;
    if let Some(described) = described {
        let names = node_names(&collection, &documents);
        let reach = crate::kube::Reach::Nodes(names);
        if let Some(read) = collector.read_kubernetes(&described, &reach).await {
            let now = read.aws_node_version().map(str::to_owned);
            if read.blind_spots.is_empty() && now != restored.aws_node_version {
                return Nodes::Whole {
                    calls: collection.notes.stats.calls,
                    why: format!(
                        "the aws-node DaemonSet of {cluster} changed since its context was collected (resourceVersion {} → {})",
                        restored.aws_node_version.as_deref().unwrap_or("none"),
                        now.as_deref().unwrap_or("none")
                    ),
                    clusters: collection.cluster_names.clone(),
                };
            }
            if read.daemonset.is_some() {
                documents.retain(|d| !matches!(d.document, Document::AwsNode(_)));
            }
            add_kubernetes(&mut collection, cluster, read);
        }
    }
    collection.documents.extend(documents);
    collection.notes.gaps.extend(restored.gaps);
    Nodes::Audited(Box::new(collection), age)
}

/// The nodes' Kubernetes reads added to the collection: their documents, and their cost.
fn add_kubernetes(collection: &mut Collection, cluster: &str, read: crate::kube::ClusterRead) {
    // This audit's cost includes the node's Kubernetes reads.
    let stats = &mut collection.notes.stats;
    for (action, op) in &read.requests {
        stats.calls += op.calls;
        let entry = stats.operations.entry(action.clone()).or_default();
        entry.calls += op.calls;
        entry.failures += op.failures;
        entry.bytes += op.bytes;
    }
    crate::collect::kubernetes_documents(
        cluster,
        read,
        &mut collection.documents,
        &mut collection.notes,
    );
}

/// The Kubernetes names of the nodes collected: from the context's Node objects by instance
/// id, else the instance's private DNS name (EKS's default node name).
fn node_names(nodes: &Collection, context: &[LoadedDocument]) -> Vec<String> {
    let known: BTreeMap<&str, &str> = context
        .iter()
        .filter_map(|d| match &d.document {
            Document::Nodes(list) => Some(list.items.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|n| Some((n.instance_id()?, n.metadata.name.as_str())))
        .collect();
    let mut names: Vec<String> = nodes
        .documents
        .iter()
        .filter_map(|d| match &d.document {
            Document::Instances(i) => Some(i.reservations.iter()),
            _ => None,
        })
        .flatten()
        .flat_map(|r| r.instances.iter())
        .filter_map(|i| {
            known
                .get(i.instance_id.as_str())
                .map(|n| (*n).to_owned())
                .or_else(|| i.private_dns_name.clone())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}
