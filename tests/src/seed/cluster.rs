//! The demo's EKS clusters, created from their `describe-cluster` documents.
//!
//! `CreateCluster` is sent what moto keeps (the subnets and security groups, mapped to moto's
//! ids, the endpoint access, the service CIDR and IP family, the version, the role and the tags);
//! what moto's `DescribeCluster` then lacks is listed in the `seed` module doc. Apart from the EC2
//! steps because it is the one step that talks to EKS.

use podreach_core::raw;

use super::SeededDemo;
use super::calls::sdk;

pub(super) async fn seed_cluster(
    eks: &aws_sdk_eks::Client,
    seeded: &SeededDemo,
    path: &str,
    text: &str,
) -> Result<(), String> {
    use aws_sdk_eks::types::{IpFamily, KubernetesNetworkConfigRequest, VpcConfigRequest};

    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("demo file {path}: {e}"))?;
    let described: raw::DescribeCluster =
        serde_json::from_value(value.clone()).map_err(|e| format!("demo file {path}: {e}"))?;
    let cluster = described.cluster;
    let vpc_config = &value["cluster"]["resourcesVpcConfig"];
    let mut subnets = Vec::new();
    for subnet in &cluster.resources_vpc_config.subnet_ids {
        subnets.push(seeded.moto_id(subnet)?.to_owned());
    }
    let mut groups = Vec::new();
    for group in &cluster.resources_vpc_config.security_group_ids {
        groups.push(seeded.moto_id(group)?.to_owned());
    }
    let vpc = VpcConfigRequest::builder()
        .set_subnet_ids(Some(subnets))
        .set_security_group_ids((!groups.is_empty()).then_some(groups))
        .set_endpoint_public_access(vpc_config["endpointPublicAccess"].as_bool())
        .set_endpoint_private_access(vpc_config["endpointPrivateAccess"].as_bool())
        .build();
    let network = cluster.kubernetes_network_config.as_ref().map(|n| {
        KubernetesNetworkConfigRequest::builder()
            .set_service_ipv4_cidr(n.service_ipv4_cidr.clone())
            .set_ip_family(n.ip_family.as_deref().map(IpFamily::from))
            .build()
    });
    let role = value["cluster"]["roleArn"].as_str().map_or_else(
        || format!("arn:aws:iam::111122223333:role/eks-{}", cluster.name),
        str::to_owned,
    );
    eks.create_cluster()
        .name(&cluster.name)
        .set_version(cluster.version.clone())
        .role_arn(role)
        .resources_vpc_config(vpc)
        .set_kubernetes_network_config(network)
        .set_tags((!cluster.tags.is_empty()).then(|| cluster.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(sdk("CreateCluster", &cluster.name))?;
    Ok(())
}
