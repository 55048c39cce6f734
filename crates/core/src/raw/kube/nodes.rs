//! Nodes as `kubectl get nodes -o json` prints them: which EC2 instance each node is, and whether
//! aws-node networks its pods at all.
//!
//! A Node is joined to its EC2 instance by `spec.providerID` (`aws:///<zone>/<instance id>`).
//! Of its labels, only those that say who networks the node's pods (`kubernetes.io/os`,
//! `eks.amazonaws.com/compute-type`) and where it runs (zone, instance type) are read; every other
//! label is skipped unparsed, as a cluster of thousands of nodes carries many.

use serde::{Deserialize, Serialize};

use super::meta::{list_kind, v1};

/// A `kind: List` (or `NodeList`) of nodes: `kubectl get nodes -o json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeList {
    #[serde(default = "v1")]
    pub api_version: String,
    #[serde(default = "list_kind")]
    pub kind: String,
    pub items: Vec<Node>,
}

/// A Kubernetes Node: which machine it is and who networks its pods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    #[serde(default = "v1", rename = "apiVersion")]
    pub api_version: String,
    #[serde(default = "node_kind")]
    pub kind: String,
    pub metadata: NodeMeta,
    #[serde(default)]
    pub spec: NodeSpec,
}

fn node_kind() -> String {
    "Node".to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub labels: NodeLabels,
}

/// The labels podreach reads from a Node (every other label is skipped unparsed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLabels {
    /// `linux` or `windows`: Windows nodes use their own host networking (HNS), not aws-node.
    #[serde(
        rename = "kubernetes.io/os",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os: Option<String>,
    /// `fargate`, `auto` (EKS Auto Mode) or `hybrid` (EKS Hybrid Nodes); absent on EC2 nodes that
    /// aws-node networks.
    #[serde(
        rename = "eks.amazonaws.com/compute-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compute_type: Option<String>,
    #[serde(
        rename = "topology.kubernetes.io/zone",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub zone: Option<String>,
    #[serde(
        rename = "node.kubernetes.io/instance-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// `aws:///<zone>/<instance id>` for EC2 instances.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
}

impl Node {
    /// The EC2 instance id of `spec.providerID` (`aws:///eu-west-1a/i-0123…`).
    pub fn instance_id(&self) -> Option<&str> {
        let id = self.spec.provider_id.as_deref()?.rsplit('/').next()?;
        id.starts_with("i-").then_some(id)
    }
}
