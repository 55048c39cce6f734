//! The EKS phase: the clusters in scope, described, with their `vpc-cni` add-on, and where the
//! clusters' own documents go.
//!
//! Each cluster costs DescribeCluster, and DescribeAddon `vpc-cni` only when it is in scope (a
//! VPC-scoped event describes every cluster to learn its VPC; only the clusters of that VPC are
//! worth an add-on lookup). A missing add-on is not an error: it means a self-managed CNI, whose
//! settings then come from the `aws-node` DaemonSet read from the Kubernetes API or, when the
//! API is not read, from a dump or flags, which a gap names. A cluster EKS says does not exist is set apart
//! ([`Undescribed::Missing`]) because the lifecycle treats it as deleted. The clusters' own
//! documents (the EKS answers and the Kubernetes objects) are placed under `clusters/<name>/`
//! by `crate::layout`, where the model attributes them to their cluster.

use std::sync::Arc;

use podreach_core::raw::{self, CollectionGap, CollectionNotes};
use podreach_core::snapshot::{Document, LoadedDocument};
use tokio::task::JoinSet;

use super::pages::{filter, paginate};
use super::scope::Resolved;
use super::{Collector, gap};
use crate::convert::{self, MissingField};
use crate::error::{ApiFailure, FailureKind};
use crate::layout::{self, ClusterFile};

/// Why a cluster could not be described: a gap, or the cluster does not exist (also a gap, so the
/// report says so, and a deletion for the lifecycle).
enum Undescribed {
    Gap(CollectionGap),
    Missing(CollectionGap),
}

impl From<CollectionGap> for Undescribed {
    fn from(gap: CollectionGap) -> Self {
        Undescribed::Gap(gap)
    }
}

/// A described cluster and its `vpc-cni` add-on, when installed.
#[derive(Debug, Clone)]
pub(super) struct DescribedCluster {
    pub(super) cluster: raw::Cluster,
    pub(super) addon: Option<raw::Addon>,
}

impl DescribedCluster {
    /// The cluster's EKS answers as the documents of its directory.
    pub(super) fn write(&self, documents: &mut Vec<LoadedDocument>) {
        let name = &self.cluster.name;
        documents.push(layout::document(
            &layout::cluster_file(name, ClusterFile::Cluster),
            Document::Cluster(raw::DescribeCluster {
                cluster: self.cluster.clone(),
            }),
        ));
        if let Some(addon) = &self.addon {
            documents.push(layout::document(
                &layout::cluster_file(name, ClusterFile::Addon),
                Document::Addon(raw::DescribeAddon {
                    addon: addon.clone(),
                }),
            ));
        }
    }
}

/// A cluster's Kubernetes documents where a snapshot keeps them (`clusters/<name>/…`, the
/// kubectl recipe's names), its blind spots and its DaemonSet's version into the notes.
pub fn kubernetes_documents(
    cluster: &str,
    read: crate::kube::ClusterRead,
    documents: &mut Vec<LoadedDocument>,
    notes: &mut CollectionNotes,
) {
    if let Some(version) = read.aws_node_version() {
        notes
            .aws_node_versions
            .insert(cluster.to_owned(), version.to_owned());
    }
    let path = |file: ClusterFile| layout::cluster_file(cluster, file);
    if let Some(daemonset) = read.daemonset {
        documents.push(layout::document(
            &path(ClusterFile::AwsNode),
            Document::AwsNode(daemonset),
        ));
    }
    if let Some(pods) = read.pods {
        documents.push(layout::document(
            &path(ClusterFile::Pods),
            Document::Pods(pods),
        ));
    }
    if let Some(nodes) = read.nodes {
        documents.push(layout::document(
            &path(ClusterFile::Nodes),
            Document::Nodes(nodes),
        ));
    }
    if let Some(eniconfigs) = read.eniconfigs {
        documents.push(layout::document(
            &path(ClusterFile::EniConfigs),
            Document::EniConfigs(eniconfigs),
        ));
    }
    for note in read.notes {
        tracing::info!(cluster, %note, "kubernetes");
    }
    notes.blind_spots.extend(read.blind_spots);
}

impl Collector {
    pub(super) async fn list_clusters(&self) -> Result<Vec<String>, ApiFailure> {
        let pages = paginate!(
            self,
            "eks:ListClusters",
            self.eks.list_clusters().max_results(100),
            clusters,
            |name: &String| Ok::<_, MissingField>(name.clone())
        );
        pages.complete()
    }

    /// Describes the named clusters and keeps those in scope; only those get an add-on lookup.
    pub(super) async fn describe_clusters(
        &self,
        names: &[String],
        scope: Arc<Resolved>,
        notes: &mut CollectionNotes,
        missing: &mut Vec<String>,
    ) -> Vec<DescribedCluster> {
        let mut set = JoinSet::new();
        for name in names {
            let this = self.clone();
            let name = name.clone();
            let scope = scope.clone();
            set.spawn(async move {
                let described = this.describe_cluster(&name, &scope).await;
                (name, described)
            });
        }
        let mut clusters = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((name, described)) = joined else {
                notes.gaps.push(CollectionGap {
                    cluster: None,
                    action: None,
                    message: "a cluster collection task stopped unexpectedly".to_owned(),
                });
                continue;
            };
            match described {
                Ok(None) => {}
                Ok(Some((cluster, addon_gap))) => {
                    if let Some(message) = addon_gap {
                        notes.gaps.push(message);
                    }
                    clusters.push(cluster);
                }
                Err(Undescribed::Gap(gap)) => notes.gaps.push(gap),
                Err(Undescribed::Missing(gap)) => {
                    missing.push(name);
                    notes.gaps.push(gap);
                }
            }
        }
        clusters.sort_by(|a, b| a.cluster.name.cmp(&b.cluster.name));
        clusters
    }

    /// DescribeCluster, then DescribeAddon `vpc-cni`. A missing add-on means a self-managed
    /// CNI: the cluster is still analysed, from a DaemonSet dump, flags or version defaults.
    async fn describe_cluster(
        &self,
        name: &str,
        scope: &Resolved,
    ) -> Result<Option<(DescribedCluster, Option<CollectionGap>)>, Undescribed> {
        let cluster = self.cluster(name).await?;
        if !scope.covers(&cluster) {
            return Ok(None);
        }
        let (addon, addon_gap) = self.vpc_cni_addon(name).await;
        Ok(Some((DescribedCluster { cluster, addon }, addon_gap)))
    }

    /// DescribeCluster, with the VPC taken from the cluster's subnets when the answer names none.
    async fn cluster(&self, name: &str) -> Result<raw::Cluster, Undescribed> {
        let answer = {
            let _permit = self.permit().await;
            self.eks.describe_cluster().name(name).send().await
        };
        let answer = answer.map_err(|e| ApiFailure::from_sdk("eks:DescribeCluster", e));
        if let Err(failure) = &answer
            && failure.kind == FailureKind::NotFound
        {
            return Err(Undescribed::Missing(gap(Some(&name.to_owned()), failure)));
        }
        let cluster = answer
            .and_then(|out| {
                out.cluster().map(convert::cluster).ok_or(ApiFailure {
                    action: "eks:DescribeCluster",
                    kind: FailureKind::Service,
                    code: None,
                    message: "the answer has no `cluster`".to_owned(),
                })
            })
            .map_err(|failure| gap(Some(&name.to_owned()), &failure))?
            .map_err(|missing| CollectionGap {
                cluster: Some(name.to_owned()),
                action: Some("eks:DescribeCluster".to_owned()),
                message: missing.to_string(),
            })?;
        let mut cluster = cluster;
        if cluster.resources_vpc_config.vpc_id.is_empty() {
            // EKS always names the VPC; some AWS-compatible endpoints (moto) omit it, and the
            // cluster's subnets still say which VPC it is.
            cluster.resources_vpc_config.vpc_id = self
                .vpc_of_subnets(&cluster.resources_vpc_config.subnet_ids)
                .await
                .map_err(|failure| gap(Some(&name.to_owned()), &failure))?
                .ok_or_else(|| CollectionGap {
                    cluster: Some(name.to_owned()),
                    action: Some("eks:DescribeCluster".to_owned()),
                    message: "the cluster names no VPC and none of its subnets exists".to_owned(),
                })?;
        }
        Ok(cluster)
    }

    /// DescribeAddon `vpc-cni`: the add-on, or none, and the gap that says why not.
    async fn vpc_cni_addon(&self, name: &str) -> (Option<raw::Addon>, Option<CollectionGap>) {
        let answer = {
            let _permit = self.permit().await;
            self.eks
                .describe_addon()
                .cluster_name(name)
                .addon_name("vpc-cni")
                .send()
                .await
        };
        match answer {
            Ok(out) => match out.addon().map(convert::addon) {
                Some(Ok(addon)) => (Some(addon), None),
                Some(Err(missing)) => (
                    None,
                    Some(CollectionGap {
                        cluster: Some(name.to_owned()),
                        action: Some("eks:DescribeAddon".to_owned()),
                        message: missing.to_string(),
                    }),
                ),
                None => (None, None),
            },
            Err(error) => {
                let failure = ApiFailure::from_sdk("eks:DescribeAddon", error);
                if failure.kind == FailureKind::NotFound && self.reads_kubernetes() {
                    // A self-managed CNI: the aws-node DaemonSet, read from the Kubernetes API,
                    // is its one source (and when that read fails, a blind spot says so).
                    tracing::info!(cluster = name, "no vpc-cni add-on: the CNI is self-managed");
                    return (None, None);
                }
                let message = if failure.kind == FailureKind::NotFound {
                    "no EKS add-on `vpc-cni`: the CNI is self-managed, and the Kubernetes API is not \
                     read, so its settings come from an aws-node DaemonSet dump (`--with DIR`) or \
                     --cni-version/--cni-env; without them its version is unknown"
                        .to_owned()
                } else {
                    failure.to_string()
                };
                (
                    None,
                    Some(CollectionGap {
                        cluster: Some(name.to_owned()),
                        action: Some("eks:DescribeAddon".to_owned()),
                        message,
                    }),
                )
            }
        }
    }

    async fn vpc_of_subnets(&self, subnets: &[String]) -> Result<Option<String>, ApiFailure> {
        if subnets.is_empty() {
            return Ok(None);
        }
        let pages = paginate!(
            self,
            "ec2:DescribeSubnets",
            self.ec2
                .describe_subnets()
                .filters(filter("subnet-id", subnets.iter().cloned())),
            subnets,
            convert::subnet
        );
        Ok(pages.complete()?.into_iter().next().map(|s| s.vpc_id))
    }
}
