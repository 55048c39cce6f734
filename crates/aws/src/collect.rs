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
//!   returns the cluster VPC's attachments and the far VPCs' in one query.
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

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_ec2::types::Filter;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use podreach_core::model::{ENI_CLUSTER_TAG, node_clusters};
use podreach_core::raw::{self, CollectionGap, CollectionNotes, IncompleteCluster};
use podreach_core::snapshot::{Document, LoadedDocument};
use podreach_core::{AnalyzeOptions, Model, Overrides, Report, SourceFile, snapshot};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::convert::{self, MissingField};
use crate::error::{ApiFailure, CollectError, FailureKind};
use crate::stats::CallStats;

/// Which clusters to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every cluster of the region (`eks:ListClusters`).
    AllClusters,
    /// The named clusters.
    Clusters(Vec<String>),
    /// The clusters in these VPCs (a CIDR or peering change names the VPCs).
    Vpcs(Vec<String>),
    /// The clusters of these ENIs: their cluster tag, else their instance's tags.
    Enis(Vec<String>),
    /// The clusters these instances are nodes of, by their cluster tags.
    Instances(Vec<String>),
    /// The clusters in the VPCs of these route tables.
    RouteTables(Vec<String>),
    /// The clusters in the VPCs on either side of these peering connections.
    Peerings(Vec<String>),
    /// Everything any of these scopes covers (a batch of events, audited once).
    Union(Vec<Scope>),
}

impl Scope {
    /// The union of `scopes`, flattened; `AllClusters` absorbs everything.
    pub fn union(scopes: Vec<Scope>) -> Scope {
        let mut flat = Vec::new();
        for scope in scopes {
            match scope {
                Scope::AllClusters => return Scope::AllClusters,
                Scope::Union(inner) => match Scope::union(inner) {
                    Scope::AllClusters => return Scope::AllClusters,
                    Scope::Union(inner) => flat.extend(inner),
                    other => flat.push(other),
                },
                other => flat.push(other),
            }
        }
        let mut unique: Vec<Scope> = Vec::with_capacity(flat.len());
        for scope in flat {
            if !unique.contains(&scope) {
                unique.push(scope);
            }
        }
        let mut flat = unique;
        match flat.len() {
            1 => flat.remove(0),
            _ => Scope::Union(flat),
        }
    }
}

/// A scope resolved into clusters: by name, or every cluster of some VPCs.
#[derive(Debug, Clone, Default)]
struct Resolved {
    names: BTreeSet<String>,
    vpcs: BTreeSet<String>,
    /// No selection could be made (e.g. a deleted ENI): audit every cluster.
    everything: bool,
}

impl Resolved {
    fn absorb(&mut self, other: Resolved) {
        self.names.extend(other.names);
        self.vpcs.extend(other.vpcs);
        self.everything |= other.everything;
    }

    fn covers(&self, cluster: &raw::Cluster) -> bool {
        self.everything
            || self.names.contains(&cluster.name)
            || self.vpcs.contains(&cluster.resources_vpc_config.vpc_id)
    }
}

/// Limits that keep the collection polite to the shared EC2 budget.
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// API calls in flight at once.
    pub max_concurrency: usize,
    /// Attempts per call, including the first (SDK standard retry mode).
    pub max_attempts: u32,
    /// First backoff of the standard retry mode; it grows exponentially with jitter.
    pub initial_backoff: Duration,
    /// Time for one call including its retries.
    pub operation_timeout: Duration,
    /// How the clusters' Kubernetes APIs are read ([`crate::kube`]); the EKS way by default.
    pub kubernetes: crate::kube::KubeMode,
    pub kube: crate::kube::KubeSettings,
    /// Who collects (the remedies of a blind spot differ).
    pub runner: crate::kube::Runner,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        CollectorSettings {
            max_concurrency: 4,
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(60),
            kubernetes: crate::kube::KubeMode::Eks,
            kube: crate::kube::KubeSettings::default(),
            runner: crate::kube::Runner::Cli,
        }
    }
}

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
}

/// What a collection produced: typed AWS CLI documents and podreach's note on gaps and cost.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The documents, each with the path `snapshot --live` writes it to.
    pub documents: Vec<LoadedDocument>,
    pub notes: CollectionNotes,
    /// The clusters described (their files are under `clusters/<name>/`).
    pub cluster_names: Vec<String>,
    /// Every cluster of the region, when the collection listed them (`eks:ListClusters` for
    /// [`Scope::AllClusters`]): what tells the lifecycle that a cluster was deleted.
    pub listed_clusters: Option<Vec<String>>,
    /// Clusters the scope named that EKS says do not exist (`eks:DescribeCluster` answered
    /// `ResourceNotFoundException`): deleted, as far as the lifecycle is concerned.
    pub missing_clusters: Vec<String>,
}

/// The file name of the collection note inside a snapshot.
pub const NOTES_FILE: &str = "podreach-collection.json";

impl Collection {
    /// The collection note as a document of the snapshot.
    pub fn notes_document(&self) -> LoadedDocument {
        LoadedDocument {
            path: NOTES_FILE.to_owned(),
            document: Document::Collection(raw::PodreachCollection {
                podreach_collection: self.notes.clone(),
            }),
        }
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
    pub fn model(&self, mut extra: snapshot::Loaded, overrides: &Overrides) -> Model {
        let notes = self.notes_document();
        // A kubectl dump given with the collection replaces the document of the same kind that
        // was read from that cluster's API (`--with DIR` overrides per document).
        let replaced: Vec<(String, std::mem::Discriminant<Document>)> = extra
            .documents
            .iter()
            .filter_map(|d| {
                let cluster = self.cluster_of_extra(&d.path)?;
                Some((
                    format!("clusters/{cluster}/"),
                    std::mem::discriminant(&d.document),
                ))
            })
            .collect();
        let documents = self
            .documents
            .iter()
            .filter(|d| {
                !replaced.iter().any(|(dir, kind)| {
                    d.path.starts_with(dir.as_str()) && *kind == std::mem::discriminant(&d.document)
                })
            })
            .chain([&notes])
            .chain(&extra.documents);
        let mut model = Model::build(documents, overrides);
        model.add_input_problems(extra.problems());
        model
    }

    /// The cluster an extra file (placed under `clusters/`) belongs to: its subdirectory, or the
    /// only cluster when it lies directly in `clusters/`.
    fn cluster_of_extra(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix("clusters/")?;
        match rest.split_once('/') {
            Some((cluster, _)) => Some(cluster.to_owned()),
            None => match self.cluster_names.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
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

/// The live collector: EC2 and EKS clients built once, a call counter and the permits.
#[derive(Debug, Clone)]
pub struct Collector {
    ec2: aws_sdk_ec2::Client,
    eks: aws_sdk_eks::Client,
    stats: CallStats,
    permits: Arc<Semaphore>,
    region: Option<String>,
    kube: crate::kube::KubeAccess,
}

impl Collector {
    /// Clients from a loaded SDK configuration (credential chain, region, endpoint).
    pub fn new(config: &SdkConfig, settings: &CollectorSettings) -> Self {
        Self::from_builders(
            aws_sdk_ec2::config::Builder::from(config),
            aws_sdk_eks::config::Builder::from(config),
            settings,
        )
        .with_kubernetes(crate::kube::KubeAccess::from_config(
            config,
            settings.kubernetes.clone(),
            settings.runner,
            settings.kube.clone(),
        ))
    }

    /// Reads the clusters' Kubernetes APIs with `access` (the collector of
    /// [`Collector::from_builders`] reads none).
    pub fn with_kubernetes(mut self, access: crate::kube::KubeAccess) -> Self {
        self.kube = access;
        self
    }

    /// `true` when the collection reads the clusters' Kubernetes APIs.
    pub fn reads_kubernetes(&self) -> bool {
        self.kube.mode != crate::kube::KubeMode::Off
    }

    /// Clients from service config builders; tests add mock interceptors to them.
    pub fn from_builders(
        ec2: aws_sdk_ec2::config::Builder,
        eks: aws_sdk_eks::config::Builder,
        settings: &CollectorSettings,
    ) -> Self {
        let stats = CallStats::new();
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts.max(1))
            .with_initial_backoff(settings.initial_backoff);
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(settings.operation_timeout)
            .build();
        let ec2 = ec2
            .interceptor(stats.clone())
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone())
            .build();
        let eks = eks
            .interceptor(stats.clone())
            .retry_config(retry)
            .timeout_config(timeouts)
            .build();
        let region = ec2.region().map(ToString::to_string);
        Collector {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            eks: aws_sdk_eks::Client::from_conf(eks),
            stats,
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            region,
            kube: crate::kube::KubeAccess::off(),
        }
    }

    /// The call counter, for callers that want the cost of something else they do.
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    async fn permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so `None` cannot happen; it is not worth a panic.
        self.permits.acquire().await.ok()
    }
}

impl Collect for Collector {
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
        let started = Instant::now();
        let before = self.stats.reading();
        let mut notes = CollectionNotes {
            schema: raw::COLLECTION_SCHEMA.to_owned(),
            region: self.region.clone(),
            ..CollectionNotes::default()
        };
        let mut documents = Vec::new();

        let resolved = self.resolve(scope, &mut notes).await?;
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
            .describe_clusters(
                &names,
                Arc::new(resolved),
                &mut notes,
                &mut missing_clusters,
            )
            .await;

        // Clusters by VPC: each VPC is collected once however many clusters share it.
        let mut by_vpc: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in &clusters {
            by_vpc
                .entry(c.cluster.resources_vpc_config.vpc_id.clone())
                .or_default()
                .push(c.cluster.name.clone());
        }
        // The clusters' Kubernetes APIs, while EC2 is read.
        let mut kube_reads = JoinSet::new();
        if self.reads_kubernetes() {
            for c in &clusters {
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
        let mut set = JoinSet::new();
        for vpc in by_vpc.keys() {
            let this = self.clone();
            let vpc = vpc.clone();
            set.spawn(async move { this.vpc_inputs(&vpc).await });
        }
        let mut inputs = Ec2Inputs::default();
        while let Some(joined) = set.join_next().await {
            let Ok(vpc) = joined else {
                notes.gaps.push(CollectionGap {
                    cluster: None,
                    action: None,
                    message: "a VPC collection task stopped unexpectedly".to_owned(),
                });
                continue;
            };
            let names = by_vpc.get(&vpc.vpc_id).cloned().unwrap_or_default();
            if !vpc.failures.is_empty() {
                let reason = vpc
                    .failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                for name in &names {
                    notes.incomplete_clusters.push(IncompleteCluster {
                        name: name.clone(),
                        reason: format!("the inputs of {} are incomplete: {reason}", vpc.vpc_id),
                    });
                }
            }
            for failure in &vpc.failures {
                for name in &names {
                    notes.gaps.push(gap(Some(name), failure));
                }
            }
            inputs.absorb(vpc, &names, &mut notes);
        }

        self.vpcs_and_far_side(&mut inputs, &by_vpc, &mut notes)
            .await;
        self.prefix_list_entries(&mut inputs, &by_vpc, &mut notes)
            .await;

        for c in &clusters {
            let name = &c.cluster.name;
            documents.push(document(
                &format!("clusters/{name}/cluster.json"),
                Document::Cluster(raw::DescribeCluster {
                    cluster: c.cluster.clone(),
                }),
            ));
            if let Some(addon) = &c.addon {
                documents.push(document(
                    &format!("clusters/{name}/addon.json"),
                    Document::Addon(raw::DescribeAddon {
                        addon: addon.clone(),
                    }),
                ));
            }
        }
        while let Some(joined) = kube_reads.join_next().await {
            let Ok((name, read)) = joined else {
                notes.gaps.push(CollectionGap {
                    cluster: None,
                    action: None,
                    message: "a Kubernetes API read stopped unexpectedly".to_owned(),
                });
                continue;
            };
            kubernetes_documents(&name, read, &mut documents, &mut notes);
        }
        if !clusters.is_empty() {
            inputs.write(&mut documents);
        }
        // Tasks finish in any order; the note (and so the report) must not depend on it.
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
    let path = |file: &str| format!("clusters/{cluster}/{file}");
    if let Some(daemonset) = read.daemonset {
        documents.push(document(
            &path("aws-node.json"),
            Document::AwsNode(daemonset),
        ));
    }
    if let Some(pods) = read.pods {
        documents.push(document(&path("pods.json"), Document::Pods(pods)));
    }
    if let Some(nodes) = read.nodes {
        documents.push(document(&path("nodes.json"), Document::Nodes(nodes)));
    }
    if let Some(eniconfigs) = read.eniconfigs {
        documents.push(document(
            &path("eniconfigs.json"),
            Document::EniConfigs(eniconfigs),
        ));
    }
    for note in read.notes {
        tracing::info!(cluster, %note, "kubernetes");
    }
    notes.blind_spots.extend(read.blind_spots);
}

fn document(path: &str, document: Document) -> LoadedDocument {
    LoadedDocument {
        path: path.to_owned(),
        document,
    }
}

fn gap(cluster: Option<&String>, failure: &ApiFailure) -> CollectionGap {
    CollectionGap {
        cluster: cluster.cloned(),
        action: Some(failure.action.to_owned()),
        message: failure.to_string(),
    }
}

/// A described cluster and its `vpc-cni` add-on, when installed.
#[derive(Debug, Clone)]
struct DescribedCluster {
    cluster: raw::Cluster,
    addon: Option<raw::Addon>,
}

/// One cluster VPC's answers, and the calls that failed.
#[derive(Debug, Default)]
struct VpcInputs {
    vpc_id: String,
    route_tables: Vec<raw::RouteTable>,
    enis: Vec<raw::NetworkInterface>,
    reservations: Vec<raw::Reservation>,
    peerings: Vec<raw::VpcPeeringConnection>,
    /// `None` when no route uses a transit gateway (nothing was asked).
    tgw_attachments: Option<Vec<raw::TransitGatewayVpcAttachment>>,
    failures: Vec<ApiFailure>,
    missing: Vec<MissingField>,
}

/// Every EC2 object collected, deduplicated by id, ready to write as AWS CLI files.
#[derive(Debug, Default)]
struct Ec2Inputs {
    vpcs: BTreeMap<String, raw::Vpc>,
    subnets: BTreeMap<String, raw::Subnet>,
    route_tables: BTreeMap<String, raw::RouteTable>,
    enis: BTreeMap<String, raw::NetworkInterface>,
    reservations: Vec<raw::Reservation>,
    peerings: BTreeMap<String, raw::VpcPeeringConnection>,
    tgw_attachments: Option<BTreeMap<String, raw::TransitGatewayVpcAttachment>>,
    /// Entries of the managed prefix lists the routes and security group rules use, by list id.
    prefix_lists: BTreeMap<String, Vec<raw::PrefixListEntry>>,
    /// Security groups and network ACLs of the cluster and far VPCs; `None` when they could
    /// not be read (the analysis then names them as assumptions, and a gap says why).
    security_groups: Option<BTreeMap<String, raw::SecurityGroup>>,
    network_acls: Option<BTreeMap<String, raw::NetworkAcl>>,
    /// The far VPCs' ENIs, written to their own file so a cluster's cached context keeps them
    /// (the context drops the nodes' ENIs, not these).
    far_enis: BTreeMap<String, raw::NetworkInterface>,
    /// Cluster VPCs; the far side is everything the routes lead to beyond them.
    cluster_vpcs: BTreeSet<String>,
}

impl Ec2Inputs {
    fn absorb(&mut self, vpc: VpcInputs, clusters: &[String], notes: &mut CollectionNotes) {
        for missing in &vpc.missing {
            for name in clusters {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: None,
                    message: missing.to_string(),
                });
            }
        }
        self.cluster_vpcs.insert(vpc.vpc_id);
        self.add_vpcs(Vec::new(), Vec::new(), vpc.route_tables);
        self.enis.extend(
            vpc.enis
                .into_iter()
                .map(|e| (e.network_interface_id.clone(), e)),
        );
        self.reservations.extend(vpc.reservations);
        self.peerings.extend(
            vpc.peerings
                .into_iter()
                .map(|p| (p.vpc_peering_connection_id.clone(), p)),
        );
        if let Some(attachments) = vpc.tgw_attachments {
            self.tgw_attachments
                .get_or_insert_with(BTreeMap::new)
                .extend(
                    attachments
                        .into_iter()
                        .map(|a| (a.transit_gateway_attachment_id.clone(), a)),
                );
        }
    }

    fn add_vpcs(
        &mut self,
        vpcs: Vec<raw::Vpc>,
        subnets: Vec<raw::Subnet>,
        route_tables: Vec<raw::RouteTable>,
    ) {
        self.vpcs
            .extend(vpcs.into_iter().map(|v| (v.vpc_id.clone(), v)));
        self.subnets
            .extend(subnets.into_iter().map(|s| (s.subnet_id.clone(), s)));
        self.route_tables.extend(
            route_tables
                .into_iter()
                .map(|t| (t.route_table_id.clone(), t)),
        );
    }

    fn write(self, documents: &mut Vec<LoadedDocument>) {
        documents.push(document(
            "ec2/vpcs.json",
            Document::Vpcs(raw::DescribeVpcs {
                vpcs: self.vpcs.into_values().collect(),
            }),
        ));
        documents.push(document(
            "ec2/subnets.json",
            Document::Subnets(raw::DescribeSubnets {
                subnets: self.subnets.into_values().collect(),
            }),
        ));
        documents.push(document(
            "ec2/route-tables.json",
            Document::RouteTables(raw::DescribeRouteTables {
                route_tables: self.route_tables.into_values().collect(),
            }),
        ));
        documents.push(document(
            "ec2/network-interfaces.json",
            Document::NetworkInterfaces(raw::DescribeNetworkInterfaces {
                network_interfaces: self.enis.into_values().collect(),
            }),
        ));
        let mut reservations = self.reservations;
        reservations.sort_by(|a, b| a.reservation_id.cmp(&b.reservation_id));
        documents.push(document(
            "ec2/instances.json",
            Document::Instances(raw::DescribeInstances { reservations }),
        ));
        documents.push(document(
            "ec2/vpc-peering-connections.json",
            Document::VpcPeeringConnections(raw::DescribeVpcPeeringConnections {
                vpc_peering_connections: self.peerings.into_values().collect(),
            }),
        ));
        for (id, entries) in self.prefix_lists {
            documents.push(document(
                &format!("ec2/prefix-lists/{id}.json"),
                Document::PrefixListEntries(raw::GetManagedPrefixListEntries {
                    prefix_list_id: Some(id),
                    entries,
                }),
            ));
        }
        if !self.far_enis.is_empty() {
            documents.push(document(
                crate::context::FAR_ENIS_FILE,
                Document::NetworkInterfaces(raw::DescribeNetworkInterfaces {
                    network_interfaces: self.far_enis.into_values().collect(),
                }),
            ));
        }
        if let Some(groups) = self.security_groups {
            documents.push(document(
                "ec2/security-groups.json",
                Document::SecurityGroups(raw::DescribeSecurityGroups {
                    security_groups: groups.into_values().collect(),
                }),
            ));
        }
        if let Some(acls) = self.network_acls {
            documents.push(document(
                "ec2/network-acls.json",
                Document::NetworkAcls(raw::DescribeNetworkAcls {
                    network_acls: acls.into_values().collect(),
                }),
            ));
        }
        if let Some(attachments) = self.tgw_attachments {
            documents.push(document(
                "ec2/transit-gateway-vpc-attachments.json",
                Document::TransitGatewayVpcAttachments(raw::DescribeTransitGatewayVpcAttachments {
                    transit_gateway_vpc_attachments: attachments.into_values().collect(),
                }),
            ));
        }
    }
}

/// Instances that are nodes or about to be: pending and running (a stopped or terminated
/// instance has no pods).
fn live_instances() -> Filter {
    filter(
        "instance-state-name",
        ["pending".to_owned(), "running".to_owned()],
    )
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// Items of a paginated call: what arrived before a failure is kept.
struct Pages<T> {
    items: Vec<T>,
    missing: Vec<MissingField>,
    failure: Option<ApiFailure>,
}

impl<T> Pages<T> {
    /// Every item, or the failure: for lookups where part of an answer is no answer.
    fn complete(self) -> Result<Vec<T>, ApiFailure> {
        match self.failure {
            Some(failure) => Err(failure),
            None => Ok(self.items),
        }
    }
}

/// Drives an SDK paginator, one permit per page, converting each item.
macro_rules! paginate {
    ($self:expr, $action:expr, $request:expr, $items:ident, $convert:expr) => {{
        let mut stream = $request.into_paginator().send();
        let mut pages = Pages {
            items: Vec::new(),
            missing: Vec::new(),
            failure: None,
        };
        loop {
            let page = {
                let _permit = $self.permit().await;
                stream.next().await
            };
            match page {
                None => break,
                Some(Err(error)) => {
                    pages.failure = Some(ApiFailure::from_sdk($action, error));
                    break;
                }
                Some(Ok(page)) => {
                    for item in page.$items() {
                        match $convert(item) {
                            Ok(value) => pages.items.push(value),
                            Err(missing) => pages.missing.push(missing),
                        }
                    }
                }
            }
        }
        pages
    }};
}

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
}

impl Collector {
    /// An ENI event costs three EC2 calls, an instance event two: the named ENIs (for their
    /// instance), then every ENI attached to those instances and the instances themselves,
    /// together. Pending and running instances only, as the full collection.
    async fn nodes(
        &self,
        enis: &[String],
        instances: &[String],
    ) -> Result<Option<Collection>, CollectError> {
        let started = Instant::now();
        let before = self.stats.reading();
        let mut instance_ids: BTreeSet<String> = instances.iter().cloned().collect();
        let mut clusters: BTreeSet<String> = BTreeSet::new();
        if !enis.is_empty() {
            let named = paginate!(
                self,
                "ec2:DescribeNetworkInterfaces",
                self.ec2
                    .describe_network_interfaces()
                    .filters(filter("network-interface-id", enis.iter().cloned())),
                network_interfaces,
                convert::network_interface
            );
            let named = named.complete().map_err(CollectError::Resolve)?;
            if named.len() < enis.len() {
                return Ok(None);
            }
            for eni in &named {
                match eni.attachment.as_ref().and_then(|a| a.instance_id.clone()) {
                    Some(instance) => {
                        instance_ids.insert(instance);
                    }
                    // A detached ENI carries no pods; what it leaves behind is its node's.
                    None => return Ok(None),
                }
                clusters.extend(
                    eni.tag_set
                        .iter()
                        .filter(|t| t.key == ENI_CLUSTER_TAG)
                        .map(|t| t.value.clone()),
                );
            }
        }
        if instance_ids.is_empty() {
            return Ok(None);
        }
        let ids = || instance_ids.iter().cloned();
        let (attached, reservations) = tokio::join!(
            async {
                paginate!(
                    self,
                    "ec2:DescribeNetworkInterfaces",
                    self.ec2
                        .describe_network_interfaces()
                        .filters(filter("attachment.instance-id", ids()))
                        .max_results(1000),
                    network_interfaces,
                    convert::network_interface
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeInstances",
                    self.ec2
                        .describe_instances()
                        .filters(filter("instance-id", ids()))
                        .filters(live_instances())
                        .max_results(1000),
                    reservations,
                    |r| Ok::<_, MissingField>(convert::reservation(r))
                )
            },
        );
        let (
            Pages {
                items: enis,
                missing,
                failure: None,
            },
            Pages {
                items: reservations,
                failure: None,
                ..
            },
        ) = (attached, reservations)
        else {
            // A failed page: the whole-cluster audit will say what failed, with its gaps.
            return Ok(None);
        };
        if !missing.is_empty() {
            return Ok(None);
        }
        let (reservations, missing): (Vec<_>, Vec<_>) = reservations.into_iter().unzip();
        if missing.iter().any(|m: &Vec<MissingField>| !m.is_empty()) {
            return Ok(None);
        }
        for instance in reservations.iter().flat_map(|r| &r.instances) {
            clusters.extend(
                node_clusters(
                    instance
                        .tags
                        .iter()
                        .map(|t| (t.key.as_str(), t.value.as_str())),
                )
                .map(str::to_owned),
            );
        }
        if clusters.is_empty() {
            return Ok(None);
        }
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let notes = CollectionNotes {
            schema: raw::COLLECTION_SCHEMA.to_owned(),
            region: self.region.clone(),
            stats: self.stats.reading().since(&before, elapsed),
            ..CollectionNotes::default()
        };
        Ok(Some(Collection {
            documents: vec![
                document(
                    "ec2/network-interfaces.json",
                    Document::NetworkInterfaces(raw::DescribeNetworkInterfaces {
                        network_interfaces: enis,
                    }),
                ),
                document(
                    "ec2/instances.json",
                    Document::Instances(raw::DescribeInstances { reservations }),
                ),
            ],
            notes,
            cluster_names: clusters.into_iter().collect(),
            listed_clusters: None,
            missing_clusters: Vec::new(),
        }))
    }

    /// Turns an event's objects into clusters or VPCs with the fewest lookups.
    async fn resolve(
        &self,
        scope: &Scope,
        notes: &mut CollectionNotes,
    ) -> Result<Resolved, CollectError> {
        let mut resolved = Resolved::default();
        let lookup = |f: ApiFailure| CollectError::Resolve(f);
        match scope {
            Scope::AllClusters => resolved.everything = true,
            Scope::Union(scopes) => {
                for scope in scopes {
                    resolved.absorb(Box::pin(self.resolve(scope, notes)).await?);
                }
            }
            Scope::Clusters(names) => resolved.names.extend(names.iter().cloned()),
            Scope::Vpcs(vpcs) => resolved.vpcs.extend(vpcs.iter().cloned()),
            Scope::Enis(ids) => {
                let pages = paginate!(
                    self,
                    "ec2:DescribeNetworkInterfaces",
                    self.ec2
                        .describe_network_interfaces()
                        .filters(filter("network-interface-id", ids.iter().cloned())),
                    network_interfaces,
                    |e: &aws_sdk_ec2::types::NetworkInterface| Ok::<_, MissingField>(e.clone())
                );
                let pages = pages.complete().map_err(lookup)?;
                let mut instances = Vec::new();
                for eni in &pages {
                    let named = ec2_tags(eni.tag_set())
                        .find(|(key, _)| *key == ENI_CLUSTER_TAG)
                        .map(|(_, cluster)| cluster);
                    if let Some(name) = named {
                        resolved.names.insert(name.to_owned());
                    } else if let Some(instance) = eni.attachment().and_then(|a| a.instance_id()) {
                        instances.push(instance.to_owned());
                    }
                }
                if pages.len() < ids.len() {
                    notes.gaps.push(CollectionGap {
                        cluster: None,
                        action: Some("ec2:DescribeNetworkInterfaces".to_owned()),
                        message: format!(
                            "ENI(s) {} no longer exist, so their cluster is unknown: every cluster is audited",
                            ids.join(", ")
                        ),
                    });
                    resolved.everything = true;
                }
                if !instances.is_empty() {
                    resolved
                        .absorb(Box::pin(self.resolve(&Scope::Instances(instances), notes)).await?);
                }
            }
            Scope::Instances(ids) => {
                let pages = paginate!(
                    self,
                    "ec2:DescribeInstances",
                    self.ec2
                        .describe_instances()
                        .filters(filter("instance-id", ids.iter().cloned())),
                    reservations,
                    |r: &aws_sdk_ec2::types::Reservation| Ok::<_, MissingField>(r.clone())
                );
                let pages = pages.complete().map_err(lookup)?;
                for instance in pages.iter().flat_map(|r| r.instances()) {
                    resolved
                        .names
                        .extend(node_clusters(ec2_tags(instance.tags())).map(str::to_owned));
                }
            }
            Scope::RouteTables(ids) => {
                let pages = paginate!(
                    self,
                    "ec2:DescribeRouteTables",
                    self.ec2
                        .describe_route_tables()
                        .filters(filter("route-table-id", ids.iter().cloned())),
                    route_tables,
                    |t: &aws_sdk_ec2::types::RouteTable| Ok::<_, MissingField>(
                        t.vpc_id().unwrap_or_default().to_owned()
                    )
                );
                let pages = pages.complete().map_err(lookup)?;
                resolved
                    .vpcs
                    .extend(pages.into_iter().filter(|v| !v.is_empty()));
            }
            Scope::Peerings(ids) => {
                let pages = paginate!(
                    self,
                    "ec2:DescribeVpcPeeringConnections",
                    self.ec2
                        .describe_vpc_peering_connections()
                        .filters(filter("vpc-peering-connection-id", ids.iter().cloned())),
                    vpc_peering_connections,
                    convert::peering
                );
                let pages = pages.complete().map_err(lookup)?;
                for p in pages {
                    resolved.vpcs.extend(p.requester_vpc_info.vpc_id);
                    resolved.vpcs.extend(p.accepter_vpc_info.vpc_id);
                }
            }
        }
        Ok(resolved)
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

    async fn list_clusters(&self) -> Result<Vec<String>, ApiFailure> {
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
    async fn describe_clusters(
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
        if !scope.covers(&cluster) {
            return Ok(None);
        }
        let answer = {
            let _permit = self.permit().await;
            self.eks
                .describe_addon()
                .cluster_name(name)
                .addon_name("vpc-cni")
                .send()
                .await
        };
        let (addon, addon_gap) = match answer {
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
                    return Ok(Some((
                        DescribedCluster {
                            cluster,
                            addon: None,
                        },
                        None,
                    )));
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
        };
        Ok(Some((DescribedCluster { cluster, addon }, addon_gap)))
    }

    /// Every input of one cluster VPC; the independent queries run together.
    async fn vpc_inputs(&self, vpc_id: &str) -> VpcInputs {
        let by_vpc = || filter("vpc-id", [vpc_id.to_owned()]);
        let ec2 = &self.ec2;
        // The VPC itself and its subnets are read with the far side, in one call each for
        // every VPC (see `vpcs_and_far_side`): a full audit costs pages, not objects.
        let (route_tables, enis, instances) = tokio::join!(
            async {
                paginate!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(by_vpc())
                        .max_results(100),
                    route_tables,
                    convert::route_table
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeNetworkInterfaces",
                    ec2.describe_network_interfaces()
                        .filters(by_vpc())
                        .max_results(1000),
                    network_interfaces,
                    convert::network_interface
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeInstances",
                    ec2.describe_instances()
                        .filters(by_vpc())
                        .filters(live_instances())
                        .max_results(1000),
                    reservations,
                    |r| Ok::<_, MissingField>(convert::reservation(r))
                )
            },
        );
        let mut out = VpcInputs {
            vpc_id: vpc_id.to_owned(),
            ..VpcInputs::default()
        };
        let mut take = |failure: Option<ApiFailure>, missing: Vec<MissingField>| {
            out.failures.extend(failure);
            out.missing.extend(missing);
        };
        take(route_tables.failure, route_tables.missing);
        take(enis.failure, enis.missing);
        let (reservations, missing): (Vec<_>, Vec<_>) = instances.items.into_iter().unzip();
        take(instances.failure, missing.into_iter().flatten().collect());
        out.enis = enis.items;
        out.reservations = reservations;

        // The peering connections and transit gateways the VPC's routes use, looked up together:
        // one call each by id (none without such routes), where listing each side of every
        // peering of the VPC took two.
        let targets = |id: fn(&raw::Route) -> Option<&String>| -> BTreeSet<String> {
            route_tables
                .items
                .iter()
                .flat_map(|t| &t.routes)
                .filter_map(|r| id(r).cloned())
                .collect()
        };
        let pcxs = targets(|r| r.vpc_peering_connection_id.as_ref());
        let tgws = targets(|r| r.transit_gateway_id.as_ref());
        let (peerings, attachments) = tokio::join!(
            async {
                if pcxs.is_empty() {
                    return None;
                }
                Some(paginate!(
                    self,
                    "ec2:DescribeVpcPeeringConnections",
                    ec2.describe_vpc_peering_connections()
                        .filters(filter("vpc-peering-connection-id", pcxs))
                        .max_results(1000),
                    vpc_peering_connections,
                    convert::peering
                ))
            },
            async {
                if tgws.is_empty() {
                    return None;
                }
                Some(paginate!(
                    self,
                    "ec2:DescribeTransitGatewayVpcAttachments",
                    ec2.describe_transit_gateway_vpc_attachments()
                        .filters(filter("transit-gateway-id", tgws))
                        .max_results(1000),
                    transit_gateway_vpc_attachments,
                    convert::tgw_attachment
                ))
            },
        );
        out.route_tables = route_tables.items;
        if let Some(peerings) = peerings {
            out.failures.extend(peerings.failure);
            out.missing.extend(peerings.missing);
            out.peerings = peerings.items;
        }
        if let Some(attachments) = attachments {
            out.failures.extend(attachments.failure);
            out.missing.extend(attachments.missing);
            out.tgw_attachments = Some(attachments.items);
        }
        out
    }

    /// The cluster VPCs and the VPCs beyond them (peers, VPCs behind transit gateways) in one
    /// batch: DescribeVpcs and DescribeSubnets for all of them at once, DescribeRouteTables for
    /// the far ones (the cluster VPCs' tables were read first, to find the far side).
    async fn vpcs_and_far_side(
        &self,
        inputs: &mut Ec2Inputs,
        by_vpc: &BTreeMap<String, Vec<String>>,
        notes: &mut CollectionNotes,
    ) {
        // Far VPC → the clusters whose routes lead there, for attributing gaps.
        let mut far: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let clusters_of = |vpc: &str| by_vpc.get(vpc).cloned().unwrap_or_default();
        for p in inputs.peerings.values() {
            let sides = [&p.requester_vpc_info, &p.accepter_vpc_info];
            for (near, other) in [(sides[0], sides[1]), (sides[1], sides[0])] {
                let (Some(near_vpc), Some(other_vpc)) = (&near.vpc_id, &other.vpc_id) else {
                    continue;
                };
                if !inputs.cluster_vpcs.contains(near_vpc)
                    || inputs.cluster_vpcs.contains(other_vpc)
                {
                    continue;
                }
                let other_region = other.region.as_deref();
                if let (Some(theirs), Some(ours)) = (other_region, self.region.as_deref())
                    && theirs != ours
                {
                    for name in clusters_of(near_vpc) {
                        notes.gaps.push(CollectionGap {
                            cluster: Some(name),
                            action: None,
                            message: format!(
                                "peer VPC {other_vpc} of {} is in {theirs}: its return path was not \
                                 checked (podreach reads one region at a time)",
                                p.vpc_peering_connection_id
                            ),
                        });
                    }
                    continue;
                }
                far.entry(other_vpc.clone())
                    .or_default()
                    .extend(clusters_of(near_vpc));
            }
        }
        if let Some(attachments) = &inputs.tgw_attachments {
            let near: BTreeMap<&str, BTreeSet<&str>> = attachments
                .values()
                .filter(|a| inputs.cluster_vpcs.contains(&a.vpc_id))
                .fold(BTreeMap::new(), |mut m, a| {
                    m.entry(a.transit_gateway_id.as_str())
                        .or_default()
                        .insert(a.vpc_id.as_str());
                    m
                });
            for a in attachments.values() {
                if inputs.cluster_vpcs.contains(&a.vpc_id) {
                    continue;
                }
                let entry = far.entry(a.vpc_id.clone()).or_default();
                for vpc in near
                    .get(a.transit_gateway_id.as_str())
                    .into_iter()
                    .flatten()
                {
                    entry.extend(clusters_of(vpc));
                }
            }
        }
        let all = || {
            filter(
                "vpc-id",
                inputs.cluster_vpcs.iter().chain(far.keys()).cloned(),
            )
        };
        let ec2 = &self.ec2;
        let empty = || Pages {
            items: Vec::new(),
            missing: Vec::new(),
            failure: None,
        };
        let (vpcs, subnets, route_tables, groups, acls, far_enis) = tokio::join!(
            async {
                paginate!(
                    self,
                    "ec2:DescribeVpcs",
                    ec2.describe_vpcs().filters(all()).max_results(1000),
                    vpcs,
                    convert::vpc
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeSubnets",
                    ec2.describe_subnets().filters(all()).max_results(1000),
                    subnets,
                    convert::subnet
                )
            },
            async {
                if far.is_empty() {
                    return Pages {
                        items: Vec::new(),
                        missing: Vec::new(),
                        failure: None,
                    };
                }
                paginate!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(filter("vpc-id", far.keys().cloned()))
                        .max_results(100),
                    route_tables,
                    convert::route_table
                )
            },
            // The filters on both sides: one query each for every VPC at once.
            async {
                paginate!(
                    self,
                    "ec2:DescribeSecurityGroups",
                    ec2.describe_security_groups()
                        .filters(all())
                        .max_results(1000),
                    security_groups,
                    convert::security_group
                )
            },
            async {
                paginate!(
                    self,
                    "ec2:DescribeNetworkAcls",
                    ec2.describe_network_acls().filters(all()).max_results(1000),
                    network_acls,
                    convert::network_acl
                )
            },
            // The far VPCs' ENIs: each destination address's security groups.
            async {
                if far.is_empty() {
                    return empty();
                }
                paginate!(
                    self,
                    "ec2:DescribeNetworkInterfaces",
                    ec2.describe_network_interfaces()
                        .filters(filter("vpc-id", far.keys().cloned()))
                        .max_results(1000),
                    network_interfaces,
                    convert::network_interface
                )
            },
        );
        // Security groups and network ACLs that could not be read stay out of the snapshot
        // (an assumption of every verdict), and the gap says which call failed.
        for (failure, what) in [
            (&groups.failure, "security groups"),
            (&acls.failure, "network ACLs"),
            (&far_enis.failure, "far-side ENIs (their security groups)"),
        ] {
            if let Some(failure) = failure {
                for name in by_vpc.values().flatten() {
                    notes.gaps.push(CollectionGap {
                        cluster: Some(name.clone()),
                        action: Some(failure.action.to_owned()),
                        message: format!(
                            "the {what} could not be read, so podreach cannot say whether they admit the traffic: {failure}"
                        ),
                    });
                }
            }
        }
        for missing in groups
            .missing
            .iter()
            .chain(&acls.missing)
            .chain(&far_enis.missing)
        {
            for name in by_vpc.values().flatten() {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: None,
                    message: missing.to_string(),
                });
            }
        }
        if groups.failure.is_none() {
            inputs.security_groups = Some(
                groups
                    .items
                    .into_iter()
                    .map(|g| (g.group_id.clone(), g))
                    .collect(),
            );
        }
        if acls.failure.is_none() {
            inputs.network_acls = Some(
                acls.items
                    .into_iter()
                    .map(|a| (a.network_acl_id.clone(), a))
                    .collect(),
            );
        }
        if far_enis.failure.is_none() {
            inputs.far_enis.extend(
                far_enis
                    .items
                    .into_iter()
                    .map(|e| (e.network_interface_id.clone(), e)),
            );
        }
        // Without its own VPC and subnets a cluster cannot be analysed.
        for failure in [&vpcs.failure, &subnets.failure].into_iter().flatten() {
            for (vpc, names) in by_vpc {
                for name in names {
                    notes.incomplete_clusters.push(IncompleteCluster {
                        name: name.clone(),
                        reason: format!("the inputs of {vpc} are incomplete: {failure}"),
                    });
                    notes.gaps.push(gap(Some(name), failure));
                }
            }
        }
        for missing in vpcs.missing.iter().chain(&subnets.missing) {
            for name in by_vpc.values().flatten() {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: None,
                    message: missing.to_string(),
                });
            }
        }
        let every_cluster: BTreeSet<String> = far.values().flatten().cloned().collect();
        for failure in [&vpcs.failure, &subnets.failure, &route_tables.failure]
            .into_iter()
            .flatten()
            .filter(|_| !far.is_empty())
        {
            for name in &every_cluster {
                notes.gaps.push(CollectionGap {
                    cluster: Some(name.clone()),
                    action: Some(failure.action.to_owned()),
                    message: format!(
                        "the far side (peer VPCs, VPCs behind transit gateways) is incomplete, so \
                         return paths may be unknown: {failure}"
                    ),
                });
            }
        }
        let seen: BTreeSet<&str> = route_tables
            .items
            .iter()
            .map(|t| t.vpc_id.as_str())
            .collect();
        if route_tables.failure.is_none() {
            for (vpc, names) in &far {
                if seen.contains(vpc.as_str()) {
                    continue;
                }
                for name in names {
                    notes.gaps.push(CollectionGap {
                        cluster: Some(name.clone()),
                        action: Some("ec2:DescribeRouteTables".to_owned()),
                        message: format!(
                            "the route tables of {vpc} are not readable from this account (another \
                             account, or a deleted VPC): the return path through it was not checked"
                        ),
                    });
                }
            }
        }
        inputs.add_vpcs(vpcs.items, subnets.items, route_tables.items);
    }

    /// The entries of every managed prefix list a collected route leads to, one paginated call
    /// per list. A list that cannot be read leaves its routes as gaps of every cluster.
    async fn prefix_list_entries(
        &self,
        inputs: &mut Ec2Inputs,
        by_vpc: &BTreeMap<String, Vec<String>>,
        notes: &mut CollectionNotes,
    ) {
        // Only lists behind private objects beyond the VPC: a route to an S3 gateway endpoint's
        // list (`vpce-`) is no destination podreach audits, and costs no call.
        let mut ids: BTreeSet<String> = inputs
            .route_tables
            .values()
            .flat_map(|t| &t.routes)
            .filter(|r| {
                r.vpc_peering_connection_id.is_some()
                    || r.transit_gateway_id.is_some()
                    || r.local_gateway_id.is_some()
                    || r.gateway_id
                        .as_deref()
                        .is_some_and(|g| g.starts_with("vgw-"))
            })
            .filter_map(|r| r.destination_prefix_list_id.clone())
            .collect();
        // Security group rules may name prefix lists too.
        ids.extend(
            inputs
                .security_groups
                .iter()
                .flat_map(|g| g.values())
                .flat_map(|g| g.ip_permissions.iter().chain(&g.ip_permissions_egress))
                .flat_map(|p| &p.prefix_list_ids)
                .map(|l| l.prefix_list_id.clone()),
        );
        let mut set = JoinSet::new();
        for id in ids {
            let this = self.clone();
            set.spawn(async move {
                let pages = paginate!(
                    this,
                    "ec2:GetManagedPrefixListEntries",
                    this.ec2
                        .get_managed_prefix_list_entries()
                        .prefix_list_id(&id)
                        .max_results(100),
                    entries,
                    convert::prefix_list_entry
                );
                (id, pages)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((id, pages)) = joined else {
                continue;
            };
            if let Some(failure) = &pages.failure {
                for name in by_vpc.values().flatten() {
                    notes.gaps.push(CollectionGap {
                        cluster: Some(name.clone()),
                        action: Some(failure.action.to_owned()),
                        message: format!(
                            "the entries of prefix list {id} could not be read, so routes to it are \
                             not analysed: {failure}"
                        ),
                    });
                }
                continue;
            }
            inputs.prefix_lists.insert(id, pages.items);
        }
    }
}
