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
use std::future::Future;
use std::net::Ipv4Addr;

use aws_config::SdkConfig;
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, GatewayType, InstanceType,
    NetworkInterfaceCreationType, ResourceType, Tag, TagSpecification,
};
use podreach_core::raw;
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use crate::moto::{Account, Moto};

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

/// A demo file's text, from the demo embedded in podreach-core.
fn demo_text(path: &str) -> Result<&'static str, String> {
    podreach_core::demo::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
        .ok_or_else(|| format!("demo file {path} not found"))
}

fn demo<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    serde_json::from_str(demo_text(path)?).map_err(|e| format!("demo file {path}: {e}"))
}

/// The text of the demo file `path` (`shop/pods.json`); fails the test if the demo has none.
pub fn demo_file_text(path: &str) -> &'static str {
    demo_text(path).expect("the demo has this file")
}

/// The demo file `path` parsed as `T`; fails the test if the demo has no such file or it does
/// not parse as `T`.
pub fn parse_demo_file<T: DeserializeOwned>(path: &str) -> T {
    demo(path).expect("the demo file exists and parses")
}

/// A fresh account of the shared moto server with the demo recreated in it ([`seed_demo`]).
pub async fn fresh_account_with_demo() -> (Account, SeededDemo) {
    let account = Moto::shared().account().await;
    let seeded = seed_demo(&account.config)
        .await
        .expect("the demo is recreated in moto");
    (account, seeded)
}

/// Formats an SDK error with its whole chain of causes.
fn sdk<E: std::error::Error>(operation: &'static str, what: &str) -> impl FnOnce(E) -> String {
    let what = what.to_owned();
    move |e| format!("{operation} ({what}): {}", DisplayErrorContext(&e))
}

fn missing(operation: &str, field: &str) -> String {
    format!("{operation} returned no {field}")
}

fn tag_specs<'a>(
    resource: ResourceType,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Vec<TagSpecification>> {
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    (!tags.is_empty()).then(|| {
        vec![
            TagSpecification::builder()
                .resource_type(resource)
                .set_tags(Some(tags))
                .build(),
        ]
    })
}

/// Demo tags with demo ids in keys and values rewritten to moto ids.
fn moto_tags(seeded: &SeededDemo, tags: &[raw::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (seeded.to_moto_ids(&t.key), seeded.to_moto_ids(&t.value)))
        .collect()
}

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Recreates the bundled demo topology in the account of `config` (see the module doc for what
/// moto cannot reproduce).
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

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn seed_route_table(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    main_tables: &BTreeMap<String, (String, String)>,
    subnets: &raw::DescribeSubnets,
    table: &raw::RouteTable,
) -> Result<(), String> {
    let demo_rtb = &table.route_table_id;
    let vpc_id = seeded.moto_id(&table.vpc_id)?.to_owned();
    let is_main = table.associations.iter().any(|a| a.main);
    let rtb = if is_main {
        let (rtb, assoc) = main_tables
            .get(&vpc_id)
            .ok_or_else(|| format!("{demo_rtb}: no main route table for {vpc_id}"))?;
        if let Some(demo_assoc) = table
            .associations
            .iter()
            .find(|a| a.main)
            .and_then(|a| a.route_table_association_id.as_deref())
        {
            seeded.map(demo_assoc, assoc);
        }
        if !table.tags.is_empty() {
            ec2.create_tags()
                .resources(rtb)
                .set_tags(Some(
                    table
                        .tags
                        .iter()
                        .map(|t| Tag::builder().key(&t.key).value(&t.value).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(sdk("CreateTags", demo_rtb))?;
        }
        rtb.clone()
    } else {
        ec2.create_route_table()
            .vpc_id(&vpc_id)
            .set_tag_specifications(tag_specs(
                ResourceType::RouteTable,
                table
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            ))
            .send()
            .await
            .map_err(sdk("CreateRouteTable", demo_rtb))?
            .route_table()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| missing("CreateRouteTable", "RouteTableId"))?
            .to_owned()
    };
    seeded.map(demo_rtb, &rtb);

    for route in &table.routes {
        let destination = route.destination_cidr_block.as_deref().ok_or_else(|| {
            format!("{demo_rtb}: only IPv4 destinations can be seeded, not {route:?}")
        })?;
        if route.gateway_id.as_deref() == Some("local") {
            continue; // moto creates the local route of every VPC CIDR itself
        }
        if route.state.as_deref() == Some("blackhole") {
            return Err(format!(
                "{demo_rtb} {destination}: blackhole routes cannot be seeded"
            ));
        }
        let unsupported = [
            &route.destination_ipv6_cidr_block,
            &route.destination_prefix_list_id,
            &route.local_gateway_id,
            &route.network_interface_id,
            &route.instance_id,
            &route.egress_only_internet_gateway_id,
            &route.carrier_gateway_id,
            &route.core_network_arn,
        ];
        if unsupported.iter().any(|field| field.is_some()) {
            return Err(format!(
                "{demo_rtb}: route {route:?} has a target the seeder does not support"
            ));
        }
        let mut create = ec2
            .create_route()
            .route_table_id(&rtb)
            .destination_cidr_block(destination);
        if let Some(pcx) = &route.vpc_peering_connection_id {
            create = create.vpc_peering_connection_id(seeded.moto_id(pcx)?);
        } else if let Some(gateway) = &route.gateway_id {
            let id = ensure_gateway(ec2, seeded, gateway, &vpc_id).await?;
            create = create.gateway_id(id);
        } else if let Some(nat) = &route.nat_gateway_id {
            let subnet = subnets
                .subnets
                .iter()
                .find(|s| s.vpc_id == table.vpc_id)
                .ok_or_else(|| format!("{nat}: the demo has no subnet in {}", table.vpc_id))?;
            let subnet = seeded.moto_id(&subnet.subnet_id)?.to_owned();
            let id = ensure_nat_gateway(ec2, seeded, nat, &subnet).await?;
            create = create.nat_gateway_id(id);
        } else if let Some(tgw) = &route.transit_gateway_id {
            let id = ensure_transit_gateway(ec2, seeded, tgw).await?;
            create = create.transit_gateway_id(id);
        } else {
            return Err(format!("{demo_rtb} {destination}: route without a target"));
        }
        create
            .send()
            .await
            .map_err(sdk("CreateRoute", &format!("{demo_rtb} {destination}")))?;
    }

    for assoc in &table.associations {
        if assoc.main {
            continue;
        }
        let Some(subnet) = &assoc.subnet_id else {
            return Err(format!(
                "{demo_rtb}: only subnet associations can be seeded, not {assoc:?}"
            ));
        };
        let id = ec2
            .associate_route_table()
            .route_table_id(&rtb)
            .subnet_id(seeded.moto_id(subnet)?)
            .send()
            .await
            .map_err(sdk("AssociateRouteTable", &format!("{demo_rtb} {subnet}")))?
            .association_id()
            .ok_or_else(|| missing("AssociateRouteTable", "AssociationId"))?
            .to_owned();
        if let Some(demo_assoc) = &assoc.route_table_association_id {
            seeded.map(demo_assoc, &id);
        }
    }
    Ok(())
}

/// The moto id of an internet (`igw-`) or virtual private (`vgw-`) gateway, created and attached
/// to `vpc_id` on first use.
async fn ensure_gateway(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    gateway: &str,
    vpc_id: &str,
) -> Result<String, String> {
    if let Ok(id) = seeded.moto_id(gateway) {
        return Ok(id.to_owned());
    }
    let id = if gateway.starts_with("igw-") {
        let id = ec2
            .create_internet_gateway()
            .send()
            .await
            .map_err(sdk("CreateInternetGateway", gateway))?
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| missing("CreateInternetGateway", "InternetGatewayId"))?
            .to_owned();
        ec2.attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(sdk("AttachInternetGateway", gateway))?;
        id
    } else if gateway.starts_with("vgw-") {
        let id = ec2
            .create_vpn_gateway()
            .r#type(GatewayType::Ipsec1)
            .send()
            .await
            .map_err(sdk("CreateVpnGateway", gateway))?
            .vpn_gateway()
            .and_then(|g| g.vpn_gateway_id())
            .ok_or_else(|| missing("CreateVpnGateway", "VpnGatewayId"))?
            .to_owned();
        ec2.attach_vpn_gateway()
            .vpn_gateway_id(&id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(sdk("AttachVpnGateway", gateway))?;
        id
    } else {
        return Err(format!(
            "gateway {gateway}: the seeder supports igw- and vgw- only"
        ));
    };
    seeded.map(gateway, &id);
    Ok(id)
}

async fn ensure_nat_gateway(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    nat: &str,
    subnet_id: &str,
) -> Result<String, String> {
    if let Ok(id) = seeded.moto_id(nat) {
        return Ok(id.to_owned());
    }
    let allocation = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .map_err(sdk("AllocateAddress", nat))?
        .allocation_id()
        .ok_or_else(|| missing("AllocateAddress", "AllocationId"))?
        .to_owned();
    let out = ec2
        .create_nat_gateway()
        .subnet_id(subnet_id)
        .allocation_id(allocation)
        .send()
        .await
        .map_err(sdk("CreateNatGateway", nat))?;
    let gateway = out
        .nat_gateway()
        .ok_or_else(|| missing("CreateNatGateway", "NatGateway"))?;
    let id = gateway
        .nat_gateway_id()
        .ok_or_else(|| missing("CreateNatGateway", "NatGatewayId"))?
        .to_owned();
    // moto gives the gateway's own ENI a random 10.x address, outside the subnet; the demo
    // does not list it (it lives in a public subnet outside the snapshot): remove it.
    for eni in gateway
        .nat_gateway_addresses()
        .iter()
        .filter_map(|a| a.network_interface_id())
    {
        ec2.delete_network_interface()
            .network_interface_id(eni)
            .send()
            .await
            .map_err(sdk("DeleteNetworkInterface", nat))?;
    }
    seeded.map(nat, &id);
    Ok(id)
}

async fn ensure_transit_gateway(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    tgw: &str,
) -> Result<String, String> {
    if let Ok(id) = seeded.moto_id(tgw) {
        return Ok(id.to_owned());
    }
    let id = ec2
        .create_transit_gateway()
        .send()
        .await
        .map_err(sdk("CreateTransitGateway", tgw))?
        .transit_gateway()
        .and_then(|g| g.transit_gateway_id())
        .ok_or_else(|| missing("CreateTransitGateway", "TransitGatewayId"))?
        .to_owned();
    seeded.map(tgw, &id);
    Ok(id)
}

async fn seed_instance(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    instance: &raw::Instance,
    image: &str,
    demo_reservation: Option<&str>,
    primary: Option<&raw::NetworkInterface>,
) -> Result<(), String> {
    let demo_id = &instance.instance_id;
    let subnet = instance
        .subnet_id
        .as_deref()
        .ok_or_else(|| format!("{demo_id}: no SubnetId"))?;
    let mut groups = Vec::new();
    for group in primary.map(|eni| eni.groups.as_slice()).unwrap_or_default() {
        groups.push(seeded.moto_id(&group.group_id)?.to_owned());
    }
    let tags = moto_tags(seeded, &instance.tags);
    let out = ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::from(
            instance.instance_type.as_deref().unwrap_or("m5.large"),
        ))
        .min_count(1)
        .max_count(1)
        .subnet_id(seeded.moto_id(subnet)?)
        .set_private_ip_address(instance.private_ip_address.clone())
        .set_security_group_ids((!groups.is_empty()).then_some(groups))
        .set_tag_specifications(tag_specs(ResourceType::Instance, pairs(&tags)))
        .send()
        .await
        .map_err(sdk("RunInstances", demo_id))?;
    let created = out
        .instances()
        .first()
        .ok_or_else(|| missing("RunInstances", "Instances"))?;
    let id = created
        .instance_id()
        .ok_or_else(|| missing("RunInstances", "InstanceId"))?
        .to_owned();
    seeded.map(demo_id, &id);
    if let (Some(demo), Some(moto)) = (demo_reservation, out.reservation_id()) {
        seeded.map(demo, moto);
    }
    if let Some(eni) = primary {
        let moto_eni = created
            .network_interfaces()
            .iter()
            .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
            .ok_or_else(|| format!("{demo_id}: moto made no primary ENI"))?;
        let moto_eni_id = moto_eni
            .network_interface_id()
            .ok_or_else(|| missing("RunInstances", "NetworkInterfaceId"))?;
        seeded.map(&eni.network_interface_id, moto_eni_id);
        if let (Some(demo), Some(moto)) = (
            eni.attachment
                .as_ref()
                .and_then(|a| a.attachment_id.as_deref()),
            moto_eni.attachment().and_then(|a| a.attachment_id()),
        ) {
            seeded.map(demo, moto);
        }
    }
    match instance.state.as_ref().map(|s| s.name.as_str()) {
        None | Some("running") => {}
        Some("stopped") => {
            ec2.stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(sdk("StopInstances", demo_id))?;
        }
        Some("terminated") => {
            ec2.terminate_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(sdk("TerminateInstances", demo_id))?;
        }
        Some(other) => {
            return Err(format!(
                "{demo_id}: instance state {other} cannot be seeded"
            ));
        }
    }
    Ok(())
}

/// Creates (unless it is an instance's primary ENI) and attaches one ENI, then gives it its
/// secondary addresses, tags and source/destination check.
async fn seed_eni(
    ec2: &aws_sdk_ec2::Client,
    seeded: &mut SeededDemo,
    eni: &raw::NetworkInterface,
    primary_of: &BTreeMap<&str, &raw::NetworkInterface>,
) -> Result<(), String> {
    let demo_id = &eni.network_interface_id;
    if !eni.ipv4_prefixes.is_empty() || !eni.ipv6_addresses.is_empty() {
        return Err(format!(
            "{demo_id}: IPv4 prefixes and IPv6 addresses cannot be seeded (moto has no prefix delegation)"
        ));
    }
    let is_primary = primary_of
        .values()
        .any(|p| p.network_interface_id == *demo_id);
    let tags = moto_tags(seeded, &eni.tag_set);
    let id = if is_primary {
        let id = seeded.moto_id(demo_id)?.to_owned();
        if !tags.is_empty() {
            ec2.create_tags()
                .resources(&id)
                .set_tags(Some(
                    pairs(&tags)
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(sdk("CreateTags", demo_id))?;
        }
        id
    } else {
        let mut groups = Vec::new();
        for group in &eni.groups {
            groups.push(seeded.moto_id(&group.group_id)?.to_owned());
        }
        let id = ec2
            .create_network_interface()
            .subnet_id(seeded.moto_id(&eni.subnet_id)?)
            .set_private_ip_address(eni.private_ip_address.clone())
            .set_description(eni.description.as_deref().map(|d| seeded.to_moto_ids(d)))
            .set_groups((!groups.is_empty()).then_some(groups))
            .set_interface_type(
                eni.interface_type
                    .as_deref()
                    .filter(|t| *t != "interface")
                    .map(NetworkInterfaceCreationType::from),
            )
            .set_tag_specifications(tag_specs(ResourceType::NetworkInterface, pairs(&tags)))
            .send()
            .await
            .map_err(sdk("CreateNetworkInterface", demo_id))?
            .network_interface()
            .and_then(|n| n.network_interface_id())
            .ok_or_else(|| missing("CreateNetworkInterface", "NetworkInterfaceId"))?
            .to_owned();
        seeded.map(demo_id, &id);
        if let Some(attachment) = &eni.attachment {
            let instance = attachment
                .instance_id
                .as_deref()
                .ok_or_else(|| format!("{demo_id}: attachment without InstanceId"))?;
            let device_index = i32::try_from(attachment.device_index)
                .map_err(|_| format!("{demo_id}: device index out of range"))?;
            let attachment_id = ec2
                .attach_network_interface()
                .network_interface_id(&id)
                .instance_id(seeded.moto_id(instance)?)
                .device_index(device_index)
                .send()
                .await
                .map_err(sdk("AttachNetworkInterface", demo_id))?
                .attachment_id()
                .ok_or_else(|| missing("AttachNetworkInterface", "AttachmentId"))?
                .to_owned();
            if let Some(demo) = &attachment.attachment_id {
                seeded.map(demo, &attachment_id);
            }
        }
        id
    };

    let secondary: Vec<String> = eni
        .private_ip_addresses
        .iter()
        .filter(|a| !a.primary)
        .map(|a| a.private_ip_address.clone())
        .collect();
    if !secondary.is_empty() {
        ec2.assign_private_ip_addresses()
            .network_interface_id(&id)
            .set_private_ip_addresses(Some(secondary))
            .send()
            .await
            .map_err(sdk("AssignPrivateIpAddresses", demo_id))?;
    }
    if eni.source_dest_check == Some(false) {
        ec2.modify_network_interface_attribute()
            .network_interface_id(&id)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(sdk("ModifyNetworkInterfaceAttribute", demo_id))?;
    }
    Ok(())
}

async fn seed_cluster(
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
            ec2.assign_private_ip_addresses()
                .network_interface_id(&eni)
                .private_ip_addresses(&ips[1])
                .private_ip_addresses(&ips[2])
                .send()
                .await
                .map_err(sdk("AssignPrivateIpAddresses", &eni))?;
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
            ec2.assign_private_ip_addresses()
                .network_interface_id(&eni)
                .private_ip_addresses(&ips[1])
                .private_ip_addresses(&ips[2])
                .send()
                .await
                .map_err(sdk("AssignPrivateIpAddresses", &eni))?;
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
