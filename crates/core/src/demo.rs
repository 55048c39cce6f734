//! The bundled demo snapshot, embedded so `podreach audit` with no arguments shows a real audit.
//!
//! The files are ordinary AWS CLI and kubectl outputs (see `crates/core/demo/`). Two clusters
//! share one peer VPC: `shop` runs CNI v1.11.4 with `AWS_VPC_CNI_NODE_PORT_SUPPORT=false`, where
//! pods on a secondary ENI cannot reach the peer while pods on the primary ENI can (#2025), and
//! `legacy` runs v1.7.10, where the peer cannot open connections to pods on a secondary ENI.
//! The security groups and default network ACLs of all three VPCs are included: the peer's
//! database admits tcp/5432 and tcp/443 from both cluster VPCs, so the paths name those ports.

use crate::snapshot::SourceFile;

macro_rules! demo_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../demo/", $path)))),*]
    };
}

/// `(relative path, contents)` of every demo file.
pub const FILES: &[(&str, &str)] = demo_files![
    "ec2/vpcs.json",
    "ec2/subnets.json",
    "ec2/route-tables.json",
    "ec2/peer-route-tables.json",
    "ec2/network-interfaces.json",
    "ec2/instances.json",
    "ec2/vpc-peering-connections.json",
    "ec2/security-groups.json",
    "ec2/network-acls.json",
    "shop/cluster.json",
    "shop/aws-node.json",
    "shop/pods.json",
    "shop/nodes.json",
    "legacy/cluster.json",
    "legacy/addon.json",
    "legacy/pods.json",
    "legacy/nodes.json",
];

/// The demo as snapshot files.
pub fn files() -> Vec<SourceFile> {
    FILES
        .iter()
        .map(|(path, text)| SourceFile {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}
