//! The cluster's Kubernetes API: what aws-node itself runs with, and the pods it networks.
//!
//! The CNI's real settings live in the `aws-node` DaemonSet, which `kubectl set env` changes
//! without the EKS add-on knowing; a self-managed CNI has no add-on at all. So podreach reads,
//! per cluster, exactly the documents the README's kubectl recipe saves — the `aws-node`
//! DaemonSet, the pods of every namespace, the Node objects and the ENIConfigs — into the same
//! `raw` types the offline reader fills, through the same `Deserialize` (one parser for both).
//!
//! - **Where and whom to trust** ([`connect`]): the endpoint and CA of `eks:DescribeCluster`, or
//!   (the CLI) a kubeconfig context named by the cluster's ARN or pointing at its endpoint, with
//!   whatever authentication it uses (token, client certificate, exec plugin). kube-rs
//!   (`kube::Client`, rustls) does the HTTPS; podreach sends plain GETs and parses the answers.
//! - **Who** ([`token`]): the EKS bearer token, a presigned STS `GetCallerIdentity`, made per
//!   invocation with the SDK's SigV4 signer.
//! - **What** ([`read`]): pods in pages of [`KubeSettings::page_size`] (`limit`/`continue`; an
//!   expired `continue` restarts the list once), parsed page by page straight into the compact
//!   pod store; a node's audit reads only that node's pods (`fieldSelector=spec.nodeName=…`) and
//!   the DaemonSet.
//! - **When it cannot** ([`blind`]): 401, 403, a private endpoint out of reach, a timeout, DNS, a
//!   5xx: a blind spot of the cluster naming the cause and the exact remedy (the access entry to
//!   create, the RBAC to apply, the VPC to deploy in). A cluster read blind is never a clean
//!   result: the report and the digest say UNKNOWN, and an unknown CNI version is judged under
//!   every release, never replaced by the newest.

pub mod blind;
pub mod connect;
pub mod read;
pub mod token;

use std::path::PathBuf;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use podreach_core::raw;

use crate::stats::CallStats;

pub use blind::Runner;

/// RFC 3986 percent-encoding, as SigV4 and query strings want it: unreserved characters as they
/// are, every other byte `%XX`.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How podreach reaches the clusters' Kubernetes APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeMode {
    /// Not at all (`--kube off`, `KUBERNETES_API=off`): the report says what that leaves unseen.
    Off,
    /// The EKS way: endpoint and CA from `DescribeCluster`, a token from the AWS credentials.
    Eks,
    /// A kubeconfig context for the cluster when one exists (`--kubeconfig`, `$KUBECONFIG`,
    /// `~/.kube/config`), else the EKS way.
    Kubeconfig(Option<PathBuf>),
}

/// Limits of one cluster's reads.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// Time to establish a connection: a private endpoint out of reach fails within it.
    pub connect_timeout: Duration,
    /// Time for one response.
    pub read_timeout: Duration,
    /// Items per list page (kubectl's default chunk size is 500).
    pub page_size: u32,
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(20),
            page_size: 500,
        }
    }
}

/// Everything needed to open a cluster's API: the mode, the AWS identity for EKS tokens, and
/// STS to name that identity in a remedy.
#[derive(Debug, Clone)]
pub struct KubeAccess {
    pub mode: KubeMode,
    pub settings: KubeSettings,
    pub runner: Runner,
    pub region: String,
    pub credentials: Option<SharedCredentialsProvider>,
    pub sts: Option<aws_sdk_sts::Client>,
}

impl KubeAccess {
    /// Access with the credentials, region and endpoint of `config`.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        mode: KubeMode,
        runner: Runner,
        settings: KubeSettings,
    ) -> KubeAccess {
        KubeAccess {
            mode,
            settings,
            runner,
            region: config.region().map(ToString::to_string).unwrap_or_default(),
            credentials: config.credentials_provider(),
            sts: Some(aws_sdk_sts::Client::new(config)),
        }
    }

    /// No access at all.
    pub fn off() -> KubeAccess {
        KubeAccess {
            mode: KubeMode::Off,
            settings: KubeSettings::default(),
            runner: Runner::Cli,
            region: String::new(),
            credentials: None,
            sts: None,
        }
    }
}

/// What to read of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The DaemonSet, every pod, the Node objects and the ENIConfigs.
    Cluster,
    /// The DaemonSet and the pods of these nodes (by Kubernetes node name).
    Nodes(Vec<String>),
}

/// One cluster's Kubernetes documents, and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct ClusterRead {
    pub daemonset: Option<raw::DaemonSet>,
    pub pods: Option<raw::PodList>,
    pub nodes: Option<raw::NodeList>,
    pub eniconfigs: Option<raw::EniConfigList>,
    /// Inputs that could not be read, with cause and remedy.
    pub blind_spots: Vec<raw::BlindSpot>,
    /// What the reads found worth saying that is no failure (no ENIConfig CRD, no aws-node).
    pub notes: Vec<String>,
    /// The requests this read made, by action (`k8s:list pods`): also counted in the
    /// collector's [`CallStats`], and here for a caller that adds them to one audit's count.
    pub requests: std::collections::BTreeMap<String, raw::OperationStats>,
}

impl ClusterRead {
    /// The `resourceVersion` of the `aws-node` DaemonSet, when read.
    pub fn aws_node_version(&self) -> Option<&str> {
        self.daemonset
            .as_ref()
            .and_then(|d| d.metadata.resource_version.as_deref())
    }
}

impl KubeAccess {
    /// Reads `cluster`'s API as `reach` says. Never fails: what cannot be read is a blind spot.
    pub async fn read(
        &self,
        cluster: &raw::Cluster,
        reach: &Reach,
        stats: &CallStats,
    ) -> ClusterRead {
        if self.mode == KubeMode::Off {
            return ClusterRead::default();
        }
        let situation = blind::Situation::of(cluster, self);
        let client = match connect::client(self, cluster).await {
            Ok(client) => client,
            Err(failure) => {
                return ClusterRead {
                    blind_spots: vec![situation.blind_spot(&failure, None).await],
                    ..ClusterRead::default()
                };
            }
        };
        read::cluster(&client, &self.settings, reach, stats, &situation).await
    }
}
