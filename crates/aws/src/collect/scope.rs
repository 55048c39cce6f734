//! Scope: which clusters an event concerns, resolved with the fewest lookups.
//!
//! An event names what changed (an ENI, an instance, a route table, a peering connection, a
//! VPC: `crate::trigger`) and the audit that follows is of the clusters it can affect, never of
//! the whole region when less will do, because each lookup is an EC2 call out of the budget the
//! VPC CNI shares: one call by id per kind of object. A [`Scope`] is the question; [`Resolved`]
//! the answer (cluster names, VPCs whose clusters count, or everything when the objects are
//! gone and their cluster cannot be known); the EKS phase (`eks.rs`) describes the clusters and
//! keeps those the answer covers.

use std::collections::BTreeSet;

use podreach_core::model::{ENI_CLUSTER_TAG, node_clusters};
use podreach_core::raw::{self, CollectionGap, CollectionNotes};

use super::Collector;
use super::pages::{filter, paginate};
use crate::convert::{self, MissingField};
use crate::error::CollectError;
pub use crate::scope::Scope;

/// A scope resolved into clusters: by name, or every cluster of some VPCs.
#[derive(Debug, Clone, Default)]
pub(super) struct Resolved {
    pub(super) names: BTreeSet<String>,
    pub(super) vpcs: BTreeSet<String>,
    /// No selection could be made (e.g. a deleted ENI): audit every cluster.
    pub(super) everything: bool,
}

impl Resolved {
    fn absorb(&mut self, other: Resolved) {
        self.names.extend(other.names);
        self.vpcs.extend(other.vpcs);
        self.everything |= other.everything;
    }

    pub(super) fn covers(&self, cluster: &raw::Cluster) -> bool {
        self.everything
            || self.names.contains(&cluster.name)
            || self.vpcs.contains(&cluster.resources_vpc_config.vpc_id)
    }
}

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
}

impl Collector {
    /// Turns an event's objects into clusters or VPCs with the fewest lookups.
    pub(super) async fn resolve(
        &self,
        scope: &Scope,
        notes: &mut CollectionNotes,
    ) -> Result<Resolved, CollectError> {
        let mut resolved = Resolved::default();
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
                let instances = self.clusters_of_enis(ids, &mut resolved, notes).await?;
                if !instances.is_empty() {
                    resolved
                        .absorb(Box::pin(self.resolve(&Scope::Instances(instances), notes)).await?);
                }
            }
            Scope::Instances(ids) => {
                let names = self.clusters_of_instances(ids).await?;
                resolved.names.extend(names);
            }
            Scope::RouteTables(ids) => {
                let vpcs = self.vpcs_of_route_tables(ids).await?;
                resolved.vpcs.extend(vpcs);
            }
            Scope::Peerings(ids) => {
                let vpcs = self.vpcs_of_peerings(ids).await?;
                resolved.vpcs.extend(vpcs);
            }
            // Gone objects, and inputs read by any cluster whose routes lead there: only the
            // clusters' owned ids (`crate::owners`) can name their cluster, and `on-change`
            // resolves them there before collecting. Asked here (the CLI, or no index yet),
            // their cluster is unknown.
            Scope::DeletedEnis(ids)
            | Scope::Attachments(ids)
            | Scope::Associations(ids)
            | Scope::Inputs(ids) => {
                notes.gaps.push(CollectionGap {
                    cluster: None,
                    action: None,
                    message: format!(
                        "{} no longer exist(s) and only a previous audit's index of the clusters' own ids could name the cluster: every cluster is audited",
                        ids.join(", ")
                    ),
                });
                resolved.everything = true;
            }
        }
        Ok(resolved)
    }

    /// The clusters of the ENIs `ids` by their cluster tag, into `resolved`; what is returned are
    /// the instances of the untagged ones, to be resolved as instances. An ENI that no longer
    /// exists leaves its cluster unknown, so every cluster is audited.
    async fn clusters_of_enis(
        &self,
        ids: &[String],
        resolved: &mut Resolved,
        notes: &mut CollectionNotes,
    ) -> Result<Vec<String>, CollectError> {
        let pages = paginate!(
            self,
            "ec2:DescribeNetworkInterfaces",
            self.ec2
                .describe_network_interfaces()
                .filters(filter("network-interface-id", ids.iter().cloned())),
            network_interfaces,
            |e: &aws_sdk_ec2::types::NetworkInterface| Ok::<_, MissingField>(e.clone())
        );
        let pages = pages.complete().map_err(CollectError::Resolve)?;
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
        Ok(instances)
    }

    /// The clusters the instances `ids` are nodes of, by their cluster tags.
    async fn clusters_of_instances(
        &self,
        ids: &[String],
    ) -> Result<BTreeSet<String>, CollectError> {
        let pages = paginate!(
            self,
            "ec2:DescribeInstances",
            self.ec2
                .describe_instances()
                .filters(filter("instance-id", ids.iter().cloned())),
            reservations,
            |r: &aws_sdk_ec2::types::Reservation| Ok::<_, MissingField>(r.clone())
        );
        let pages = pages.complete().map_err(CollectError::Resolve)?;
        let mut names = BTreeSet::new();
        for instance in pages.iter().flat_map(|r| r.instances()) {
            names.extend(node_clusters(ec2_tags(instance.tags())).map(str::to_owned));
        }
        Ok(names)
    }

    /// The VPCs of the route tables `ids`.
    async fn vpcs_of_route_tables(&self, ids: &[String]) -> Result<Vec<String>, CollectError> {
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
        let pages = pages.complete().map_err(CollectError::Resolve)?;
        Ok(pages.into_iter().filter(|v| !v.is_empty()).collect())
    }

    /// The VPCs on either side of the peering connections `ids`.
    async fn vpcs_of_peerings(&self, ids: &[String]) -> Result<Vec<String>, CollectError> {
        let pages = paginate!(
            self,
            "ec2:DescribeVpcPeeringConnections",
            self.ec2
                .describe_vpc_peering_connections()
                .filters(filter("vpc-peering-connection-id", ids.iter().cloned())),
            vpc_peering_connections,
            convert::peering
        );
        let pages = pages.complete().map_err(CollectError::Resolve)?;
        let mut vpcs = Vec::new();
        for p in pages {
            vpcs.extend(p.requester_vpc_info.vpc_id);
            vpcs.extend(p.accepter_vpc_info.vpc_id);
        }
        Ok(vpcs)
    }
}
