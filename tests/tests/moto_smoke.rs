//! The moto harness and the seeding work: the demo recreated through the EC2 and EKS APIs
//! describes like the demo's own JSON once ids are mapped back, accounts are isolated from each
//! other, the bulk topology has exactly the ENIs asked for, and a reset forgets everything.
//!
//! Needs moto in `<repo>/.venv` (`scripts/install-test-deps.sh`, which `./scripts/test` runs);
//! without it every test fails with that instruction.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Instance, NetworkInterface, RouteTable, Tag};
use podreach_core::raw;
use podreach_tests::moto::Moto;
use podreach_tests::seed::{
    BULK_CLUSTER, SeededDemo, fresh_account_with_demo, parse_demo_file, seed_many_enis,
};
use serde_json::{Value, json};

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

/// `{"Key": .., "Value": ..}` pairs sorted by key, from SDK tags.
fn sdk_tags(tags: &[Tag]) -> Vec<Value> {
    let sorted: BTreeMap<&str, &str> = tags
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    sorted
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

/// The same, from demo tags.
fn raw_tags(tags: &[raw::Tag]) -> Vec<Value> {
    let sorted: BTreeMap<&str, &str> = tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    sorted
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

/// Rewrites moto ids in an SDK-side view to demo ids.
fn as_demo(seeded: &SeededDemo, view: &Value) -> Value {
    let text = serde_json::to_string(view).expect("a JSON value serialises");
    serde_json::from_str(&seeded.to_demo_ids(&text)).expect("id mapping keeps JSON valid")
}

/// What must match between a demo ENI and the seeded one. The primary ENI's description is
/// left out: moto names it `Primary network interface` and cannot clear it.
fn eni_view_sdk(eni: &NetworkInterface) -> Value {
    let attachment = eni.attachment();
    let device_index = attachment.and_then(|a| a.device_index());
    let mut ips: Vec<Value> = eni
        .private_ip_addresses()
        .iter()
        .map(|a| json!({"PrivateIpAddress": a.private_ip_address(), "Primary": a.primary()}))
        .collect();
    ips.sort_by_key(|v| v["PrivateIpAddress"].as_str().map(str::to_owned));
    let mut groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
    groups.sort_unstable();
    json!({
        "NetworkInterfaceId": eni.network_interface_id(),
        "SubnetId": eni.subnet_id(),
        "VpcId": eni.vpc_id(),
        "Description": if device_index == Some(0) { None } else { eni.description() },
        "Attachment": attachment.map(|a| json!({"InstanceId": a.instance_id(), "DeviceIndex": a.device_index()})),
        "PrivateIpAddress": eni.private_ip_address(),
        "PrivateIpAddresses": ips,
        "Groups": groups,
        "SourceDestCheck": eni.source_dest_check(),
        "TagSet": sdk_tags(eni.tag_set()),
    })
}

fn eni_view_demo(eni: &raw::NetworkInterface) -> Value {
    let attachment = eni.attachment.as_ref();
    let device_index = attachment.map(|a| a.device_index);
    let mut ips: Vec<Value> = eni
        .private_ip_addresses
        .iter()
        .map(|a| json!({"PrivateIpAddress": a.private_ip_address, "Primary": a.primary}))
        .collect();
    ips.sort_by_key(|v| v["PrivateIpAddress"].as_str().map(str::to_owned));
    let mut groups: Vec<&str> = eni.groups.iter().map(|g| g.group_id.as_str()).collect();
    groups.sort_unstable();
    json!({
        "NetworkInterfaceId": eni.network_interface_id,
        "SubnetId": eni.subnet_id,
        "VpcId": eni.vpc_id,
        "Description": if device_index == Some(0) { None } else { eni.description.as_deref() },
        "Attachment": attachment.map(|a| json!({"InstanceId": a.instance_id, "DeviceIndex": a.device_index})),
        "PrivateIpAddress": eni.private_ip_address,
        "PrivateIpAddresses": ips,
        "Groups": groups,
        "SourceDestCheck": eni.source_dest_check,
        "TagSet": raw_tags(&eni.tag_set),
    })
}

fn instance_view_sdk(instance: &Instance) -> Value {
    let mut enis: Vec<Value> = instance
        .network_interfaces()
        .iter()
        .map(|n| {
            json!({
                "DeviceIndex": n.attachment().and_then(|a| a.device_index()),
                "NetworkInterfaceId": n.network_interface_id(),
                "PrivateIpAddress": n.private_ip_address(),
            })
        })
        .collect();
    enis.sort_by_key(|v| v["DeviceIndex"].as_i64());
    json!({
        "InstanceId": instance.instance_id(),
        "PrivateIpAddress": instance.private_ip_address(),
        "SubnetId": instance.subnet_id(),
        "VpcId": instance.vpc_id(),
        "State": instance.state().and_then(|s| s.name()).map(|n| n.as_str()),
        "Tags": sdk_tags(instance.tags()),
        "NetworkInterfaces": enis,
    })
}

fn instance_view_demo(instance: &Value) -> Value {
    let mut enis: Vec<Value> = instance["NetworkInterfaces"]
        .as_array()
        .expect("demo instances list their ENIs")
        .iter()
        .map(|n| {
            json!({
                "DeviceIndex": n["Attachment"]["DeviceIndex"],
                "NetworkInterfaceId": n["NetworkInterfaceId"],
                "PrivateIpAddress": n["PrivateIpAddress"],
            })
        })
        .collect();
    enis.sort_by_key(|v| v["DeviceIndex"].as_i64());
    let tags: Vec<raw::Tag> =
        serde_json::from_value(instance["Tags"].clone()).expect("demo instance tags");
    json!({
        "InstanceId": instance["InstanceId"],
        "PrivateIpAddress": instance["PrivateIpAddress"],
        "SubnetId": instance["SubnetId"],
        "VpcId": instance["VpcId"],
        "State": instance["State"]["Name"],
        "Tags": raw_tags(&tags),
        "NetworkInterfaces": enis,
    })
}

fn route_table_view_sdk(table: &RouteTable) -> Value {
    let mut routes: Vec<Value> = table
        .routes()
        .iter()
        .map(|r| {
            let target = r
                .gateway_id()
                .or(r.vpc_peering_connection_id())
                .or(r.nat_gateway_id())
                .or(r.transit_gateway_id());
            json!({"DestinationCidrBlock": r.destination_cidr_block(), "Target": target})
        })
        .collect();
    routes.sort_by_key(|v| v.to_string());
    let mut associations: Vec<Value> = table
        .associations()
        .iter()
        .map(|a| json!({"Main": a.main().unwrap_or(false), "SubnetId": a.subnet_id()}))
        .collect();
    associations.sort_by_key(|v| v.to_string());
    json!({
        "RouteTableId": table.route_table_id(),
        "VpcId": table.vpc_id(),
        "Routes": routes,
        "Associations": associations,
        "Tags": sdk_tags(table.tags()),
    })
}

fn route_table_view_demo(table: &raw::RouteTable) -> Value {
    let mut routes: Vec<Value> = table
        .routes
        .iter()
        .map(|r| {
            let target = r
                .gateway_id
                .as_ref()
                .or(r.vpc_peering_connection_id.as_ref())
                .or(r.nat_gateway_id.as_ref())
                .or(r.transit_gateway_id.as_ref());
            json!({"DestinationCidrBlock": r.destination_cidr_block, "Target": target})
        })
        .collect();
    routes.sort_by_key(|v| v.to_string());
    let mut associations: Vec<Value> = table
        .associations
        .iter()
        .map(|a| json!({"Main": a.main, "SubnetId": a.subnet_id}))
        .collect();
    associations.sort_by_key(|v| v.to_string());
    json!({
        "RouteTableId": table.route_table_id,
        "VpcId": table.vpc_id,
        "Routes": routes,
        "Associations": associations,
        "Tags": raw_tags(&table.tags),
    })
}

/// Each side keyed by its (demo) id, so a failure shows which resource differs.
fn keyed(views: impl IntoIterator<Item = Value>, id: &str) -> BTreeMap<String, Value> {
    views
        .into_iter()
        .map(|v| (v[id].as_str().unwrap_or("?").to_owned(), v))
        .collect()
}

#[tokio::test]
async fn demo_topology_seeded_into_moto_describes_like_the_demo() {
    let (account, seeded) = fresh_account_with_demo().await;
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    let vpcs: Vec<String> = parse_demo_file::<raw::DescribeVpcs>("ec2/vpcs.json")
        .vpcs
        .iter()
        .map(|v| {
            seeded
                .moto_id(&v.vpc_id)
                .expect("every VPC seeded")
                .to_owned()
        })
        .collect();
    let in_demo_vpcs = filter("vpc-id", &vpcs);

    // VPCs and subnets: CIDRs, zones and tags.
    let described = ec2
        .describe_vpcs()
        .filters(in_demo_vpcs.clone())
        .send()
        .await
        .expect("DescribeVpcs");
    let got = keyed(
        described.vpcs().iter().map(|v| {
            let cidrs: Vec<&str> = v
                .cidr_block_association_set()
                .iter()
                .filter_map(|a| a.cidr_block())
                .collect();
            as_demo(
                &seeded,
                &json!({"VpcId": v.vpc_id(), "CidrBlock": v.cidr_block(), "Cidrs": cidrs, "Tags": sdk_tags(v.tags())}),
            )
        }),
        "VpcId",
    );
    let want = keyed(
        parse_demo_file::<raw::DescribeVpcs>("ec2/vpcs.json").vpcs.iter().map(|v| {
            let cidrs: Vec<&str> = v
                .cidr_block_association_set
                .iter()
                .map(|a| a.cidr_block.as_str())
                .collect();
            json!({"VpcId": v.vpc_id, "CidrBlock": v.cidr_block, "Cidrs": cidrs, "Tags": raw_tags(&v.tags)})
        }),
        "VpcId",
    );
    assert_eq!(got, want, "VPCs");

    let described = ec2
        .describe_subnets()
        .filters(in_demo_vpcs.clone())
        .send()
        .await
        .expect("DescribeSubnets");
    let got = keyed(
        described.subnets().iter().map(|s| {
            as_demo(
                &seeded,
                &json!({"SubnetId": s.subnet_id(), "VpcId": s.vpc_id(), "CidrBlock": s.cidr_block(),
                        "AvailabilityZone": s.availability_zone(), "Tags": sdk_tags(s.tags())}),
            )
        }),
        "SubnetId",
    );
    let want = keyed(
        parse_demo_file::<raw::DescribeSubnets>("ec2/subnets.json")
            .subnets
            .iter()
            .map(|s| {
                json!({"SubnetId": s.subnet_id, "VpcId": s.vpc_id, "CidrBlock": s.cidr_block,
                       "AvailabilityZone": s.availability_zone, "Tags": raw_tags(&s.tags)})
            }),
        "SubnetId",
    );
    assert_eq!(got, want, "subnets");

    // ENIs: addresses, attachments, tags, descriptions, groups.
    let described = ec2
        .describe_network_interfaces()
        .filters(in_demo_vpcs.clone())
        .send()
        .await
        .expect("DescribeNetworkInterfaces");
    let got = keyed(
        described
            .network_interfaces()
            .iter()
            .map(|e| as_demo(&seeded, &eni_view_sdk(e))),
        "NetworkInterfaceId",
    );
    let want = keyed(
        parse_demo_file::<raw::DescribeNetworkInterfaces>("ec2/network-interfaces.json")
            .network_interfaces
            .iter()
            .map(eni_view_demo),
        "NetworkInterfaceId",
    );
    assert_eq!(got, want, "ENIs");

    // Instances: primary address, state, tags, ENIs by device index.
    let described = ec2
        .describe_instances()
        .filters(in_demo_vpcs.clone())
        .send()
        .await
        .expect("DescribeInstances");
    let got = keyed(
        described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| as_demo(&seeded, &instance_view_sdk(i))),
        "InstanceId",
    );
    let instances: Value = parse_demo_file("ec2/instances.json");
    let want = keyed(
        instances["Reservations"]
            .as_array()
            .expect("demo reservations")
            .iter()
            .flat_map(|r| r["Instances"].as_array().expect("demo instances"))
            .map(instance_view_demo),
        "InstanceId",
    );
    assert_eq!(got, want, "instances");

    // Route tables the demo lists (moto's main table of `shop` is an extra, see seed.rs).
    let mut demo_tables =
        parse_demo_file::<raw::DescribeRouteTables>("ec2/route-tables.json").route_tables;
    demo_tables.extend(
        parse_demo_file::<raw::DescribeRouteTables>("ec2/peer-route-tables.json").route_tables,
    );
    let ids: Vec<String> = demo_tables
        .iter()
        .map(|t| {
            seeded
                .moto_id(&t.route_table_id)
                .expect("table seeded")
                .to_owned()
        })
        .collect();
    let described = ec2
        .describe_route_tables()
        .set_route_table_ids(Some(ids))
        .send()
        .await
        .expect("DescribeRouteTables");
    let got = keyed(
        described
            .route_tables()
            .iter()
            .map(|t| as_demo(&seeded, &route_table_view_sdk(t))),
        "RouteTableId",
    );
    let want = keyed(
        demo_tables.iter().map(route_table_view_demo),
        "RouteTableId",
    );
    assert_eq!(got, want, "route tables");

    // Peering connections: both sides, status, tags.
    let described = ec2
        .describe_vpc_peering_connections()
        .send()
        .await
        .expect("DescribeVpcPeeringConnections");
    let got = keyed(
        described.vpc_peering_connections().iter().map(|p| {
            as_demo(
                &seeded,
                &json!({
                    "VpcPeeringConnectionId": p.vpc_peering_connection_id(),
                    "Requester": p.requester_vpc_info().and_then(|v| v.vpc_id()),
                    "Accepter": p.accepter_vpc_info().and_then(|v| v.vpc_id()),
                    "Status": p.status().and_then(|s| s.code()).map(|c| c.as_str()),
                    "Tags": sdk_tags(p.tags()),
                }),
            )
        }),
        "VpcPeeringConnectionId",
    );
    let want = keyed(
        parse_demo_file::<raw::DescribeVpcPeeringConnections>("ec2/vpc-peering-connections.json")
            .vpc_peering_connections
            .iter()
            .map(|p| {
                json!({
                    "VpcPeeringConnectionId": p.vpc_peering_connection_id,
                    "Requester": p.requester_vpc_info.vpc_id,
                    "Accepter": p.accepter_vpc_info.vpc_id,
                    "Status": p.status.code,
                    "Tags": raw_tags(&p.tags),
                })
            }),
        "VpcPeeringConnectionId",
    );
    assert_eq!(got, want, "peering connections");

    // EKS clusters: version, subnets, service CIDR.
    let eks = aws_sdk_eks::Client::new(&account.config);
    for name in ["shop", "legacy"] {
        let want: raw::DescribeCluster = parse_demo_file(&format!("{name}/cluster.json"));
        let got = eks
            .describe_cluster()
            .name(name)
            .send()
            .await
            .expect("DescribeCluster");
        let cluster = got.cluster().expect("a cluster");
        let subnets: Vec<String> = cluster
            .resources_vpc_config()
            .map(|c| {
                c.subnet_ids()
                    .iter()
                    .map(|s| seeded.to_demo_ids(s))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            cluster.version(),
            want.cluster.version.as_deref(),
            "{name} version"
        );
        assert_eq!(
            subnets, want.cluster.resources_vpc_config.subnet_ids,
            "{name} subnets"
        );
        assert_eq!(
            cluster
                .kubernetes_network_config()
                .and_then(|n| n.service_ipv4_cidr()),
            want.cluster
                .kubernetes_network_config
                .as_ref()
                .and_then(|n| n.service_ipv4_cidr.as_deref()),
            "{name} service CIDR"
        );
        assert_eq!(
            cluster.status().map(|s| s.as_str()),
            Some("ACTIVE"),
            "{name} status"
        );
    }
}

#[tokio::test]
async fn each_account_is_isolated() {
    let moto = Moto::shared();
    let first = moto.account().await;
    let second = moto.account().await;
    assert_ne!(first.id, second.id);

    let ec2 = aws_sdk_ec2::Client::new(&first.config);
    let created = ec2
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .cloned()
        .expect("a VPC");
    assert_eq!(
        created.owner_id(),
        Some(first.id.as_str()),
        "owned by the first account"
    );

    let cidrs = |out: aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput| -> Vec<String> {
        out.vpcs()
            .iter()
            .filter_map(|v| v.cidr_block())
            .map(str::to_owned)
            .collect()
    };
    let seen_by_first = cidrs(ec2.describe_vpcs().send().await.expect("DescribeVpcs"));
    let seen_by_second = cidrs(
        aws_sdk_ec2::Client::new(&second.config)
            .describe_vpcs()
            .send()
            .await
            .expect("DescribeVpcs"),
    );
    assert!(
        seen_by_first.contains(&"10.77.0.0/16".to_owned()),
        "{seen_by_first:?}"
    );
    assert!(
        !seen_by_second.contains(&"10.77.0.0/16".to_owned()),
        "{seen_by_second:?}"
    );
}

#[tokio::test]
async fn many_enis_seeds_the_requested_count() {
    let account = Moto::shared().account().await;
    let count = 300;
    let started = std::time::Instant::now();
    let seeded = seed_many_enis(&account.config, count)
        .await
        .expect("seed the bulk cluster");
    eprintln!("seeded {count} ENIs in {:.1?}", started.elapsed());
    assert_eq!(seeded.eni_ids.len(), count);
    assert_eq!(seeded.attached_enis + seeded.unattached_enis, count);
    assert_eq!(seeded.instance_ids.len(), 10);

    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    let in_vpc = filter("vpc-id", std::slice::from_ref(&seeded.vpc_id));
    let enis: Vec<NetworkInterface> = ec2
        .describe_network_interfaces()
        .filters(in_vpc)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("DescribeNetworkInterfaces");
    assert_eq!(enis.len(), count, "ENIs in the bulk VPC");
    let attached = enis.iter().filter(|e| e.attachment().is_some()).count();
    assert_eq!(attached, seeded.attached_enis);
    let addresses: usize = enis.iter().map(|e| e.private_ip_addresses().len()).sum();
    assert_eq!(
        addresses,
        count * 3,
        "a primary and two secondary addresses each"
    );
    assert_eq!(seeded.private_ips, addresses);

    let nodes = ec2
        .describe_instances()
        .filters(filter("tag:eks:cluster-name", &[BULK_CLUSTER.to_owned()]))
        .filters(filter(
            "tag:kubernetes.io/cluster/bulk",
            &["owned".to_owned()],
        ))
        .send()
        .await
        .expect("DescribeInstances");
    let nodes: usize = nodes
        .reservations()
        .iter()
        .map(|r| r.instances().len())
        .sum();
    assert_eq!(nodes, 10);

    let cluster = aws_sdk_eks::Client::new(&account.config)
        .describe_cluster()
        .name(BULK_CLUSTER)
        .send()
        .await
        .expect("DescribeCluster bulk");
    let subnets = cluster
        .cluster()
        .and_then(|c| c.resources_vpc_config())
        .map(|c| c.subnet_ids().to_vec())
        .unwrap_or_default();
    assert_eq!(subnets, seeded.subnet_ids);
}

#[tokio::test]
async fn an_account_env_puts_another_process_in_that_account() {
    let account = Moto::shared().account().await;
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import boto3; print(boto3.client('sts').get_caller_identity()['Account'])",
        ])
        .env_remove("AWS_PROFILE")
        .envs(account.env())
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), account.id);
}

#[tokio::test]
async fn a_reset_forgets_every_resource() {
    // A private server: a reset of the shared one would disturb the tests running alongside.
    let moto = Moto::start();
    let account = moto.account().await;
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    ec2.create_vpc()
        .cidr_block("10.88.0.0/16")
        .send()
        .await
        .expect("CreateVpc");

    moto.reset();

    let fresh = moto.account().await;
    let vpcs = aws_sdk_ec2::Client::new(&fresh.config)
        .describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs");
    let cidrs: Vec<&str> = vpcs.vpcs().iter().filter_map(|v| v.cidr_block()).collect();
    assert!(!cidrs.contains(&"10.88.0.0/16"), "{cidrs:?}");
    let old = ec2.describe_vpcs().send().await.expect("DescribeVpcs");
    assert!(
        !old.vpcs()
            .iter()
            .any(|v| v.cidr_block() == Some("10.88.0.0/16")),
        "the VPC is gone for the old credentials too"
    );
}
