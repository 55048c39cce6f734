//! The `aws-node` DaemonSet as `kubectl get daemonset aws-node -n kube-system -o json` prints
//! it: the VPC CNI's settings are the `env` of its `aws-node` container.
//!
//! Of the pod template, the model (`model::cluster`) reads the containers and init containers:
//! the settings from the `aws-node` container's literal `env` values (a `valueFrom` names a
//! ConfigMap or Secret the snapshot does not hold), the CNI's version from the images and
//! `VPC_CNI_VERSION`, and whether the `aws-vpc-cni-init` init container is there. Fields podreach
//! does not read are skipped unparsed.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;

/// A `DaemonSet` (podreach reads `aws-node`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSet {
    /// Absent on the items of an API list; `kubectl get` always prints it.
    #[serde(default = "apps_v1")]
    pub api_version: String,
    #[serde(default = "daemonset_kind")]
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: DaemonSetSpec,
}

fn apps_v1() -> String {
    "apps/v1".to_owned()
}

fn daemonset_kind() -> String {
    "DaemonSet".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonSetSpec {
    pub template: PodTemplateSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodTemplateSpec {
    pub spec: PodSpec,
}

/// The pod template of a DaemonSet.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

/// An environment variable. `valueFrom` entries (field refs) carry no literal value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<serde_json::Value>,
}
