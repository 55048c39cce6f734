//! A pod as `kubectl get pods -A -o json` prints it, in the fields podreach reads: what places
//! its addresses (`spec.nodeName`, `spec.hostNetwork`, `status.podIP(s)`, `status.phase`, the
//! `vpc.amazonaws.com/pod-eni` annotation) and what names its workload (`ownerReferences`, the
//! `pod-template-hash` label).
//!
//! These are the shapes one pod is read into and written back from; a list never holds them.
//! [`PodList`]'s items are the compact store of `pod_store`, which takes each [`Pod`] as it is
//! read and keeps a few dozen bytes of it. Labels and annotations are structs of the one key each
//! that podreach reads, not maps, so every other label and annotation is skipped unparsed.

use serde::{Deserialize, Serialize};

use super::meta::v1;

/// One pod as podreach reads it: what places its addresses and names its workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    #[serde(default = "v1", rename = "apiVersion")]
    pub api_version: String,
    #[serde(default = "pod_kind")]
    pub kind: String,
    pub metadata: PodMeta,
    #[serde(default)]
    pub spec: PodItemSpec,
    #[serde(default)]
    pub status: PodStatus,
}

pub(super) fn pod_kind() -> String {
    "Pod".to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "PodLabels::is_empty")]
    pub labels: PodLabels,
    #[serde(default, skip_serializing_if = "PodAnnotations::is_empty")]
    pub annotations: PodAnnotations,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
}

/// The one label podreach reads: a ReplicaSet's pods carry `pod-template-hash`, which is the
/// suffix the Deployment controller gives the ReplicaSet's name (`<deployment>-<hash>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodLabels {
    #[serde(
        rename = "pod-template-hash",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pod_template_hash: Option<String>,
}

impl PodLabels {
    fn is_empty(&self) -> bool {
        self.pod_template_hash.is_none()
    }
}

/// The one annotation podreach reads: the branch ENI of a pod with security groups for pods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodAnnotations {
    #[serde(
        rename = "vpc.amazonaws.com/pod-eni",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pod_eni: Option<String>,
}

impl PodAnnotations {
    fn is_empty(&self) -> bool {
        self.pod_eni.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerReference {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodItemSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, rename = "podIP", skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    #[serde(default, rename = "podIPs", skip_serializing_if = "Vec::is_empty")]
    pub pod_ips: Vec<PodIp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodIp {
    pub ip: String,
}
