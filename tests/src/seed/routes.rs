//! The demo's route tables: each VPC's main table (moto's own, tagged and mapped) or a new one,
//! its routes and its subnet associations, and the gateways those routes name.
//!
//! moto keeps a route's target only if the target exists, so each internet, virtual private, NAT
//! or transit gateway a route names is created (and attached) on first use, once per demo id;
//! local routes are moto's own. A route or association the seeder cannot reproduce is an error,
//! not an omission, so a demo that gains one fails here rather than comparing short.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{DomainType, GatewayType, ResourceType, Tag};
use podreach_core::raw;

use super::SeededDemo;
use super::calls::{missing, sdk, tag_specs};

pub(super) async fn seed_route_table(
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
