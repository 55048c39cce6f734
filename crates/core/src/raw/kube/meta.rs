//! The metadata every Kubernetes object carries, and the `apiVersion` / `kind` defaults the
//! documents of this module share.
//!
//! `metadata` is one shape on every kind (`ObjectMeta` of `meta/v1` in the Kubernetes API
//! reference): [`ObjectMeta`] keeps the part podreach reads, for the objects that come a few at a
//! time (the `aws-node` DaemonSet, ENIConfigs). Pods and nodes come by the thousand and read
//! narrower metadata of their own (`PodMeta`, `NodeMeta`). `kubectl get` prints `apiVersion` and
//! `kind` on every list and object, but the items of an API list carry neither, so serde
//! defaults fill them in. The two that several documents share are here: `v1` (pods, nodes and
//! their lists) and `List` (pod, node and ENIConfig lists); each kind's own is beside its type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Object metadata (the part podreach reads).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Changes with every write of the object: a cached context remembers the `aws-node`
    /// DaemonSet's, so `kubectl set env daemonset aws-node …` re-collects the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

pub(super) fn v1() -> String {
    "v1".to_owned()
}

pub(super) fn list_kind() -> String {
    "List".to_owned()
}
