//! `ENIConfig` custom resources as `kubectl get eniconfigs -o json` prints them: with custom
//! networking, the subnet and security groups of a node's secondary ENIs.
//!
//! With custom networking (`AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true`) the VPC CNI creates a
//! node's secondary ENIs, which hold its pods' addresses, in the subnet its `ENIConfig`
//! (`crd.k8s.amazonaws.com/v1alpha1`) names, with the security groups it lists (none listed: the
//! primary ENI's groups, `ipamd` `allocENI`). The name, `spec.subnet` and `spec.securityGroups`
//! are all podreach reads of it.

use serde::{Deserialize, Serialize};

use super::meta::{ObjectMeta, list_kind};

/// A `kind: List` of `ENIConfig` custom resources (custom networking).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EniConfigList {
    #[serde(default = "eniconfig_api_version")]
    pub api_version: String,
    #[serde(default = "list_kind")]
    pub kind: String,
    pub items: Vec<EniConfig>,
}

fn eniconfig_api_version() -> String {
    "crd.k8s.amazonaws.com/v1alpha1".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EniConfig {
    #[serde(default = "eniconfig_api_version")]
    pub api_version: String,
    #[serde(default = "eniconfig_kind")]
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: EniConfigSpec,
}

fn eniconfig_kind() -> String {
    "ENIConfig".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EniConfigSpec {
    pub subnet: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}
