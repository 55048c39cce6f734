//! Node-only collection: the few documents an ENI or instance event changes, for an audit of
//! those nodes against their cluster's cached context (`crate::context`).
//!
//! When pods scale, the VPC CNI attaches ENIs and assigns addresses on one node after another,
//! and each change is an event; re-collecting the whole cluster for each would spend the EC2
//! budget the CNI itself needs. So an ENI event costs three calls, an instance event two: the
//! named ENIs (for their instance and cluster tag), then every ENI attached to those instances
//! and the instances themselves, together; pending and running instances only, as the full
//! collection. Anything that makes the answer doubtful (an ENI gone or detached, a page of the
//! attached ENIs or instances that failed, a field missing, no cluster found) is `None`, never
//! a partial collection: the caller then audits the whole cluster, whose gaps say what failed.
//! Only a failed lookup of the named ENIs is an error ([`CollectError::Resolve`]), as it is for
//! a scope. The ENIs are the cluster side's (`crate::layout::Side::Cluster`): the context
//! supplies the far side's.

use std::collections::BTreeSet;
use std::time::Instant;

use podreach_core::model::{ENI_CLUSTER_TAG, node_clusters};
use podreach_core::raw::{self, CollectionNotes};
use podreach_core::snapshot::Document;

use super::pages::{Pages, filter, live_instances, paginate};
use super::{Collection, Collector};
use crate::convert::{self, MissingField};
use crate::error::CollectError;
use crate::layout::{self, Side};

/// The instances and cluster tags of the ENIs an event names.
#[derive(Debug, Default)]
struct Named {
    instances: BTreeSet<String>,
    clusters: BTreeSet<String>,
}

impl Collector {
    /// An ENI event costs three EC2 calls, an instance event two: the named ENIs (for their
    /// instance), then every ENI attached to those instances and the instances themselves,
    /// together. Pending and running instances only, as the full collection.
    pub(super) async fn nodes(
        &self,
        enis: &[String],
        instances: &[String],
    ) -> Result<Option<Collection>, CollectError> {
        let started = Instant::now();
        let before = self.stats.reading();
        let mut instance_ids: BTreeSet<String> = instances.iter().cloned().collect();
        let mut clusters: BTreeSet<String> = BTreeSet::new();
        if !enis.is_empty() {
            let Some(named) = self.named_enis(enis).await? else {
                return Ok(None);
            };
            instance_ids.extend(named.instances);
            clusters.extend(named.clusters);
        }
        if instance_ids.is_empty() {
            return Ok(None);
        }
        let Some((enis, reservations)) = self.attached(&instance_ids).await else {
            return Ok(None);
        };
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
                layout::enis(Side::Cluster, enis),
                layout::document(
                    layout::INSTANCES_FILE,
                    Document::Instances(raw::DescribeInstances { reservations }),
                ),
            ],
            notes,
            cluster_names: clusters.into_iter().collect(),
            listed_clusters: None,
            missing_clusters: Vec::new(),
        }))
    }

    /// The instances the ENIs `enis` are attached to, and their cluster tags; `None` when one
    /// of them no longer exists or is detached.
    async fn named_enis(&self, enis: &[String]) -> Result<Option<Named>, CollectError> {
        let named = self.enis_by_id(enis).await?;
        if named.len() < enis.len() {
            return Ok(None);
        }
        let mut out = Named::default();
        for eni in &named {
            match eni.attachment.as_ref().and_then(|a| a.instance_id.clone()) {
                Some(instance) => {
                    out.instances.insert(instance);
                }
                // A detached ENI carries no pods; what it leaves behind is its node's.
                None => return Ok(None),
            }
            out.clusters.extend(
                eni.tag_set
                    .iter()
                    .filter(|t| t.key == ENI_CLUSTER_TAG)
                    .map(|t| t.value.clone()),
            );
        }
        Ok(Some(out))
    }

    /// The ENIs `ids` that exist, in one call (`network-interface-id` filter: an id that no
    /// longer exists is absent, not an error).
    pub(super) async fn enis_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<raw::NetworkInterface>, CollectError> {
        let pages = paginate!(
            self,
            "ec2:DescribeNetworkInterfaces",
            self.ec2
                .describe_network_interfaces()
                .filters(filter("network-interface-id", ids.iter().cloned())),
            network_interfaces,
            convert::network_interface
        );
        pages.complete().map_err(CollectError::Resolve)
    }

    /// Every ENI attached to the instances and the live instances themselves, together; `None`
    /// when a page failed or a field is missing.
    async fn attached(
        &self,
        instance_ids: &BTreeSet<String>,
    ) -> Option<(Vec<raw::NetworkInterface>, Vec<raw::Reservation>)> {
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
            return None;
        };
        if !missing.is_empty() {
            return None;
        }
        let (reservations, missing): (Vec<_>, Vec<_>) = reservations.into_iter().unzip();
        if missing.iter().any(|m: &Vec<MissingField>| !m.is_empty()) {
            return None;
        }
        Some((enis, reservations))
    }
}
