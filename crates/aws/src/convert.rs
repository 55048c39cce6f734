//! SDK shapes → the AWS CLI shapes of `podreach_core::raw`.
//!
//! The live collector must hand the core exactly what `aws ec2 describe-*` would have printed,
//! so that a live audit and an offline audit of the written snapshot are the same computation.
//! The SDK's types are not serde types, so each field the core reads is copied here by name.
//! An object without its identifier cannot be referenced by anything and is dropped with a gap.

use aws_sdk_ec2::types as ec2;
use aws_sdk_eks::types as eks;
use podreach_core::raw;

/// An object the API returned without a field the snapshot format requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    pub object: &'static str,
    pub field: &'static str,
}

impl std::fmt::Display for MissingField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the API returned a {} without `{}`; it is left out",
            self.object, self.field
        )
    }
}

fn need(
    value: Option<&str>,
    object: &'static str,
    field: &'static str,
) -> Result<String, MissingField> {
    value
        .map(str::to_owned)
        .ok_or(MissingField { object, field })
}

fn opt(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

fn tags(tags: &[ec2::Tag]) -> Vec<raw::Tag> {
    tags.iter()
        .filter_map(|t| {
            Some(raw::Tag {
                key: t.key()?.to_owned(),
                value: t.value().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

pub fn vpc(v: &ec2::Vpc) -> Result<raw::Vpc, MissingField> {
    Ok(raw::Vpc {
        vpc_id: need(v.vpc_id(), "VPC", "VpcId")?,
        cidr_block: need(v.cidr_block(), "VPC", "CidrBlock")?,
        cidr_block_association_set: v
            .cidr_block_association_set()
            .iter()
            .filter_map(|a| {
                Some(raw::CidrBlockAssociation {
                    cidr_block: a.cidr_block()?.to_owned(),
                    association_id: opt(a.association_id()),
                    cidr_block_state: a.cidr_block_state().and_then(|s| s.state()).map(|s| {
                        raw::StateWrapper {
                            state: s.as_str().to_owned(),
                        }
                    }),
                })
            })
            .collect(),
        owner_id: opt(v.owner_id()),
        tags: tags(v.tags()),
    })
}

pub fn subnet(s: &ec2::Subnet) -> Result<raw::Subnet, MissingField> {
    Ok(raw::Subnet {
        subnet_id: need(s.subnet_id(), "subnet", "SubnetId")?,
        vpc_id: need(s.vpc_id(), "subnet", "VpcId")?,
        cidr_block: need(s.cidr_block(), "subnet", "CidrBlock")?,
        availability_zone: need(s.availability_zone(), "subnet", "AvailabilityZone")?,
        availability_zone_id: opt(s.availability_zone_id()),
        owner_id: opt(s.owner_id()),
        tags: tags(s.tags()),
    })
}

pub fn route_table(t: &ec2::RouteTable) -> Result<raw::RouteTable, MissingField> {
    Ok(raw::RouteTable {
        route_table_id: need(t.route_table_id(), "route table", "RouteTableId")?,
        vpc_id: need(t.vpc_id(), "route table", "VpcId")?,
        associations: t
            .associations()
            .iter()
            .map(|a| raw::RouteTableAssociation {
                main: a.main().unwrap_or(false),
                route_table_association_id: opt(a.route_table_association_id()),
                route_table_id: opt(a.route_table_id()),
                subnet_id: opt(a.subnet_id()),
                gateway_id: opt(a.gateway_id()),
                association_state: a.association_state().and_then(|s| s.state()).map(|s| {
                    raw::StateWrapper {
                        state: s.as_str().to_owned(),
                    }
                }),
            })
            .collect(),
        routes: t.routes().iter().map(route).collect(),
        owner_id: opt(t.owner_id()),
        tags: tags(t.tags()),
    })
}

fn route(r: &ec2::Route) -> raw::Route {
    raw::Route {
        destination_cidr_block: opt(r.destination_cidr_block()),
        destination_ipv6_cidr_block: opt(r.destination_ipv6_cidr_block()),
        destination_prefix_list_id: opt(r.destination_prefix_list_id()),
        gateway_id: opt(r.gateway_id()),
        vpc_peering_connection_id: opt(r.vpc_peering_connection_id()),
        transit_gateway_id: opt(r.transit_gateway_id()),
        local_gateway_id: opt(r.local_gateway_id()),
        nat_gateway_id: opt(r.nat_gateway_id()),
        network_interface_id: opt(r.network_interface_id()),
        instance_id: opt(r.instance_id()),
        egress_only_internet_gateway_id: opt(r.egress_only_internet_gateway_id()),
        carrier_gateway_id: opt(r.carrier_gateway_id()),
        core_network_arn: opt(r.core_network_arn()),
        origin: r.origin().map(|o| o.as_str().to_owned()),
        state: r.state().map(|s| s.as_str().to_owned()),
    }
}

pub fn network_interface(e: &ec2::NetworkInterface) -> Result<raw::NetworkInterface, MissingField> {
    Ok(raw::NetworkInterface {
        network_interface_id: need(
            e.network_interface_id(),
            "network interface",
            "NetworkInterfaceId",
        )?,
        subnet_id: need(e.subnet_id(), "network interface", "SubnetId")?,
        vpc_id: need(e.vpc_id(), "network interface", "VpcId")?,
        availability_zone: opt(e.availability_zone()),
        attachment: e.attachment().map(|a| raw::EniAttachment {
            attachment_id: opt(a.attachment_id()),
            device_index: a
                .device_index()
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(0),
            network_card_index: a.network_card_index().and_then(|i| u32::try_from(i).ok()),
            instance_id: opt(a.instance_id()),
            status: a.status().map(|s| s.as_str().to_owned()),
        }),
        description: opt(e.description()),
        groups: e
            .groups()
            .iter()
            .filter_map(|g| {
                Some(raw::GroupIdentifier {
                    group_id: g.group_id()?.to_owned(),
                    group_name: opt(g.group_name()),
                })
            })
            .collect(),
        interface_type: e.interface_type().map(|t| t.as_str().to_owned()),
        private_ip_address: opt(e.private_ip_address()),
        private_ip_addresses: e
            .private_ip_addresses()
            .iter()
            .filter_map(|p| {
                Some(raw::PrivateIpAddress {
                    private_ip_address: p.private_ip_address()?.to_owned(),
                    primary: p.primary().unwrap_or(false),
                })
            })
            .collect(),
        ipv4_prefixes: e
            .ipv4_prefixes()
            .iter()
            .filter_map(|p| {
                Some(raw::Ipv4PrefixSpecification {
                    ipv4_prefix: p.ipv4_prefix()?.to_owned(),
                })
            })
            .collect(),
        ipv6_addresses: e
            .ipv6_addresses()
            .iter()
            .filter_map(|a| {
                Some(raw::Ipv6Address {
                    ipv6_address: a.ipv6_address()?.to_owned(),
                })
            })
            .collect(),
        source_dest_check: e.source_dest_check(),
        status: e.status().map(|s| s.as_str().to_owned()),
        owner_id: opt(e.owner_id()),
        tag_set: tags(e.tag_set()),
    })
}

pub fn reservation(r: &ec2::Reservation) -> (raw::Reservation, Vec<MissingField>) {
    let mut missing = Vec::new();
    let instances = r
        .instances()
        .iter()
        .filter_map(|i| instance(i).map_err(|m| missing.push(m)).ok())
        .collect();
    (
        raw::Reservation {
            instances,
            reservation_id: opt(r.reservation_id()),
            owner_id: opt(r.owner_id()),
        },
        missing,
    )
}

fn instance(i: &ec2::Instance) -> Result<raw::Instance, MissingField> {
    Ok(raw::Instance {
        instance_id: need(i.instance_id(), "instance", "InstanceId")?,
        instance_type: i.instance_type().map(|t| t.as_str().to_owned()),
        private_dns_name: opt(i.private_dns_name()),
        platform: i.platform().map(|p| p.as_str().to_owned()),
        private_ip_address: opt(i.private_ip_address()),
        subnet_id: opt(i.subnet_id()),
        vpc_id: opt(i.vpc_id()),
        state: i.state().and_then(|s| {
            Some(raw::InstanceState {
                code: s.code().map(i64::from),
                name: s.name()?.as_str().to_owned(),
            })
        }),
        tags: tags(i.tags()),
    })
}

fn peering_side(info: Option<&ec2::VpcPeeringConnectionVpcInfo>) -> raw::PeeringVpcInfo {
    raw::PeeringVpcInfo {
        vpc_id: info.and_then(|i| opt(i.vpc_id())),
        cidr_block: info.and_then(|i| opt(i.cidr_block())),
        cidr_block_set: info
            .map(|i| {
                i.cidr_block_set()
                    .iter()
                    .filter_map(|c| {
                        Some(raw::CidrBlockEntry {
                            cidr_block: c.cidr_block()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        owner_id: info.and_then(|i| opt(i.owner_id())),
        region: info.and_then(|i| opt(i.region())),
    }
}

pub fn peering(p: &ec2::VpcPeeringConnection) -> Result<raw::VpcPeeringConnection, MissingField> {
    let status = p.status();
    Ok(raw::VpcPeeringConnection {
        vpc_peering_connection_id: need(
            p.vpc_peering_connection_id(),
            "VPC peering connection",
            "VpcPeeringConnectionId",
        )?,
        accepter_vpc_info: peering_side(p.accepter_vpc_info()),
        requester_vpc_info: peering_side(p.requester_vpc_info()),
        status: raw::PeeringStatus {
            code: need(
                status.and_then(|s| s.code()).map(|c| c.as_str()),
                "VPC peering connection",
                "Status.Code",
            )?,
            message: status.and_then(|s| opt(s.message())),
        },
        tags: tags(p.tags()),
    })
}

pub fn transit_gateway(g: &ec2::TransitGateway) -> Result<raw::TransitGateway, MissingField> {
    const OBJECT: &str = "transit gateway";
    Ok(raw::TransitGateway {
        transit_gateway_id: need(g.transit_gateway_id(), OBJECT, "TransitGatewayId")?,
        state: g.state().map(|s| s.as_str().to_owned()),
        owner_id: opt(g.owner_id()),
        options: g.options().map(|o| raw::TransitGatewayOptions {
            security_group_referencing_support: o
                .security_group_referencing_support()
                .map(|v| v.as_str().to_owned()),
        }),
    })
}

pub fn tgw_attachment(
    a: &ec2::TransitGatewayVpcAttachment,
) -> Result<raw::TransitGatewayVpcAttachment, MissingField> {
    const OBJECT: &str = "transit gateway VPC attachment";
    Ok(raw::TransitGatewayVpcAttachment {
        transit_gateway_attachment_id: need(
            a.transit_gateway_attachment_id(),
            OBJECT,
            "TransitGatewayAttachmentId",
        )?,
        transit_gateway_id: need(a.transit_gateway_id(), OBJECT, "TransitGatewayId")?,
        vpc_id: need(a.vpc_id(), OBJECT, "VpcId")?,
        subnet_ids: a.subnet_ids().to_vec(),
        state: need(a.state().map(|s| s.as_str()), OBJECT, "State")?,
        vpc_owner_id: opt(a.vpc_owner_id()),
        options: a
            .options()
            .map(|o| raw::TransitGatewayVpcAttachmentOptions {
                security_group_referencing_support: o
                    .security_group_referencing_support()
                    .map(|v| v.as_str().to_owned()),
            }),
        tags: tags(a.tags()),
    })
}

pub fn cluster(c: &eks::Cluster) -> Result<raw::Cluster, MissingField> {
    let vpc = c.resources_vpc_config();
    Ok(raw::Cluster {
        name: need(c.name(), "EKS cluster", "name")?,
        arn: opt(c.arn()),
        version: opt(c.version()),
        resources_vpc_config: raw::ResourcesVpcConfig {
            // Empty when absent; the collector then finds the VPC from the subnets.
            vpc_id: vpc.and_then(|v| v.vpc_id()).unwrap_or_default().to_owned(),
            subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
            security_group_ids: vpc
                .map(|v| v.security_group_ids().to_vec())
                .unwrap_or_default(),
            cluster_security_group_id: vpc.and_then(|v| opt(v.cluster_security_group_id())),
            endpoint_public_access: vpc.map(|v| v.endpoint_public_access()),
            endpoint_private_access: vpc.map(|v| v.endpoint_private_access()),
            public_access_cidrs: vpc
                .map(|v| v.public_access_cidrs().to_vec())
                .unwrap_or_default(),
        },
        endpoint: opt(c.endpoint()),
        certificate_authority: c
            .certificate_authority()
            .map(|ca| raw::CertificateAuthority {
                data: opt(ca.data()),
            }),
        access_config: c.access_config().map(|a| raw::AccessConfig {
            authentication_mode: a.authentication_mode().map(|m| m.as_str().to_owned()),
        }),
        kubernetes_network_config: c.kubernetes_network_config().map(|k| {
            raw::KubernetesNetworkConfig {
                service_ipv4_cidr: opt(k.service_ipv4_cidr()),
                service_ipv6_cidr: opt(k.service_ipv6_cidr()),
                ip_family: k.ip_family().map(|f| f.as_str().to_owned()),
            }
        }),
        status: c.status().map(|s| s.as_str().to_owned()),
        compute_config: c.compute_config().map(|k| raw::ComputeConfig {
            enabled: k.enabled(),
        }),
        tags: c
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    })
}

pub fn addon(a: &eks::Addon) -> Result<raw::Addon, MissingField> {
    Ok(raw::Addon {
        addon_name: need(a.addon_name(), "EKS add-on", "addonName")?,
        cluster_name: need(a.cluster_name(), "EKS add-on", "clusterName")?,
        addon_version: opt(a.addon_version()),
        status: a.status().map(|s| s.as_str().to_owned()),
        configuration_values: opt(a.configuration_values()),
    })
}

pub fn prefix_list_entry(e: &ec2::PrefixListEntry) -> Result<raw::PrefixListEntry, MissingField> {
    Ok(raw::PrefixListEntry {
        cidr: need(e.cidr(), "prefix list entry", "Cidr")?,
        description: opt(e.description()),
    })
}

pub fn security_group(g: &ec2::SecurityGroup) -> Result<raw::SecurityGroup, MissingField> {
    Ok(raw::SecurityGroup {
        group_id: need(g.group_id(), "security group", "GroupId")?,
        group_name: opt(g.group_name()),
        description: opt(g.description()),
        vpc_id: opt(g.vpc_id()),
        owner_id: opt(g.owner_id()),
        ip_permissions: g.ip_permissions().iter().map(permission).collect(),
        ip_permissions_egress: g.ip_permissions_egress().iter().map(permission).collect(),
        tags: tags(g.tags()),
    })
}

fn permission(p: &ec2::IpPermission) -> raw::IpPermission {
    raw::IpPermission {
        // The SDK omits the protocol only for malformed rules; "" never matches TCP.
        ip_protocol: p.ip_protocol().unwrap_or_default().to_owned(),
        from_port: p.from_port().map(i64::from),
        to_port: p.to_port().map(i64::from),
        ip_ranges: p
            .ip_ranges()
            .iter()
            .filter_map(|r| {
                Some(raw::IpRange {
                    cidr_ip: r.cidr_ip()?.to_owned(),
                    description: opt(r.description()),
                })
            })
            .collect(),
        ipv6_ranges: Vec::new(),
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .filter_map(|l| {
                Some(raw::PrefixListId {
                    prefix_list_id: l.prefix_list_id()?.to_owned(),
                    description: opt(l.description()),
                })
            })
            .collect(),
        user_id_group_pairs: p
            .user_id_group_pairs()
            .iter()
            .map(|u| raw::UserIdGroupPair {
                group_id: opt(u.group_id()),
                group_name: opt(u.group_name()),
                user_id: opt(u.user_id()),
                vpc_id: opt(u.vpc_id()),
                vpc_peering_connection_id: opt(u.vpc_peering_connection_id()),
                peering_status: opt(u.peering_status()),
                description: opt(u.description()),
            })
            .collect(),
    }
}

pub fn network_acl(a: &ec2::NetworkAcl) -> Result<raw::NetworkAcl, MissingField> {
    let id = need(a.network_acl_id(), "network ACL", "NetworkAclId")?;
    Ok(raw::NetworkAcl {
        vpc_id: need(a.vpc_id(), "network ACL", "VpcId")?,
        is_default: a.is_default().unwrap_or(false),
        entries: a
            .entries()
            .iter()
            .filter_map(|e| {
                Some(raw::NetworkAclEntry {
                    rule_number: i64::from(e.rule_number()?),
                    protocol: e.protocol()?.to_owned(),
                    rule_action: e.rule_action()?.as_str().to_owned(),
                    egress: e.egress().unwrap_or(false),
                    cidr_block: opt(e.cidr_block()),
                    ipv6_cidr_block: opt(e.ipv6_cidr_block()),
                    port_range: e.port_range().and_then(|r| {
                        Some(raw::AclPortRange {
                            from: i64::from(r.from()?),
                            to: i64::from(r.to()?),
                        })
                    }),
                })
            })
            .collect(),
        associations: a
            .associations()
            .iter()
            .filter_map(|s| {
                Some(raw::NetworkAclAssociation {
                    network_acl_association_id: opt(s.network_acl_association_id()),
                    network_acl_id: Some(id.clone()),
                    subnet_id: s.subnet_id()?.to_owned(),
                })
            })
            .collect(),
        owner_id: opt(a.owner_id()),
        tags: tags(a.tags()),
        network_acl_id: id,
    })
}

pub fn tgw_route_table(
    t: &ec2::TransitGatewayRouteTable,
) -> Result<raw::TransitGatewayRouteTable, MissingField> {
    const OBJECT: &str = "transit gateway route table";
    Ok(raw::TransitGatewayRouteTable {
        transit_gateway_route_table_id: need(
            t.transit_gateway_route_table_id(),
            OBJECT,
            "TransitGatewayRouteTableId",
        )?,
        transit_gateway_id: need(t.transit_gateway_id(), OBJECT, "TransitGatewayId")?,
        state: t.state().map(|s| s.as_str().to_owned()),
        default_association_route_table: t.default_association_route_table().unwrap_or(false),
        default_propagation_route_table: t.default_propagation_route_table().unwrap_or(false),
    })
}

pub fn tgw_association(
    a: &ec2::TransitGatewayRouteTableAssociation,
) -> Result<raw::TransitGatewayRouteTableLink, MissingField> {
    Ok(raw::TransitGatewayRouteTableLink {
        transit_gateway_attachment_id: need(
            a.transit_gateway_attachment_id(),
            "transit gateway route table association",
            "TransitGatewayAttachmentId",
        )?,
        resource_id: opt(a.resource_id()),
        resource_type: a.resource_type().map(|t| t.as_str().to_owned()),
        state: a.state().map(|s| s.as_str().to_owned()),
    })
}

pub fn tgw_propagation(
    p: &ec2::TransitGatewayRouteTablePropagation,
) -> Result<raw::TransitGatewayRouteTableLink, MissingField> {
    Ok(raw::TransitGatewayRouteTableLink {
        transit_gateway_attachment_id: need(
            p.transit_gateway_attachment_id(),
            "transit gateway route table propagation",
            "TransitGatewayAttachmentId",
        )?,
        resource_id: opt(p.resource_id()),
        resource_type: p.resource_type().map(|t| t.as_str().to_owned()),
        state: p.state().map(|s| s.as_str().to_owned()),
    })
}

pub fn tgw_route(r: &ec2::TransitGatewayRoute) -> raw::TransitGatewayRoute {
    raw::TransitGatewayRoute {
        destination_cidr_block: opt(r.destination_cidr_block()),
        prefix_list_id: opt(r.prefix_list_id()),
        transit_gateway_attachments: r
            .transit_gateway_attachments()
            .iter()
            .filter_map(|a| {
                Some(raw::TransitGatewayRouteAttachment {
                    resource_id: opt(a.resource_id()),
                    transit_gateway_attachment_id: a.transit_gateway_attachment_id()?.to_owned(),
                    resource_type: a.resource_type().map(|t| t.as_str().to_owned()),
                })
            })
            .collect(),
        kind: r.r#type().map(|t| t.as_str().to_owned()),
        state: r.state().map(|s| s.as_str().to_owned()),
    }
}
