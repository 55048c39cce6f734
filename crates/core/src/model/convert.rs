//! Raw EC2 objects into the model's terms, one object at a time: a security group's permissions
//! into TCP rules, a network ACL entry, a route's target. Pure functions with no knowledge of the
//! rest of the snapshot; what cannot be read comes back as a message for the builder to turn
//! into a gap.

use super::*;
use crate::filters::{PortSet, Protocol};
use crate::raw;

/// The TCP-relevant rules of one direction of a security group, and what could not be read.
pub(super) fn sg_rules(permissions: &[raw::IpPermission]) -> (Vec<SgRule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for p in permissions {
        let protocol = Protocol::parse(&p.ip_protocol);
        let ports = match (protocol, p.from_port, p.to_port) {
            (Protocol::All, _, _) => PortSet::all(),
            (Protocol::Tcp, Some(from), Some(to)) => match (u16::try_from(from), u16::try_from(to))
            {
                (Ok(a), Ok(b)) => PortSet::range(a, b),
                _ if from == -1 => PortSet::all(),
                _ => {
                    problems.push(format!(
                        "rule tcp {from}-{to}: not a TCP port range; the rule is left out"
                    ));
                    continue;
                }
            },
            (Protocol::Tcp, _, _) => PortSet::all(),
            (Protocol::Other, _, _) => continue,
        };
        for range in &p.ip_ranges {
            match range.cidr_ip.parse::<Ipv4Net>() {
                Ok(net) => rules.push(SgRule {
                    protocol,
                    ports: ports.clone(),
                    peer: SgPeer::Cidr(net.trunc()),
                }),
                Err(_) => problems.push(format!(
                    "`{}` is not an IPv4 CIDR; that rule is left out",
                    range.cidr_ip
                )),
            }
        }
        for list in &p.prefix_list_ids {
            rules.push(SgRule {
                protocol,
                ports: ports.clone(),
                peer: SgPeer::PrefixList(list.prefix_list_id.clone()),
            });
        }
        for pair in &p.user_id_group_pairs {
            if let Some(group_id) = &pair.group_id {
                rules.push(SgRule {
                    protocol,
                    ports: ports.clone(),
                    peer: SgPeer::Group {
                        group_id: group_id.clone(),
                        peering: pair.vpc_peering_connection_id.clone(),
                    },
                });
            }
        }
    }
    (rules, problems)
}

/// One IPv4 network ACL entry; `None` for IPv6 entries, which never match an IPv4 packet.
pub(super) fn acl_entry(e: &raw::NetworkAclEntry) -> Result<Option<AclEntry>, String> {
    let Some(text) = &e.cidr_block else {
        return Ok(None);
    };
    let cidr = text
        .parse::<Ipv4Net>()
        .map_err(|_| {
            format!(
                "entry {}: `{text}` is not an IPv4 CIDR; the entry is left out",
                e.rule_number
            )
        })?
        .trunc();
    let rule_number = u32::try_from(e.rule_number).map_err(|_| {
        format!(
            "entry {}: not a rule number; the entry is left out",
            e.rule_number
        )
    })?;
    let protocol = Protocol::parse(&e.protocol);
    let ports = match (protocol, &e.port_range) {
        (Protocol::Tcp, Some(r)) => match (u16::try_from(r.from), u16::try_from(r.to)) {
            (Ok(a), Ok(b)) => PortSet::range(a, b),
            _ => {
                return Err(format!(
                    "entry {rule_number}: port range {}-{} is not TCP ports; the entry is left out",
                    r.from, r.to
                ));
            }
        },
        _ => PortSet::all(),
    };
    let allow = match e.rule_action.as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(format!(
                "entry {rule_number}: action `{other}` is neither allow nor deny; the entry is left out"
            ));
        }
    };
    Ok(Some(AclEntry {
        rule_number,
        protocol,
        ports,
        cidr,
        allow,
    }))
}

pub(super) fn route_target(r: &raw::Route) -> Target {
    if let Some(id) = &r.vpc_peering_connection_id {
        Target::Peering(id.clone())
    } else if let Some(id) = &r.transit_gateway_id {
        Target::TransitGateway(id.clone())
    } else if let Some(id) = &r.local_gateway_id {
        Target::LocalGateway(id.clone())
    } else if let Some(id) = &r.gateway_id {
        if id == "local" {
            Target::Local
        } else if id.starts_with("vgw-") {
            Target::VirtualPrivateGateway(id.clone())
        } else {
            Target::Other(id.clone())
        }
    } else {
        let other = [
            &r.nat_gateway_id,
            &r.network_interface_id,
            &r.instance_id,
            &r.egress_only_internet_gateway_id,
            &r.carrier_gateway_id,
            &r.core_network_arn,
        ]
        .into_iter()
        .flatten()
        .next()
        .cloned()
        .unwrap_or_else(|| "unknown-target".to_owned());
        Target::Other(other)
    }
}
