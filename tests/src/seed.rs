//! Creates topologies in a moto account through the real EC2 and EKS APIs, so the live collector
//! is tested against answers shaped by the AWS SDK rather than by hand-written JSON.
//!
//! [`seed_demo`] recreates the bundled demo (the AWS CLI JSON of `crates/core/demo/`, read from
//! `podreach_core::demo::FILES`, which embeds exactly those files) and returns the mapping from
//! each demo id to the id moto gave the recreated resource; [`SeededDemo::to_demo_ids`] rewrites
//! moto's ids in any text back to the demo's, so a collected snapshot can be compared with the
//! demo. Ids that the demo mentions in tag values and descriptions (`aws-K8S-i-…`,
//! `node.k8s.amazonaws.com/instance_id`) are rewritten to the new ids when seeding.
//! [`seed_many_enis`] builds one large cluster (`bulk`) for tests that count API calls.
//! [`fresh_account_with_demo`] is the usual start of a test: a new moto account with the demo in
//! it. [`demo_file_text`] and [`parse_demo_file`] read a file of the demo for the tests that
//! compare with it.
//!
//! Split by job: this file holds [`SeededDemo`], the id mapping every step fills in. `recreate`
//! recreates the demo in the order its objects depend on each other ([`seed_demo`]), handing the
//! objects that take more than a call or two to `routes` (route tables and the gateways their
//! routes name), `instances` (instances and ENIs) and `cluster` (the EKS clusters); `bulk` builds
//! the large cluster of [`seed_many_enis`]; `demo_files` reads the demo's files, and `calls`
//! holds what every SDK call shares (error texts, tag specifications, filters). Everything public
//! is re-exported here, so `podreach_tests::seed::X` is the one path to each item.
//!
//! What moto 5.2.5 cannot reproduce, and how the seeded demo differs from the demo files:
//! - Ids, `OwnerId`s (the account of the [`crate::moto::Account`]), MAC addresses, attach times,
//!   `DeleteOnTermination` (moto: false), `PrivateDnsName`s of secondary addresses (absent in
//!   moto), the instances' `ImageId` is kept but `LaunchTime` is not.
//! - A primary ENI's `Description` is moto's `Primary network interface`: moto ignores an empty
//!   description in `ModifyNetworkInterfaceAttribute`, and the demo's primary ENIs have `""`.
//! - The EKS cluster: `DescribeCluster` returns no `resourcesVpcConfig.vpcId`,
//!   `clusterSecurityGroupId` or `securityGroupIds` (moto stores only what `CreateCluster`
//!   sent); `status`, `platformVersion`, `endpoint`, `arn` and `createdAt` are moto's own.
//! - The EKS add-on (`legacy/addon.json`): moto has no add-on API (`CreateAddon`/`DescribeAddon`
//!   answer 404). Kubernetes objects (`pods.json`, `aws-node.json`) are not AWS resources.
//! - A NAT gateway or transit gateway that a route names must exist in moto for the route to
//!   keep its target, so one is created for each (a NAT gateway with a new Elastic IP in the
//!   first demo subnet of the route table's VPC); internet gateways are created and attached.
//!   moto gives a NAT gateway's own ENI a random 10.x address outside its subnet; the seeder
//!   deletes that ENI, which the demo does not list either.
//! - moto creates a main route table for every VPC: where the demo lists no main table for a
//!   VPC (the `shop` VPC), moto's, with only local routes, is an extra table. Every account also
//!   has moto's default VPC 172.31.0.0/16 with its subnets and main route table.
//! - Security groups are created by name with the demo's inbound rules; moto's own description
//!   and its default allow-all egress rule (the demo's too) are kept. The demo's network ACLs are
//!   each VPC's default ACL (everything allowed), which moto creates: their ids are mapped.
//! - Not supported by the seeder, an error if the input has them: IPv4/IPv6 prefixes and IPv6
//!   addresses on ENIs (moto has no prefix delegation), routes to anything other than `local`,
//!   `igw-`, `vgw-`, NAT gateways, transit gateways and peering connections, `blackhole` routes,
//!   gateway (edge) route table associations, and peering states other than `active`,
//!   `pending-acceptance`, `rejected` and `deleted`. Cross-account and cross-region peering is
//!   created as same-account, same-region peering.

use std::collections::BTreeMap;

mod bulk;
mod calls;
mod cluster;
mod demo_files;
mod instances;
mod recreate;
mod routes;

pub use bulk::{BULK_CLUSTER, ManyEnis, seed_many_enis};
pub use demo_files::{demo_file_text, parse_demo_file};
pub use recreate::{fresh_account_with_demo, seed_demo};

/// The demo as recreated in moto.
#[derive(Debug, Clone, Default)]
pub struct SeededDemo {
    /// Demo id -> moto id for every VPC, VPC CIDR association, subnet, route table, route table
    /// association, peering connection, internet/NAT/transit/VPN gateway, security group,
    /// reservation, instance, ENI and ENI attachment that was recreated.
    pub ids: BTreeMap<String, String>,
}

impl SeededDemo {
    /// `text` with every moto id replaced by its demo id (longest ids first, so no id is
    /// replaced inside a longer one).
    pub fn to_demo_ids(&self, text: &str) -> String {
        replace_all(text, self.ids.iter().map(|(demo, moto)| (moto, demo)))
    }

    /// `text` with every demo id replaced by its moto id.
    pub fn to_moto_ids(&self, text: &str) -> String {
        replace_all(text, self.ids.iter())
    }

    /// The moto id of a demo resource.
    pub fn moto_id(&self, demo_id: &str) -> Result<&str, String> {
        self.ids
            .get(demo_id)
            .map(String::as_str)
            .ok_or_else(|| format!("{demo_id} was not recreated in moto"))
    }

    fn map(&mut self, demo_id: &str, moto_id: &str) {
        self.ids.insert(demo_id.to_owned(), moto_id.to_owned());
    }
}

fn replace_all<'a>(text: &str, pairs: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<(&String, &String)> = pairs.collect();
    pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
    pairs.into_iter().fold(text.to_owned(), |text, (from, to)| {
        text.replace(from.as_str(), to)
    })
}
