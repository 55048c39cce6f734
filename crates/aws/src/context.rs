//! A cluster's context, kept between invocations so an event about one node costs a few calls.
//!
//! When pods scale, the VPC CNI attaches ENIs and assigns addresses on one node after another,
//! and each change is an event. Re-collecting the whole cluster for each costs ~30 EC2 calls at
//! 5,000 nodes, out of the request budget the CNI itself needs. Nothing but that node changed,
//! though: the cluster, its add-on settings, the VPC, its subnets and route tables and the far
//! side are what the last full collection saw. So every full collection stores, per cluster,
//! those documents (every document but the nodes' ENIs and the instances; the far VPCs' ENIs,
//! whose security groups the far side is judged by, stay), and `on-change` audits an ENI or
//! instance event as that context plus the node's own ENIs and instance: three EC2 calls for an
//! ENI event ([`crate::collect::Collect::collect_nodes`]).
//!
//! The context is only as fresh as the last full collection: route, peering, CIDR, add-on and
//! cluster-version events always re-collect the whole cluster (and refresh it), a change of a
//! security group, network ACL, prefix list or transit gateway the cluster reads replaces it
//! with a [`tombstone`] before its cluster is re-collected, and a context
//! older than `CONTEXT_MAX_AGE_MINUTES` (default 60) is not used. An audit of one node sees only
//! that node, so it never resolves a finding and never calls one CHANGED; it announces what is
//! NEW, and the next full audit settles the rest. The documents are stored as the AWS CLI JSON of
//! the snapshot files, gzipped: the cache is a persistence format, read back with the same
//! reader as an offline snapshot.

use std::io::{Read, Write};

use podreach_core::snapshot::{Document, LoadedDocument};
use podreach_core::{SourceFile, snapshot};
use serde::{Deserialize, Serialize};

use crate::collect::Collection;
use crate::layout::{self, Place, Side};

/// Where the collector writes the far VPCs' ENIs: part of the context (each destination's
/// security groups), unlike the nodes' ENIs. Named by [`crate::layout`], the one place that maps
/// the file to its side of the routes; re-exported here, where it was first defined.
pub use crate::layout::FAR_ENIS_FILE;

/// A DynamoDB item holds at most 400 KB; a context that does not fit is not cached.
pub const MAX_CONTEXT_BYTES: usize = 350 * 1024;

/// One cluster's cached context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedContext {
    pub cluster: String,
    /// When it was collected (Unix seconds).
    pub collected_at: i64,
    /// The documents as snapshot files, JSON, gzipped.
    pub documents: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct File {
    path: String,
    text: String,
}

/// What is cached: the documents, and the cluster's gaps, so a node's audit reports what the
/// full collection could not read (a missing add-on, say) as the full audit does; and the
/// `aws-node` DaemonSet's `resourceVersion`, so a node's audit that finds another one
/// (`kubectl set env daemonset aws-node …`) re-collects the whole cluster.
#[derive(Serialize, Deserialize)]
struct Stored {
    files: Vec<File>,
    gaps: Vec<podreach_core::raw::CollectionGap>,
    #[serde(default)]
    aws_node_version: Option<String>,
}

/// A cached context read back.
#[derive(Debug)]
pub struct Restored {
    pub documents: Vec<LoadedDocument>,
    pub gaps: Vec<podreach_core::raw::CollectionGap>,
    /// The `aws-node` DaemonSet's `resourceVersion` when the context was collected.
    pub aws_node_version: Option<String>,
}

/// Whether `document` belongs in `cluster`'s context: everything of the collection but the
/// per-node documents and other clusters' own.
fn in_context(document: &LoadedDocument, cluster: &str) -> bool {
    let own = match layout::place(&document.path) {
        Place::Cluster(name) => name == cluster,
        Place::Clusters => false,
        Place::Region => true,
    };
    // Pods are read again for the nodes of each event (they change with every scale-out);
    // the Node objects stay (they name each instance's node and say who networks it).
    let nodes = match document.document {
        // The cluster side's ENIs are the nodes'; the far side's are context.
        Document::NetworkInterfaces(_) => Side::of_enis(&document.path) == Side::Cluster,
        Document::Instances(_) | Document::Collection(_) | Document::Pods(_) => true,
        _ => false,
    };
    own && !nodes
}

/// The context of `cluster` in a full collection; `None` when it does not fit an item.
pub fn of(collection: &Collection, cluster: &str, collected_at: i64) -> Option<CachedContext> {
    let files: Vec<File> = collection
        .documents
        .iter()
        .filter(|d| in_context(d, cluster))
        .map(|d| File {
            path: d.path.clone(),
            text: d.document.to_json(),
        })
        .collect();
    let gaps = collection
        .notes
        .gaps
        .iter()
        .filter(|g| g.cluster.as_deref() == Some(cluster))
        .cloned()
        .collect();
    let aws_node_version = collection.notes.aws_node_versions.get(cluster).cloned();
    let json = serde_json::to_vec(&Stored {
        files,
        gaps,
        aws_node_version,
    })
    .ok()?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&json).ok()?;
    let documents = encoder.finish().ok()?;
    if documents.len() > MAX_CONTEXT_BYTES {
        tracing::warn!(
            cluster,
            bytes = documents.len(),
            "the cluster's context is too large to cache: node events re-audit the whole cluster"
        );
        return None;
    }
    Some(CachedContext {
        cluster: cluster.to_owned(),
        collected_at,
        documents,
    })
}

/// The empty context that replaces a cluster's when an input of its verdicts changed (a security
/// group, a network ACL…): no node audit judges against the old rules before the cluster's next
/// whole audit caches a new one.
pub fn tombstone(cluster: &str) -> CachedContext {
    CachedContext {
        cluster: cluster.to_owned(),
        collected_at: 0,
        documents: Vec::new(),
    }
}

/// Whether `context` is a [`tombstone`].
pub fn is_invalidated(context: &CachedContext) -> bool {
    context.documents.is_empty()
}

/// The documents of a cached context, read as an offline snapshot is, and the cluster's gaps.
pub fn documents(context: &CachedContext) -> Result<Restored, String> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(context.documents.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| format!("the cached context of {} is not gzip: {e}", context.cluster))?;
    let stored: Stored = serde_json::from_slice(&json).map_err(|e| {
        format!(
            "the cached context of {} is not readable: {e}",
            context.cluster
        )
    })?;
    let files: Vec<SourceFile> = stored
        .files
        .into_iter()
        .map(|f| SourceFile {
            path: f.path,
            text: f.text,
        })
        .collect();
    snapshot::load(&files)
        .into_result()
        .map(|loaded| Restored {
            documents: loaded.documents,
            gaps: stored.gaps,
            aws_node_version: stored.aws_node_version,
        })
        .map_err(|e| {
            format!(
                "the cached context of {} is not readable: {e}",
                context.cluster
            )
        })
}

#[cfg(test)]
mod tests {
    use podreach_core::raw::{CollectionGap, CollectionNotes};
    use podreach_core::{SourceFile, demo, snapshot};

    use super::*;

    /// The demo as a collection of both clusters, with one gap of each.
    fn collection() -> Collection {
        let files: Vec<SourceFile> = demo::files()
            .into_iter()
            // Where the collector puts them: `ec2/…`, and each cluster's under `clusters/<name>/`.
            .map(|f| SourceFile {
                path: if f.path.starts_with("ec2/") {
                    f.path
                } else {
                    format!("clusters/{}", f.path)
                },
                text: f.text,
            })
            .collect();
        let documents = snapshot::load(&files)
            .into_result()
            .expect("the demo is valid")
            .documents;
        let gap = |cluster: &str| CollectionGap {
            cluster: Some(cluster.to_owned()),
            action: Some("eks:DescribeAddon".to_owned()),
            message: format!("no add-on in {cluster}"),
        };
        Collection {
            documents,
            notes: CollectionNotes {
                gaps: vec![gap("shop"), gap("legacy")],
                ..CollectionNotes::default()
            },
            cluster_names: vec!["legacy".to_owned(), "shop".to_owned()],
            listed_clusters: None,
            missing_clusters: Vec::new(),
        }
    }

    #[test]
    fn a_context_keeps_everything_but_the_nodes_and_other_clusters_and_reads_back() {
        let collection = collection();
        let cached = of(&collection, "shop", 1_890_000_000).expect("the demo's context fits");
        assert!(cached.documents.len() < MAX_CONTEXT_BYTES);
        let Restored {
            documents, gaps, ..
        } = super::documents(&cached).expect("it reads back");
        assert!(
            !documents.iter().any(|d| matches!(
                d.document,
                Document::NetworkInterfaces(_) | Document::Instances(_) | Document::Pods(_)
            )),
            "a node's own documents are collected with its event"
        );
        assert!(
            documents
                .iter()
                .any(|d| matches!(d.document, Document::Nodes(_))),
            "the Node objects are context"
        );
        assert!(
            documents
                .iter()
                .any(|d| matches!(d.document, Document::RouteTables(_))),
            "the route tables are context"
        );
        assert!(
            documents
                .iter()
                .all(|d| !d.path.starts_with("clusters/legacy/")),
            "only shop's own cluster documents"
        );
        assert!(
            documents
                .iter()
                .any(|d| matches!(d.document, Document::Cluster(_))),
            "shop's cluster is context"
        );
        assert_eq!(gaps.len(), 1, "shop's gap only: {gaps:?}");
        assert_eq!(gaps[0].cluster.as_deref(), Some("shop"));
    }

    #[test]
    fn the_far_sides_enis_are_context_and_the_nodes_are_not() {
        let mut collection = collection();
        let eni = collection
            .documents
            .iter()
            .find_map(|d| match &d.document {
                Document::NetworkInterfaces(d) => d.network_interfaces.first().cloned(),
                _ => None,
            })
            .expect("the demo has ENIs");
        collection
            .documents
            .push(layout::enis(Side::Far, vec![eni]));
        let cached = of(&collection, "shop", 1_890_000_000).expect("the demo's context fits");
        let Restored { documents, .. } = super::documents(&cached).expect("it reads back");
        let enis: Vec<&str> = documents
            .iter()
            .filter(|d| matches!(d.document, Document::NetworkInterfaces(_)))
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(enis, [FAR_ENIS_FILE], "only the far side's ENIs");
    }

    #[test]
    fn a_context_that_is_not_gzip_is_an_error_naming_the_cluster() {
        let cached = CachedContext {
            cluster: "shop".to_owned(),
            collected_at: 0,
            documents: b"not gzip".to_vec(),
        };
        let error = super::documents(&cached).expect_err("refused");
        assert!(error.contains("shop"), "{error}");
    }
}
