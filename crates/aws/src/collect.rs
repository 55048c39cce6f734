//! Live collection: the snapshot the offline reader accepts, read from the EC2 and EKS APIs.
//!
//! The collector reads exactly what `podreach audit --snapshot` needs and no more, because the
//! EC2 request budget of the account is shared with the VPC CNI's IP management on every node:
//! - EKS: ListClusters (unless names are given), DescribeCluster and DescribeAddon `vpc-cni`
//!   per cluster.
//! - Per cluster VPC, each filtered by `vpc-id` and paginated with the largest page the API
//!   allows: DescribeRouteTables, DescribeNetworkInterfaces (every ENI of the VPC: node, trunk,
//!   branch and peer-facing ENIs), DescribeInstances (running and pending instances of the VPC;
//!   the model picks the nodes by their EKS, Karpenter and Kubernetes cluster tags, so one query
//!   serves every tagging scheme), then DescribeVpcPeeringConnections for the peering connections
//!   the route tables use (by id, one call; none without such routes).
//! - DescribeTransitGatewayVpcAttachments for the transit gateways the route tables use, which
//!   returns the cluster VPC's attachments and the far VPCs' in one query, and
//!   DescribeTransitGateways for the same gateways (whether they pass security-group references,
//!   docs/datapath.md §5.7).
//! - The route tables of those transit gateways (`tgw_routes.rs`), read in the gateway owner's
//!   account: DescribeTransitGatewayRouteTables once, each table's associations and
//!   propagations, and SearchTransitGatewayRoutes only for the prefixes that matter: the
//!   destinations before the far side is read (their routes say which VPCs behind a hub are on a
//!   path), the cluster VPCs' CIDRs after it; at most 2 + 32 calls per table.
//! - Far VPCs in other accounts or Regions are read there (`members.rs`).
//! - The cluster VPCs and the far VPCs (peers, VPCs behind the transit gateways) together:
//!   DescribeVpcs and DescribeSubnets filtered by all their ids at once, and DescribeRouteTables
//!   for the far ones. A far VPC the account cannot read becomes a gap saying its return path
//!   was not checked.
//! - The filters of both sides, for the cluster VPCs and the far VPCs together, one query each:
//!   DescribeSecurityGroups and DescribeNetworkAcls, and DescribeNetworkInterfaces of the far
//!   VPCs (so each destination address has its security groups). A filter that cannot be read
//!   stays out of the snapshot (the analysis names it as an assumption) and a gap says so.
//!
//! So a full audit costs ceil(ENIs/1000) + ceil(instances/1000) + ceil(far ENIs/1000) + about
//! a dozen calls, however many subnets, route tables, groups, ACLs or clusters there are.
//! - GetManagedPrefixListEntries for each managed prefix list a collected route leads to (common
//!   with transit gateways), so those routes become destinations like any other, and for each
//!   list a security group rule names.
//!
//! Clusters sharing a VPC share one collection of it. Every page waits for one of a bounded
//! number of permits, and the SDK's standard retry (exponential backoff with jitter) absorbs
//! throttling. A call that still fails becomes a gap of the clusters it concerns, and a cluster
//! whose own VPC inputs are incomplete is marked so it gets no verdicts; what was collected is
//! kept. The result is the typed AWS CLI documents an offline snapshot is read into
//! ([`Collection::documents`]), handed to the model as they are: a live audit and an offline
//! audit of the written snapshot ([`Collection::source_files`]) are the same computation from
//! the `Model` on, and nothing is serialised only to be parsed again.
//!
//! The code follows the phases, one file each: `scope.rs` turns an event's objects into
//! clusters or VPCs; `eks.rs` describes the clusters in scope and places their documents;
//! `vpc.rs` reads each cluster VPC and gathers every EC2 object for writing; `far.rs` reads the
//! far side with the filters of both sides; `prefix_lists.rs` the managed prefix lists;
//! `nodes.rs` the node-only collection of an ENI or instance event. `collector.rs` holds what
//! every phase shares (the clients, the permits, the call counter), `pages.rs` the paging and
//! `collection.rs` what comes out; this file only sequences the phases of a full collection.
//! Where each document goes is [`crate::layout`]'s to say, and nothing here knows the cached
//! context: [`crate::context`] is built from a [`Collection`], not the other way round.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use podreach_core::raw::{self, CollectionGap, CollectionNotes};
use podreach_core::snapshot::LoadedDocument;
use tokio::task::JoinSet;

use crate::error::{ApiFailure, CollectError};

mod collection;
mod collector;
mod eks;
mod far;
pub(crate) mod members;
mod nodes;
mod pages;
mod prefix_lists;
mod scope;
mod tgw_routes;
mod vpc;

pub use self::collection::{ClusterListing, Collection};
pub use self::collector::{Collector, CollectorSettings};
pub use self::eks::kubernetes_documents;
pub use self::members::MemberRole;
pub use self::scope::Scope;
pub use crate::layout::NOTES_FILE;

use self::eks::DescribedCluster;

/// The capability to collect a snapshot; the live implementation is [`Collector`].
pub trait Collect {
    fn collect(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Collection, CollectError>> + Send;

    /// Reads a cluster's Kubernetes API ([`crate::kube`]); `None` when this collector does not
    /// read it (switched off, or a test double).
    fn read_kubernetes(
        &self,
        _cluster: &raw::Cluster,
        _reach: &crate::kube::Reach,
    ) -> impl Future<Output = Option<crate::kube::ClusterRead>> + Send {
        async { None }
    }

    /// Only the nodes an ENI or instance event names: their ENIs and instances, and their
    /// cluster (by tags), for an audit of those nodes against the cluster's cached context.
    /// `None` when that cannot be done (an ENI or instance that no longer exists, no cluster, or
    /// a collector that cannot): the caller then audits the whole cluster.
    fn collect_nodes(
        &self,
        _enis: &[String],
        _instances: &[String],
    ) -> impl Future<Output = Result<Option<Collection>, CollectError>> + Send {
        async { Ok(None) }
    }

    /// The named ENIs as one `DescribeNetworkInterfaces` call sees them, to tell a node's ENI
    /// from someone else's ([`crate::owners`]); the ENIs that no longer exist are absent. `None`
    /// when this collector cannot look them up (a test double): the scope is then kept whole.
    fn look_up_enis(
        &self,
        _ids: &[String],
    ) -> impl Future<Output = Result<Option<Vec<raw::NetworkInterface>>, CollectError>> + Send {
        async { Ok(None) }
    }
}

impl Collect for Collector {
    async fn look_up_enis(
        &self,
        ids: &[String],
    ) -> Result<Option<Vec<raw::NetworkInterface>>, CollectError> {
        self.enis_by_id(ids).await.map(Some)
    }

    async fn read_kubernetes(
        &self,
        cluster: &raw::Cluster,
        reach: &crate::kube::Reach,
    ) -> Option<crate::kube::ClusterRead> {
        if !self.reads_kubernetes() {
            return None;
        }
        Some(self.kube.read(cluster, reach, &self.stats).await)
    }

    async fn collect_nodes(
        &self,
        enis: &[String],
        instances: &[String],
    ) -> Result<Option<Collection>, CollectError> {
        self.nodes(enis, instances).await
    }

    async fn collect(&self, scope: &Scope) -> Result<Collection, CollectError> {
        if let Some(members) = &self.members {
            members.forget().await;
        }
        let started = Instant::now();
        let before = self.stats.reading();
        let mut notes = CollectionNotes {
            schema: raw::COLLECTION_SCHEMA.to_owned(),
            region: self.region.clone(),
            ..CollectionNotes::default()
        };
        let mut documents = Vec::new();

        let InScope {
            clusters,
            listed_clusters,
            missing_clusters,
        } = self.clusters_in_scope(scope, &mut notes).await?;
        let by_vpc = by_vpc(&clusters);
        // The clusters' Kubernetes APIs, while EC2 is read.
        let kube_reads = self.spawn_kubernetes_reads(&clusters);
        let mut inputs = self.cluster_vpcs(&by_vpc, &mut notes).await;
        // The routes' prefix lists, then the transit gateways' routes of the destinations,
        // which say which VPCs behind them are on a path; then the far side, the groups'
        // prefix lists, and the gateways' routes back.
        self.prefix_list_entries(&mut inputs, &by_vpc, &mut notes)
            .await;
        let tgw = self.tgw_route_tables(&inputs, &by_vpc, &mut notes).await;
        let routed = tgw.as_ref().map(|t| t.routed_vpcs()).unwrap_or_default();
        self.vpcs_and_far_side(&mut inputs, &by_vpc, &routed, &mut notes)
            .await;
        self.prefix_list_entries(&mut inputs, &by_vpc, &mut notes)
            .await;
        if let Some(tgw) = tgw {
            self.tgw_return_routes(tgw, &mut inputs, &mut notes).await;
        }

        for c in &clusters {
            c.write(&mut documents);
        }
        join_kubernetes_reads(kube_reads, &mut documents, &mut notes).await;
        if !clusters.is_empty() {
            inputs.write(&mut documents);
        }
        settle(&mut notes);
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        notes.stats = self.stats.reading().since(&before, elapsed);
        let cluster_names = clusters.iter().map(|c| c.cluster.name.clone()).collect();
        Ok(Collection {
            documents,
            notes,
            cluster_names,
            listed_clusters,
            missing_clusters,
        })
    }
}

/// The clusters a scope covers, described, and what the lifecycle learns on the way.
struct InScope {
    clusters: Vec<DescribedCluster>,
    /// Every cluster of the region, for [`Scope::AllClusters`].
    listed_clusters: Option<Vec<String>>,
    /// Named clusters that EKS says do not exist.
    missing_clusters: Vec<String>,
}

impl Collector {
    /// Resolves the scope, lists the clusters when it names VPCs or everything, and describes
    /// them, keeping those it covers.
    async fn clusters_in_scope(
        &self,
        scope: &Scope,
        notes: &mut CollectionNotes,
    ) -> Result<InScope, CollectError> {
        let resolved = self.resolve(scope, notes).await?;
        let names = if resolved.everything || !resolved.vpcs.is_empty() {
            self.list_clusters()
                .await
                .map_err(CollectError::ListClusters)?
        } else {
            resolved.names.iter().cloned().collect()
        };
        let listed_clusters = (*scope == Scope::AllClusters).then(|| names.clone());
        let mut missing_clusters = Vec::new();
        let clusters = self
            .describe_clusters(&names, Arc::new(resolved), notes, &mut missing_clusters)
            .await;
        Ok(InScope {
            clusters,
            listed_clusters,
            missing_clusters,
        })
    }

    /// One task per cluster reading its Kubernetes API, when this collector reads them.
    fn spawn_kubernetes_reads(
        &self,
        clusters: &[DescribedCluster],
    ) -> JoinSet<(String, crate::kube::ClusterRead)> {
        let mut kube_reads = JoinSet::new();
        if self.reads_kubernetes() {
            for c in clusters {
                let this = self.clone();
                let cluster = c.cluster.clone();
                kube_reads.spawn(async move {
                    let read = this
                        .kube
                        .read(&cluster, &crate::kube::Reach::Cluster, &this.stats)
                        .await;
                    (cluster.name, read)
                });
            }
        }
        kube_reads
    }
}

/// Clusters by VPC: each VPC is collected once however many clusters share it.
fn by_vpc(clusters: &[DescribedCluster]) -> BTreeMap<String, Vec<String>> {
    let mut by_vpc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in clusters {
        by_vpc
            .entry(c.cluster.resources_vpc_config.vpc_id.clone())
            .or_default()
            .push(c.cluster.name.clone());
    }
    by_vpc
}

/// The clusters' Kubernetes documents, as their reads finish.
async fn join_kubernetes_reads(
    mut reads: JoinSet<(String, crate::kube::ClusterRead)>,
    documents: &mut Vec<LoadedDocument>,
    notes: &mut CollectionNotes,
) {
    while let Some(joined) = reads.join_next().await {
        let Ok((name, read)) = joined else {
            notes.gaps.push(CollectionGap {
                cluster: None,
                action: None,
                message: "a Kubernetes API read stopped unexpectedly".to_owned(),
            });
            continue;
        };
        kubernetes_documents(&name, read, documents, notes);
    }
}

/// Tasks finish in any order; the note (and so the report) must not depend on it.
fn settle(notes: &mut CollectionNotes) {
    notes
        .incomplete_clusters
        .sort_by(|a, b| a.name.cmp(&b.name));
    notes.incomplete_clusters.dedup_by(|a, b| a.name == b.name);
    notes.gaps.sort_by(|a, b| {
        (&a.cluster, &a.action, &a.message).cmp(&(&b.cluster, &b.action, &b.message))
    });
    notes.gaps.dedup();
    notes
        .blind_spots
        .sort_by(|a, b| (&a.cluster, &a.input).cmp(&(&b.cluster, &b.input)));
}

/// A failed call as a gap of `cluster` (of no cluster: `None`).
fn gap(cluster: Option<&String>, failure: &ApiFailure) -> CollectionGap {
    CollectionGap {
        cluster: cluster.cloned(),
        action: Some(failure.action.to_owned()),
        message: failure.to_string(),
    }
}
