//! One large cluster for the tests that count API calls ([`seed_many_enis`]): a VPC, four
//! subnets, the EKS cluster [`BULK_CLUSTER`], up to ten nodes and as many ENIs as asked, each
//! with a primary and two secondary addresses.
//!
//! Unlike the demo it is generated rather than read, so a test chooses only its size. Its
//! requests go through `bounded`, one at a time (`CONCURRENCY`: moto's EC2 backend is not safe
//! for concurrent writes to one account).

use std::future::Future;
use std::net::Ipv4Addr;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{InstanceType, ResourceType};
use tokio::task::JoinSet;

use super::calls::{missing, sdk, tag_specs};

/// What [`seed_many_enis`] created.
#[derive(Debug, Clone)]
pub struct ManyEnis {
    pub vpc_id: String,
    /// The EKS cluster, `bulk`.
    pub cluster: String,
    pub subnet_ids: Vec<String>,
    /// The cluster's nodes, tagged `kubernetes.io/cluster/bulk=owned`, `eks:cluster-name=bulk`.
    pub instance_ids: Vec<String>,
    /// Every ENI: the instances' primary ENIs, the attached secondary ENIs, the unattached ones.
    pub eni_ids: Vec<String>,
    /// ENIs attached to an instance (primary and secondary).
    pub attached_enis: usize,
    /// ENIs attached to nothing (`available`), tagged like the CNI's.
    pub unattached_enis: usize,
    /// Private IPv4 addresses over all ENIs: each has its primary and two secondary addresses.
    pub private_ips: usize,
}

/// The cluster [`seed_many_enis`] creates.
pub const BULK_CLUSTER: &str = "bulk";
const BULK_SUBNETS: [(&str, &str); 4] = [
    ("10.50.0.0/20", "us-east-1a"),
    ("10.50.16.0/20", "us-east-1b"),
    ("10.50.32.0/20", "us-east-1c"),
    ("10.50.48.0/20", "us-east-1d"),
];
/// Nodes of the bulk cluster (fewer when `count` is smaller).
const BULK_INSTANCES: usize = 10;
/// Secondary ENIs per node (device indexes 1..=3), before unattached ENIs make up the count.
const BULK_SECONDARY_PER_INSTANCE: usize = 3;
/// Requests in flight at once while seeding: one. moto's EC2 backend is not safe for concurrent
/// writes to one account (`AssignPrivateIpAddresses` while ENIs are being created fails with
/// "RuntimeError: dictionary changed size during iteration" and an HTTP 500).
const CONCURRENCY: usize = 1;

/// The `slot`th block of three addresses (primary + two secondary) in bulk subnet `subnet`.
fn bulk_ips(subnet: usize, slot: usize) -> Result<[String; 3], String> {
    let base = [10u8, 50, (subnet * 16) as u8, 0];
    let base = u32::from(Ipv4Addr::from(base));
    let first = 10 + 3 * slot;
    if first + 3 >= 4095 {
        return Err("too many ENIs for the bulk subnets".to_owned());
    }
    let ip = |i: usize| Ipv4Addr::from(base + (first + i) as u32).to_string();
    Ok([ip(0), ip(1), ip(2)])
}

/// One VPC (10.50.0.0/16) with four subnets, an EKS cluster [`BULK_CLUSTER`] on them, up to ten
/// nodes, and `count` ENIs in total: each node's primary ENI, up to three attached secondary
/// ENIs per node, then unattached ENIs; every ENI has a primary and two secondary addresses.
/// Requests run [`CONCURRENCY`] at a time.
pub async fn seed_many_enis(config: &SdkConfig, count: usize) -> Result<ManyEnis, String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let eks = aws_sdk_eks::Client::new(config);

    let vpc_id = ec2
        .create_vpc()
        .cidr_block("10.50.0.0/16")
        .set_tag_specifications(tag_specs(ResourceType::Vpc, [("Name", "bulk-eks")]))
        .send()
        .await
        .map_err(sdk("CreateVpc", "bulk"))?
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| missing("CreateVpc", "VpcId"))?
        .to_owned();
    let subnet_ids = bounded(
        CONCURRENCY,
        BULK_SUBNETS.iter().map(|(cidr, az)| {
            let ec2 = ec2.clone();
            let vpc_id = vpc_id.clone();
            async move {
                ec2.create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(*cidr)
                    .availability_zone(*az)
                    .send()
                    .await
                    .map_err(sdk("CreateSubnet", cidr))?
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .map(str::to_owned)
                    .ok_or_else(|| missing("CreateSubnet", "SubnetId"))
            }
        }),
    )
    .await?;

    eks.create_cluster()
        .name(BULK_CLUSTER)
        .version("1.31")
        .role_arn("arn:aws:iam::111122223333:role/eks-bulk-cluster")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .set_subnet_ids(Some(subnet_ids.clone()))
                .build(),
        )
        .send()
        .await
        .map_err(sdk("CreateCluster", BULK_CLUSTER))?;

    // Plan: ENI number n lives in subnet n % 4 and uses address block n / 4 there.
    let instances = count.min(BULK_INSTANCES);
    let secondaries = (count - instances).min(instances * BULK_SECONDARY_PER_INSTANCE);
    let unattached = count - instances - secondaries;
    let placement = |n: usize| -> Result<(String, [String; 3]), String> {
        let subnet = n % BULK_SUBNETS.len();
        Ok((
            subnet_ids[subnet].clone(),
            bulk_ips(subnet, n / BULK_SUBNETS.len())?,
        ))
    };

    let mut jobs = Vec::new();
    for n in 0..instances {
        let (subnet, ips) = placement(n)?;
        let ec2 = ec2.clone();
        jobs.push(async move {
            let name = format!("bulk-node-{n}");
            let out = ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::M5Large)
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .private_ip_address(&ips[0])
                .set_tag_specifications(tag_specs(
                    ResourceType::Instance,
                    [
                        ("kubernetes.io/cluster/bulk", "owned"),
                        ("eks:cluster-name", BULK_CLUSTER),
                        ("eks:nodegroup-name", "bulk"),
                        ("Name", name.as_str()),
                    ],
                ))
                .send()
                .await
                .map_err(sdk("RunInstances", &name))?;
            let instance = out
                .instances()
                .first()
                .ok_or_else(|| missing("RunInstances", "Instances"))?;
            let instance_id = instance
                .instance_id()
                .ok_or_else(|| missing("RunInstances", "InstanceId"))?
                .to_owned();
            let eni = instance
                .network_interfaces()
                .first()
                .and_then(|n| n.network_interface_id())
                .ok_or_else(|| missing("RunInstances", "NetworkInterfaceId"))?
                .to_owned();
            assign_pod_addresses(&ec2, &eni, &ips).await?;
            Ok((instance_id, eni))
        });
    }
    let nodes = bounded(CONCURRENCY, jobs).await?;
    let instance_ids: Vec<String> = nodes.iter().map(|(i, _)| i.clone()).collect();
    let mut eni_ids: Vec<String> = nodes.into_iter().map(|(_, eni)| eni).collect();

    let mut jobs = Vec::new();
    for k in 0..secondaries + unattached {
        let n = instances + k;
        let (subnet, ips) = placement(n)?;
        // Secondary k goes to node k % instances at device index 1 + k / instances.
        let attach = (k < secondaries).then(|| {
            (
                instance_ids[k % instances].clone(),
                i32::try_from(1 + k / instances).unwrap_or(i32::MAX),
            )
        });
        let ec2 = ec2.clone();
        jobs.push(async move {
            let owner = attach.as_ref().map_or("none", |(i, _)| i.as_str());
            let description = format!("aws-K8S-{owner}");
            let eni = ec2
                .create_network_interface()
                .subnet_id(&subnet)
                .private_ip_address(&ips[0])
                .description(&description)
                .set_tag_specifications(tag_specs(
                    ResourceType::NetworkInterface,
                    [
                        ("cluster.k8s.amazonaws.com/name", BULK_CLUSTER),
                        ("node.k8s.amazonaws.com/instance_id", owner),
                    ],
                ))
                .send()
                .await
                .map_err(sdk("CreateNetworkInterface", &ips[0]))?
                .network_interface()
                .and_then(|e| e.network_interface_id())
                .ok_or_else(|| missing("CreateNetworkInterface", "NetworkInterfaceId"))?
                .to_owned();
            assign_pod_addresses(&ec2, &eni, &ips).await?;
            if let Some((instance, device_index)) = attach {
                ec2.attach_network_interface()
                    .network_interface_id(&eni)
                    .instance_id(&instance)
                    .device_index(device_index)
                    .send()
                    .await
                    .map_err(sdk("AttachNetworkInterface", &eni))?;
            }
            Ok(eni)
        });
    }
    eni_ids.extend(bounded(CONCURRENCY, jobs).await?);

    Ok(ManyEnis {
        vpc_id,
        cluster: BULK_CLUSTER.to_owned(),
        subnet_ids,
        instance_ids,
        attached_enis: instances + secondaries,
        unattached_enis: unattached,
        private_ips: eni_ids.len() * 3,
        eni_ids,
    })
}

/// Runs `jobs` on the current tokio runtime, at most `limit` at a time; the results come back in
/// the jobs' order, or the first error (the remaining jobs are then cancelled).
async fn bounded<T, F>(limit: usize, jobs: impl IntoIterator<Item = F>) -> Result<Vec<T>, String>
where
    F: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    let mut jobs = jobs.into_iter().enumerate();
    let mut set = JoinSet::new();
    let mut results: Vec<Option<T>> = Vec::new();
    loop {
        while set.len() < limit.max(1) {
            let Some((i, job)) = jobs.next() else { break };
            results.push(None);
            set.spawn(async move { (i, job.await) });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (i, result) = joined.map_err(|e| format!("a seeding task failed: {e}"))?;
        results[i] = Some(result?);
    }
    Ok(results.into_iter().flatten().collect())
}

/// The two pod addresses of a bulk ENI (`ips[1]`, `ips[2]`; `ips[0]` is its primary).
async fn assign_pod_addresses(
    ec2: &aws_sdk_ec2::Client,
    eni: &str,
    ips: &[String],
) -> Result<(), String> {
    ec2.assign_private_ip_addresses()
        .network_interface_id(eni)
        .private_ip_addresses(&ips[1])
        .private_ip_addresses(&ips[2])
        .send()
        .await
        .map_err(sdk("AssignPrivateIpAddresses", eni))?;
    Ok(())
}
