//! The documents podreach reads: one [`Document`] variant per command whose output it
//! recognises, and how each is written back.
//!
//! A variant holds its command's output in the raw shape of `crate::raw`, so a document is what
//! the command printed less the fields podreach does not read. [`Document::to_json`] prints it as
//! the AWS CLI does (pretty JSON, a 4-space indent): that is how `podreach snapshot --live` and
//! the cached contexts write files the offline reader accepts unchanged. [`Document::describe`]
//! names the command, for messages.

use crate::raw;

/// A document recognised by content.
#[derive(Debug, Clone)]
pub enum Document {
    Vpcs(raw::DescribeVpcs),
    Subnets(raw::DescribeSubnets),
    RouteTables(raw::DescribeRouteTables),
    NetworkInterfaces(raw::DescribeNetworkInterfaces),
    Instances(raw::DescribeInstances),
    VpcPeeringConnections(raw::DescribeVpcPeeringConnections),
    TransitGatewayVpcAttachments(raw::DescribeTransitGatewayVpcAttachments),
    TransitGateways(raw::DescribeTransitGateways),
    TransitGatewayRouteTables(raw::DescribeTransitGatewayRouteTables),
    TransitGatewayRouteTableAssociations(raw::GetTransitGatewayRouteTableAssociations),
    TransitGatewayRouteTablePropagations(raw::GetTransitGatewayRouteTablePropagations),
    TransitGatewayRoutes(raw::SearchTransitGatewayRoutes),
    PrefixLists(raw::DescribeManagedPrefixLists),
    PrefixListEntries(raw::GetManagedPrefixListEntries),
    SecurityGroups(raw::DescribeSecurityGroups),
    NetworkAcls(raw::DescribeNetworkAcls),
    Cluster(raw::DescribeCluster),
    Addon(raw::DescribeAddon),
    AwsNode(raw::DaemonSet),
    Pods(raw::PodList),
    Nodes(raw::NodeList),
    EniConfigs(raw::EniConfigList),
    /// podreach's own note from a live collection (`podreach-collection.json`).
    Collection(raw::PodreachCollection),
}

impl Document {
    /// The document as the AWS CLI (or kubectl) prints it: pretty JSON with a 4-space indent.
    pub fn to_json(&self) -> String {
        fn pretty<T: serde::Serialize>(value: &T) -> String {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            // The raw types are plain data (strings, numbers, string-keyed maps): serialising
            // them cannot fail, so an error is a bug worth seeing in the file, not a panic.
            match value.serialize(&mut serializer) {
                Ok(()) => String::from_utf8_lossy(&out).into_owned() + "\n",
                Err(e) => format!("{{\"podreachSerialisationError\": \"{e}\"}}\n"),
            }
        }
        match self {
            Document::Vpcs(d) => pretty(d),
            Document::Subnets(d) => pretty(d),
            Document::RouteTables(d) => pretty(d),
            Document::NetworkInterfaces(d) => pretty(d),
            Document::Instances(d) => pretty(d),
            Document::VpcPeeringConnections(d) => pretty(d),
            Document::TransitGatewayVpcAttachments(d) => pretty(d),
            Document::TransitGateways(d) => pretty(d),
            Document::TransitGatewayRouteTables(d) => pretty(d),
            Document::TransitGatewayRouteTableAssociations(d) => pretty(d),
            Document::TransitGatewayRouteTablePropagations(d) => pretty(d),
            Document::TransitGatewayRoutes(d) => pretty(d),
            Document::PrefixLists(d) => pretty(d),
            Document::PrefixListEntries(d) => pretty(d),
            Document::SecurityGroups(d) => pretty(d),
            Document::NetworkAcls(d) => pretty(d),
            Document::Cluster(d) => pretty(d),
            Document::Addon(d) => pretty(d),
            Document::AwsNode(d) => pretty(d),
            Document::Pods(d) => pretty(d),
            Document::Nodes(d) => pretty(d),
            Document::EniConfigs(d) => pretty(d),
            Document::Collection(d) => pretty(d),
        }
    }

    /// The command whose output this is, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Document::Vpcs(_) => "aws ec2 describe-vpcs",
            Document::Subnets(_) => "aws ec2 describe-subnets",
            Document::RouteTables(_) => "aws ec2 describe-route-tables",
            Document::NetworkInterfaces(_) => "aws ec2 describe-network-interfaces",
            Document::Instances(_) => "aws ec2 describe-instances",
            Document::VpcPeeringConnections(_) => "aws ec2 describe-vpc-peering-connections",
            Document::TransitGatewayVpcAttachments(_) => {
                "aws ec2 describe-transit-gateway-vpc-attachments"
            }
            Document::TransitGateways(_) => "aws ec2 describe-transit-gateways",
            Document::TransitGatewayRouteTables(_) => {
                "aws ec2 describe-transit-gateway-route-tables"
            }
            Document::TransitGatewayRouteTableAssociations(_) => {
                "aws ec2 get-transit-gateway-route-table-associations"
            }
            Document::TransitGatewayRouteTablePropagations(_) => {
                "aws ec2 get-transit-gateway-route-table-propagations"
            }
            Document::TransitGatewayRoutes(_) => "aws ec2 search-transit-gateway-routes",
            Document::PrefixLists(_) => "aws ec2 describe-managed-prefix-lists",
            Document::PrefixListEntries(_) => "aws ec2 get-managed-prefix-list-entries",
            Document::SecurityGroups(_) => "aws ec2 describe-security-groups",
            Document::NetworkAcls(_) => "aws ec2 describe-network-acls",
            Document::Cluster(_) => "aws eks describe-cluster",
            Document::Addon(_) => "aws eks describe-addon",
            Document::AwsNode(_) => "kubectl get daemonset aws-node -o json",
            Document::Pods(_) => "kubectl get pods -A -o json",
            Document::Nodes(_) => "kubectl get nodes -o json",
            Document::EniConfigs(_) => "kubectl get eniconfigs -o json",
            Document::Collection(_) => "podreach snapshot --live",
        }
    }
}
