//! Recreating the bundled demo in a moto account ([`seed_demo`]), and the usual start of a test
//! that needs it ([`fresh_account_with_demo`]).
//!
//! [`seed_demo`] goes in the order the objects depend on each other: VPCs with their CIDRs,
//! subnets, the security groups the ENIs carry and their inbound rules, the default network
//! ACLs, peering connections, then the route tables (`routes`), the instances with their primary
//! ENIs and every other ENI (`instances`), and last the EKS clusters (`cluster`). Each step
//! records the id moto gave an object in [`SeededDemo`], so the later steps can name it. What moto
//! cannot reproduce is listed in the `seed` module doc.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::ResourceType;
use podreach_core::raw;

use super::SeededDemo;
use super::calls::{filter, missing, sdk, tag_specs};
use super::cluster::seed_cluster;
use super::demo_files::demo;
use super::instances::{seed_eni, seed_instance};
use super::routes::seed_route_table;
use crate::moto::{Account, Moto};

/// A fresh account of the shared moto server with the demo recreated in it ([`seed_demo`]).
pub async fn fresh_account_with_demo() -> (Account, SeededDemo) {
    let account = Moto::shared().account().await;
    let seeded = seed_demo(&account.config)
        .await
        .expect("the demo is recreated in moto");
    (account, seeded)
}

/// Recreates the bundled demo topology in the account of `config` (see the `seed` module doc for
/// what moto cannot reproduce).
pub async fn seed_demo(config: &SdkConfig) -> Result<SeededDemo, String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let eks = aws_sdk_eks::Client::new(config);

    let vpcs: raw::DescribeVpcs = demo("ec2/vpcs.json")?;
    let subnets: raw::DescribeSubnets = demo("ec2/subnets.json")?;
    let mut tables: raw::DescribeRouteTables = demo("ec2/route-tables.json")?;
    let peer_tables: raw::DescribeRouteTables = demo("ec2/peer-route-tables.json")?;
    tables.route_tables.extend(peer_tables.route_tables);
    let enis: raw::DescribeNetworkInterfaces = demo("ec2/network-interfaces.json")?;
    let instances: serde_json::Value = demo("ec2/instances.json")?;
    let peerings: raw::DescribeVpcPeeringConnections = demo("ec2/vpc-peering-connections.json")?;

    let mut seeded = SeededDemo::default();
    let mut main_tables = BTreeMap::new(); // moto VPC id -> (main rtb, its main association)

    for vpc in &vpcs.vpcs {
        let out = ec2
            .create_vpc()
            .cidr_block(&vpc.cidr_block)
            .set_tag_specifications(tag_specs(
                ResourceType::Vpc,
                vpc.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
            ))
            .send()
            .await
            .map_err(sdk("CreateVpc", &vpc.vpc_id))?;
        let created = out.vpc().ok_or_else(|| missing("CreateVpc", "Vpc"))?;
        let vpc_id = created
            .vpc_id()
            .ok_or_else(|| missing("CreateVpc", "VpcId"))?
            .to_owned();
        seeded.map(&vpc.vpc_id, &vpc_id);
        for assoc in &vpc.cidr_block_association_set {
            let moto_assoc = if assoc.cidr_block == vpc.cidr_block {
                created
                    .cidr_block_association_set()
                    .iter()
                    .find(|a| a.cidr_block() == Some(assoc.cidr_block.as_str()))
                    .and_then(|a| a.association_id())
                    .map(str::to_owned)
            } else {
                ec2.associate_vpc_cidr_block()
                    .vpc_id(&vpc_id)
                    .cidr_block(&assoc.cidr_block)
                    .send()
                    .await
                    .map_err(sdk("AssociateVpcCidrBlock", &assoc.cidr_block))?
                    .cidr_block_association()
                    .and_then(|a| a.association_id())
                    .map(str::to_owned)
            };
            if let (Some(demo_assoc), Some(moto_assoc)) = (&assoc.association_id, moto_assoc) {
                seeded.map(demo_assoc, &moto_assoc);
            }
        }
        let main = ec2
            .describe_route_tables()
            .filters(filter("vpc-id", &vpc_id))
            .filters(filter("association.main", "true"))
            .send()
            .await
            .map_err(sdk("DescribeRouteTables", &vpc_id))?;
        let table = main
            .route_tables()
            .first()
            .ok_or_else(|| format!("moto made no main route table for {vpc_id}"))?;
        let rtb = table
            .route_table_id()
            .ok_or_else(|| missing("DescribeRouteTables", "RouteTableId"))?;
        let assoc = table
            .associations()
            .iter()
            .find(|a| a.main() == Some(true))
            .and_then(|a| a.route_table_association_id())
            .ok_or_else(|| missing("DescribeRouteTables", "main association"))?;
        main_tables.insert(vpc_id.clone(), (rtb.to_owned(), assoc.to_owned()));
    }

    for subnet in &subnets.subnets {
        let out = ec2
            .create_subnet()
            .vpc_id(seeded.moto_id(&subnet.vpc_id)?)
            .cidr_block(&subnet.cidr_block)
            .availability_zone(&subnet.availability_zone)
            .set_tag_specifications(tag_specs(
                ResourceType::Subnet,
                subnet
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            ))
            .send()
            .await
            .map_err(sdk("CreateSubnet", &subnet.subnet_id))?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .ok_or_else(|| missing("CreateSubnet", "SubnetId"))?;
        seeded.map(&subnet.subnet_id, id);
    }

    // Security groups named by the ENIs, one per demo group id, in the ENI's VPC.
    let mut groups = BTreeMap::new();
    for eni in &enis.network_interfaces {
        for group in &eni.groups {
            groups
                .entry(group.group_id.clone())
                .or_insert_with(|| (eni.vpc_id.clone(), group.group_name.clone()));
        }
    }
    for (group_id, (vpc_id, name)) in &groups {
        let vpc = seeded.moto_id(vpc_id)?.to_owned();
        let name = name.clone().unwrap_or_else(|| group_id.clone());
        let id = if name == "default" {
            ec2.describe_security_groups()
                .filters(filter("vpc-id", &vpc))
                .filters(filter("group-name", "default"))
                .send()
                .await
                .map_err(sdk("DescribeSecurityGroups", &vpc))?
                .security_groups()
                .first()
                .and_then(|g| g.group_id())
                .map(str::to_owned)
                .ok_or_else(|| format!("no default security group in {vpc}"))?
        } else {
            ec2.create_security_group()
                .group_name(&name)
                .description(format!("podreach demo {name}"))
                .vpc_id(&vpc)
                .send()
                .await
                .map_err(sdk("CreateSecurityGroup", group_id))?
                .group_id()
                .ok_or_else(|| missing("CreateSecurityGroup", "GroupId"))?
                .to_owned()
        };
        seeded.map(group_id, &id);
    }
    // Their rules, as `ec2/security-groups.json` lists them (moto gives a new group the same
    // allow-all egress rule the demo's groups have, so only the inbound rules are added), and
    // each VPC's default network ACL, which the demo's (allow-all) ACLs stand for.
    let demo_groups: raw::DescribeSecurityGroups = demo("ec2/security-groups.json")?;
    for group in &demo_groups.security_groups {
        let Ok(id) = seeded.moto_id(&group.group_id).map(str::to_owned) else {
            continue; // carried by no demo ENI
        };
        let mut permissions = Vec::new();
        for p in &group.ip_permissions {
            let mut pairs = Vec::new();
            for pair in &p.user_id_group_pairs {
                let group_id = pair.group_id.as_deref().unwrap_or_default();
                pairs.push(
                    aws_sdk_ec2::types::UserIdGroupPair::builder()
                        .group_id(seeded.moto_id(group_id)?)
                        .build(),
                );
            }
            permissions.push(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol(&p.ip_protocol)
                    .set_from_port(p.from_port.and_then(|v| i32::try_from(v).ok()))
                    .set_to_port(p.to_port.and_then(|v| i32::try_from(v).ok()))
                    .set_ip_ranges(Some(
                        p.ip_ranges
                            .iter()
                            .map(|r| {
                                aws_sdk_ec2::types::IpRange::builder()
                                    .cidr_ip(&r.cidr_ip)
                                    .set_description(r.description.clone())
                                    .build()
                            })
                            .collect(),
                    ))
                    .set_user_id_group_pairs(Some(pairs))
                    .build(),
            );
        }
        ec2.authorize_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map_err(sdk("AuthorizeSecurityGroupIngress", &group.group_id))?;
    }
    let demo_acls: raw::DescribeNetworkAcls = demo("ec2/network-acls.json")?;
    for acl in &demo_acls.network_acls {
        let vpc = seeded.moto_id(&acl.vpc_id)?.to_owned();
        let id = ec2
            .describe_network_acls()
            .filters(filter("vpc-id", &vpc))
            .filters(filter("default", "true"))
            .send()
            .await
            .map_err(sdk("DescribeNetworkAcls", &vpc))?
            .network_acls()
            .first()
            .and_then(|a| a.network_acl_id())
            .map(str::to_owned)
            .ok_or_else(|| format!("no default network ACL in {vpc}"))?;
        seeded.map(&acl.network_acl_id, &id);
    }

    for peering in &peerings.vpc_peering_connections {
        let pcx = &peering.vpc_peering_connection_id;
        let requester = peering
            .requester_vpc_info
            .vpc_id
            .as_deref()
            .ok_or_else(|| format!("{pcx}: no requester VpcId"))?;
        let accepter = peering
            .accepter_vpc_info
            .vpc_id
            .as_deref()
            .ok_or_else(|| format!("{pcx}: no accepter VpcId"))?;
        let id = ec2
            .create_vpc_peering_connection()
            .vpc_id(seeded.moto_id(requester)?)
            .peer_vpc_id(seeded.moto_id(accepter)?)
            .set_tag_specifications(tag_specs(
                ResourceType::VpcPeeringConnection,
                peering
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            ))
            .send()
            .await
            .map_err(sdk("CreateVpcPeeringConnection", pcx))?
            .vpc_peering_connection()
            .and_then(|p| p.vpc_peering_connection_id())
            .ok_or_else(|| missing("CreateVpcPeeringConnection", "VpcPeeringConnectionId"))?
            .to_owned();
        match peering.status.code.as_str() {
            "active" => {
                ec2.accept_vpc_peering_connection()
                    .vpc_peering_connection_id(&id)
                    .send()
                    .await
                    .map_err(sdk("AcceptVpcPeeringConnection", pcx))?;
            }
            "pending-acceptance" => {}
            "rejected" => {
                ec2.reject_vpc_peering_connection()
                    .vpc_peering_connection_id(&id)
                    .send()
                    .await
                    .map_err(sdk("RejectVpcPeeringConnection", pcx))?;
            }
            "deleted" => {
                ec2.delete_vpc_peering_connection()
                    .vpc_peering_connection_id(&id)
                    .send()
                    .await
                    .map_err(sdk("DeleteVpcPeeringConnection", pcx))?;
            }
            other => return Err(format!("{pcx}: peering status {other} cannot be seeded")),
        }
        seeded.map(pcx, &id);
    }

    for table in &tables.route_tables {
        seed_route_table(&ec2, &mut seeded, &main_tables, &subnets, table).await?;
    }

    // Instances, with their primary ENI (device index 0) as RunInstances creates it.
    let primary_of: BTreeMap<&str, &raw::NetworkInterface> = enis
        .network_interfaces
        .iter()
        .filter_map(|eni| {
            let attachment = eni.attachment.as_ref()?;
            (attachment.device_index == 0).then_some((attachment.instance_id.as_deref()?, eni))
        })
        .collect();
    let reservations = instances["Reservations"]
        .as_array()
        .ok_or("ec2/instances.json: no Reservations")?;
    for reservation in reservations {
        let demo_reservation = reservation["ReservationId"].as_str();
        let list = reservation["Instances"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for value in list {
            let image = value["ImageId"]
                .as_str()
                .unwrap_or("ami-12c6146b")
                .to_owned();
            let instance: raw::Instance =
                serde_json::from_value(value).map_err(|e| format!("ec2/instances.json: {e}"))?;
            let primary = primary_of.get(instance.instance_id.as_str()).copied();
            seed_instance(
                &ec2,
                &mut seeded,
                &instance,
                &image,
                demo_reservation,
                primary,
            )
            .await?;
        }
    }

    for eni in &enis.network_interfaces {
        seed_eni(&ec2, &mut seeded, eni, &primary_of).await?;
    }

    for (path, text) in podreach_core::demo::FILES {
        if path.ends_with("/cluster.json") {
            seed_cluster(&eks, &seeded, path, text).await?;
        }
    }
    Ok(seeded)
}
