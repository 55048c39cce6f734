//! What a collection produced, and how it becomes a model and a report.
//!
//! A [`Collection`] is the typed AWS CLI documents of an offline snapshot, each with the path
//! `snapshot --live` writes it to (`crate::layout`), plus podreach's note on gaps and cost. It
//! is handed to the model as it is: a live audit and an offline audit of the written snapshot
//! ([`Collection::source_files`]) are the same computation from the `Model` on, and nothing is
//! serialised only to be parsed again. The one thing added here is the `--with` rule: a kubectl
//! dump given with the collection replaces the document of its kind that was read from its
//! cluster's API. Its fields stay public and its shape plain because test doubles of
//! [`super::Collect`] build it directly.

use std::collections::BTreeSet;

use podreach_core::raw::{self, CollectionNotes};
use podreach_core::snapshot::{self, Document, LoadedDocument};
use podreach_core::{AnalyzeOptions, Model, Overrides, Report, SourceFile};

use crate::layout::{self, NOTES_FILE, Place};

/// What a collection produced: typed AWS CLI documents and podreach's note on gaps and cost.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The documents, each with the path `snapshot --live` writes it to.
    pub documents: Vec<LoadedDocument>,
    pub notes: CollectionNotes,
    /// The clusters described (their files are under `clusters/<name>/`).
    pub cluster_names: Vec<String>,
    /// Every cluster of the region, when the collection listed them (`eks:ListClusters` for
    /// [`Scope::AllClusters`](super::Scope::AllClusters)): what tells the lifecycle that a
    /// cluster was deleted.
    pub listed_clusters: Option<Vec<String>>,
    /// Clusters the scope named that EKS says do not exist (`eks:DescribeCluster` answered
    /// `ResourceNotFoundException`): deleted, as far as the lifecycle is concerned.
    pub missing_clusters: Vec<String>,
}

/// What EKS said of the region's clusters: every cluster, when the collection listed them, and
/// the clusters named that do not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterListing {
    pub listed: Option<BTreeSet<String>>,
    pub missing: BTreeSet<String>,
}

impl ClusterListing {
    /// Whether `cluster` no longer exists: EKS says so, or lists every cluster but it.
    pub fn gone(&self, cluster: &str) -> bool {
        self.missing.contains(cluster) || self.listed.as_ref().is_some_and(|l| !l.contains(cluster))
    }
}

impl Collection {
    /// What EKS said of the region's clusters (kept apart from the documents, which are large).
    pub fn listing(&self) -> ClusterListing {
        ClusterListing {
            listed: self
                .listed_clusters
                .as_ref()
                .map(|l| l.iter().cloned().collect()),
            missing: self.missing_clusters.iter().cloned().collect(),
        }
    }

    /// The collection note as a document of the snapshot.
    pub fn notes_document(&self) -> LoadedDocument {
        layout::document(
            NOTES_FILE,
            Document::Collection(raw::PodreachCollection {
                podreach_collection: self.notes.clone(),
            }),
        )
    }

    /// Every file of the snapshot as the AWS CLI prints it, the collection note included, in a
    /// stable order: what `podreach snapshot --live` writes.
    pub fn source_files(&self) -> Vec<SourceFile> {
        self.documents
            .iter()
            .chain([&self.notes_document()])
            .map(|d| SourceFile {
                path: d.path.clone(),
                text: d.document.to_json(),
            })
            .collect()
    }

    /// The names of the clusters collected.
    pub fn clusters(&self) -> Vec<String> {
        self.cluster_names.clone()
    }

    /// The model of the collection plus `extra` files (kubectl dumps, placed under `clusters/`
    /// so they are attributed like the snapshot's own). The collected documents go to the model
    /// as they are: nothing is written out and parsed again. An extra file that cannot be read
    /// is named in the model's gaps and makes the run not a clean result; the rest is used.
    pub fn model(&self, extra: snapshot::Loaded, overrides: &Overrides) -> Model {
        let notes = self.notes_document();
        // A kubectl dump given with the collection replaces the document of the same kind that
        // was read from that cluster's API (`--with DIR` overrides per document).
        let replaced: Vec<(String, std::mem::Discriminant<Document>)> = extra
            .documents
            .iter()
            .filter_map(|d| {
                let cluster = self.cluster_of_extra(&d.path)?;
                Some((cluster, std::mem::discriminant(&d.document)))
            })
            .collect();
        let documents = self
            .documents
            .iter()
            .filter(|d| {
                !replaced.iter().any(|(cluster, kind)| {
                    layout::place(&d.path) == Place::Cluster(cluster.as_str())
                        && *kind == std::mem::discriminant(&d.document)
                })
            })
            .chain([&notes])
            .chain(&extra.documents);
        Model::new(documents, &extra.problems, overrides)
    }

    /// The cluster an extra file (placed under `clusters/`) belongs to: its subdirectory, or the
    /// only cluster when it lies directly in `clusters/`.
    fn cluster_of_extra(&self, path: &str) -> Option<String> {
        match layout::place(path) {
            Place::Cluster(cluster) => Some(cluster.to_owned()),
            Place::Clusters => match self.cluster_names.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
            Place::Region => None,
        }
    }

    /// Audits the collection plus `extra` files: from the `Model` on, the same code path as an
    /// offline audit.
    pub fn audit(
        &self,
        extra: snapshot::Loaded,
        overrides: &Overrides,
        options: &AnalyzeOptions,
    ) -> Report {
        podreach_core::analyze(&self.model(extra, overrides), options)
    }
}
