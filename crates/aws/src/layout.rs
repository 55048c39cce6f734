//! The snapshot's layout: every file a collection writes, named once.
//!
//! A live collection is an offline snapshot that was never written: `podreach snapshot --live`
//! writes [`crate::Collection::source_files`] under these paths, `podreach audit --snapshot`
//! reads them back, and a cluster's cached context ([`crate::context`]) stores its documents
//! under them too. The offline reader recognises a file by its content, never by its name
//! (README, "snapshot"), so a path decides only three things, and this module is where each is
//! decided: where a person finds a file (named after the AWS CLI or kubectl command whose output
//! it is); which cluster a `clusters/<name>/…` file belongs to (the model attributes a
//! Kubernetes document to the cluster whose `describe-cluster` output sits in the same directory
//! or the nearest above, and a `--with` dump replaces the document of its kind in its cluster's
//! directory: [`Place`]); and on which side of the routes a file of ENIs was collected
//! ([`Side`]). The last is why this module exists: the far VPCs' ENIs are the same
//! `describe-network-interfaces` document as the nodes' ENIs, and once they are documents only
//! their file tells them apart, so [`Side`] is the one place that maps a side to its file and a
//! file back to its side. The constants other crates could name (the note, the far ENIs) are
//! public and re-exported where they were before (`collect::NOTES_FILE`,
//! `context::FAR_ENIS_FILE`); the rest is the collector's own.

use podreach_core::raw;
use podreach_core::snapshot::{Document, LoadedDocument};

/// The file name of the collection note inside a snapshot: podreach's own note on gaps, blind
/// spots, incomplete clusters and cost (`raw::PodreachCollection`, key `podreachCollection`).
pub const NOTES_FILE: &str = "podreach-collection.json";

/// `aws ec2 describe-vpcs`: the cluster VPCs and the far VPCs.
pub(crate) const VPCS_FILE: &str = "ec2/vpcs.json";
/// `aws ec2 describe-subnets` of the same VPCs.
pub(crate) const SUBNETS_FILE: &str = "ec2/subnets.json";
/// `aws ec2 describe-route-tables`: the cluster VPCs' and the far VPCs' tables in one file.
pub(crate) const ROUTE_TABLES_FILE: &str = "ec2/route-tables.json";
/// `aws ec2 describe-network-interfaces` of the cluster VPCs: node, trunk, branch and
/// peer-facing ENIs ([`Side::Cluster`]).
const ENIS_FILE: &str = "ec2/network-interfaces.json";
/// `aws ec2 describe-network-interfaces` of the far VPCs ([`Side::Far`]): each destination
/// address's security groups. Part of a cluster's cached context, unlike the nodes' ENIs.
pub const FAR_ENIS_FILE: &str = "ec2/peer-network-interfaces.json";
/// `aws ec2 describe-instances`: the pending and running instances of the cluster VPCs.
pub(crate) const INSTANCES_FILE: &str = "ec2/instances.json";
/// `aws ec2 describe-vpc-peering-connections`: the connections the routes use.
pub(crate) const PEERINGS_FILE: &str = "ec2/vpc-peering-connections.json";
/// `aws ec2 describe-security-groups` of both sides; absent when it could not be read.
pub(crate) const SECURITY_GROUPS_FILE: &str = "ec2/security-groups.json";
/// `aws ec2 describe-network-acls` of both sides; absent when it could not be read.
pub(crate) const NETWORK_ACLS_FILE: &str = "ec2/network-acls.json";
/// `aws ec2 describe-transit-gateway-vpc-attachments`; absent when no route uses a transit
/// gateway.
pub(crate) const TGW_ATTACHMENTS_FILE: &str = "ec2/transit-gateway-vpc-attachments.json";
/// `aws ec2 describe-transit-gateways` of the gateways the routes use (their options).
pub(crate) const TRANSIT_GATEWAYS_FILE: &str = "ec2/transit-gateways.json";

/// `aws ec2 describe-transit-gateway-route-tables` of the gateways the routes use.
pub(crate) const TGW_ROUTE_TABLES_FILE: &str = "ec2/transit-gateway-route-tables.json";

/// One transit gateway route table's `associations`, `propagations` or `routes`
/// (`get-transit-gateway-route-table-associations`, `…-propagations`,
/// `search-transit-gateway-routes`). The collector writes the table's id into each document; the
/// file is named after it too, as the README's recipe names it, because the AWS CLI's output does
/// not name its table.
pub(crate) fn tgw_table_file(id: &str, part: &str) -> String {
    format!("ec2/transit-gateway-route-tables/{id}.{part}.json")
}

/// `aws ec2 get-managed-prefix-list-entries` of one list. The collector writes the list's id
/// into the document (`PrefixListId`); the file is named after it all the same, as the README's
/// recipe names it, because the AWS CLI's output does not name its list and the model then
/// takes the `pl-…` of the file name (`raw::GetManagedPrefixListEntries`).
pub(crate) fn prefix_list_file(id: &str) -> String {
    format!("ec2/prefix-lists/{id}.json")
}

/// The directory of the clusters' own files (`clusters/<name>/…`); the CLI places a `--with`
/// dump under it too, so a dump is attributed like the collection's own files.
pub(crate) const CLUSTERS_DIR: &str = "clusters/";

/// A cluster's own file, under `clusters/<name>/`: the EKS answers, and the Kubernetes objects
/// under the names of the kubectl recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClusterFile {
    /// `aws eks describe-cluster`.
    Cluster,
    /// `aws eks describe-addon --addon-name vpc-cni`.
    Addon,
    /// The `aws-node` DaemonSet.
    AwsNode,
    Pods,
    Nodes,
    /// The `ENIConfig` custom resources (custom networking).
    EniConfigs,
}

impl ClusterFile {
    fn name(self) -> &'static str {
        match self {
            ClusterFile::Cluster => "cluster.json",
            ClusterFile::Addon => "addon.json",
            ClusterFile::AwsNode => "aws-node.json",
            ClusterFile::Pods => "pods.json",
            ClusterFile::Nodes => "nodes.json",
            ClusterFile::EniConfigs => "eniconfigs.json",
        }
    }
}

/// The path of `cluster`'s `file`.
pub(crate) fn cluster_file(cluster: &str, file: ClusterFile) -> String {
    format!("{CLUSTERS_DIR}{cluster}/{}", file.name())
}

/// Where a path lies in a snapshot, as far as clusters are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place<'a> {
    /// `clusters/<name>/…`: that cluster's own.
    Cluster(&'a str),
    /// Directly in `clusters/`: a dump whose place names no cluster.
    Clusters,
    /// Anything else: the region's EC2 documents and the note, shared by every cluster.
    Region,
}

/// Where `path` lies.
pub(crate) fn place(path: &str) -> Place<'_> {
    match path.strip_prefix(CLUSTERS_DIR) {
        None => Place::Region,
        Some(rest) => match rest.split_once('/') {
            Some((cluster, _)) => Place::Cluster(cluster),
            None => Place::Clusters,
        },
    }
}

/// The side of the routes an ENI was collected on. The model does not need it (it tells a far
/// ENI by its VPC), but a cluster's cached context does: it drops the cluster side, which is per
/// node and read again with each node's event, and keeps the far side, whose security groups
/// judge the return traffic and which no node event reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The cluster VPCs' ENIs.
    Cluster,
    /// The far VPCs' ENIs (peers, VPCs behind transit gateways).
    Far,
}

impl Side {
    /// The file this side's ENIs are written to.
    pub(crate) fn enis_file(self) -> &'static str {
        match self {
            Side::Cluster => ENIS_FILE,
            Side::Far => FAR_ENIS_FILE,
        }
    }

    /// The side of the `describe-network-interfaces` document at `path`: the far side has its
    /// own file, and any other file of ENIs (an offline snapshot's, a node event's) is the
    /// cluster side.
    pub(crate) fn of_enis(path: &str) -> Side {
        if path == FAR_ENIS_FILE {
            Side::Far
        } else {
            Side::Cluster
        }
    }
}

/// `document` placed at `path`.
pub(crate) fn document(path: &str, document: Document) -> LoadedDocument {
    LoadedDocument {
        path: path.to_owned(),
        document,
    }
}

/// One side's ENIs as the document of their file.
pub(crate) fn enis(side: Side, network_interfaces: Vec<raw::NetworkInterface>) -> LoadedDocument {
    document(
        side.enis_file(),
        Document::NetworkInterfaces(raw::DescribeNetworkInterfaces { network_interfaces }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_reads_back_from_its_file() {
        for side in [Side::Cluster, Side::Far] {
            assert_eq!(Side::of_enis(side.enis_file()), side);
        }
        assert_eq!(
            Side::of_enis("enis.json"),
            Side::Cluster,
            "an offline snapshot's"
        );
    }

    #[test]
    fn a_file_is_a_clusters_own_only_in_its_directory() {
        let pods = cluster_file("shop", ClusterFile::Pods);
        assert_eq!(pods, "clusters/shop/pods.json");
        assert_eq!(place(&pods), Place::Cluster("shop"));
        assert_eq!(place("clusters/pods.json"), Place::Clusters);
        assert_eq!(place(VPCS_FILE), Place::Region);
        assert_eq!(place(NOTES_FILE), Place::Region);
    }
}
