//! podreach's own note in a snapshot: what the live collector could not collect, and its cost.
//!
//! A live collection can be partial (a throttled call, a missing IAM action, a peer VPC in
//! another account). Those facts must survive `podreach snapshot --live --out DIR` so that an
//! offline audit of DIR reports the same gaps and does not analyse a cluster whose inputs are
//! incomplete as if they were whole. The collector therefore writes this one extra document
//! (`podreach-collection.json`, top-level key `podreachCollection`) next to the AWS CLI shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The schema name written into every collection note.
pub const COLLECTION_SCHEMA: &str = "podreach/collection/v1";

/// `podreach-collection.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodreachCollection {
    pub podreach_collection: CollectionNotes,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionNotes {
    pub schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Everything the collector could not collect, in the order it found out.
    #[serde(default)]
    pub gaps: Vec<CollectionGap>,
    /// Clusters whose VPC inputs are incomplete: they get no verdicts, only the gaps saying why.
    #[serde(default)]
    pub incomplete_clusters: Vec<IncompleteCluster>,
    /// Inputs of a cluster that could not be read and that a verdict may depend on (the
    /// Kubernetes API, say): the cluster is analysed, but never reported as a clean result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blind_spots: Vec<BlindSpot>,
    /// The Kubernetes API's `aws-node` DaemonSet `resourceVersion` per cluster, when read: a
    /// cached context is stale once it changes (`kubectl set env daemonset aws-node …`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_node_versions: BTreeMap<String, String>,
    #[serde(default)]
    pub stats: CollectionStats,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionGap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The IAM action of the failed call, e.g. `ec2:DescribeRouteTables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub message: String,
}

/// An input of a cluster that could not be read, why, and what makes it readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlindSpot {
    pub cluster: String,
    /// What is missing, e.g. `Kubernetes API` or `CNI version`.
    pub input: String,
    /// Why it could not be read (the error, named).
    pub cause: String,
    /// The exact step that makes it readable (commands where there are some).
    pub remedy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncompleteCluster {
    pub name: String,
    pub reason: String,
}

/// What the collection cost: API calls by operation, retries and wall time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionStats {
    /// Keyed by IAM action (`ec2:DescribeNetworkInterfaces`). Each call is one page.
    pub operations: BTreeMap<String, OperationStats>,
    pub calls: u64,
    pub retries: u64,
    pub wall_time_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStats {
    /// Calls that were made (one per page of a paginated operation).
    pub calls: u64,
    /// Extra attempts after a throttled, timed-out or transient failure.
    pub retries: u64,
    /// Calls that finally failed.
    pub failures: u64,
    /// Bytes of the answers, where counted (Kubernetes API requests).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
