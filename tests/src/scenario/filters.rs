//! The security groups, network ACLs and the peer's database ENI of a scenario's [`Filters`]
//! value (docs/datapath.md §5.7): the `describe-security-groups`, `describe-network-acls` and
//! peer `describe-network-interfaces` documents the rendered snapshot adds when the scenario has
//! filters.
//!
//! Apart from the rest of the rendering because each value of the axis is a change to one of
//! these few rules (the peer's inbound rule, a deny before the allow, no ephemeral return), and
//! they read best side by side; the documents are the AWS CLI's shapes, from `podreach_core::raw`.

use podreach_core::raw;

use super::render::eni;
use super::{Filters, PEER_CIDR, PEERING, PORT, Scenario};

impl Scenario {
    /// The groups, ACLs and the peer's database ENI of [`Scenario::filters`].
    pub(super) fn filter_documents(
        &self,
        vpc: &str,
        peer_vpc: &str,
    ) -> (
        raw::DescribeSecurityGroups,
        raw::DescribeNetworkAcls,
        raw::DescribeNetworkInterfaces,
    ) {
        let crosses_peering = self.via_tgw.is_none();
        let permission =
            |protocol: &str, ports: Option<(u16, u16)>, cidrs: &[&str], groups: &[&str]| {
                raw::IpPermission {
                    ip_protocol: protocol.to_owned(),
                    from_port: ports.map(|p| i64::from(p.0)),
                    to_port: ports.map(|p| i64::from(p.1)),
                    ip_ranges: cidrs
                        .iter()
                        .map(|c| raw::IpRange {
                            cidr_ip: (*c).to_owned(),
                            description: None,
                        })
                        .collect(),
                    ipv6_ranges: vec![],
                    prefix_list_ids: vec![],
                    user_id_group_pairs: groups
                        .iter()
                        .map(|g| raw::UserIdGroupPair {
                            group_id: Some((*g).to_owned()),
                            group_name: None,
                            user_id: Some("111122223333".to_owned()),
                            vpc_id: Some(vpc.to_owned()),
                            // A reference across a peering connection names it; one over a
                            // transit gateway (or inside the VPC) does not.
                            vpc_peering_connection_id: crosses_peering.then(|| PEERING.to_owned()),
                            peering_status: crosses_peering.then(|| "active".to_owned()),
                            description: None,
                        })
                        .collect(),
                }
            };
        let everything_out = || vec![permission("-1", None, &["0.0.0.0/0"], &[])];
        let group = |id: &str, vpc_id: &str, inbound: Vec<raw::IpPermission>| raw::SecurityGroup {
            group_id: id.to_owned(),
            group_name: Some(id.to_owned()),
            description: Some(id.to_owned()),
            vpc_id: Some(vpc_id.to_owned()),
            owner_id: Some("111122223333".to_owned()),
            ip_permissions: inbound,
            ip_permissions_egress: everything_out(),
            tags: vec![],
        };
        let port = Some((PORT, PORT));
        let peer_inbound = match self.filters {
            Filters::PeerAdmitsNodeSubnet => vec![permission("tcp", port, &["10.0.1.0/24"], &[])],
            Filters::PeerAdmitsPodSubnet => vec![permission("tcp", port, &["100.64.0.0/19"], &[])],
            Filters::PeerAdmitsNodeGroup => vec![permission("tcp", port, &[], &["sg-0node"])],
            Filters::PeerAdmitsNodeGroupOnOtherPort => {
                vec![permission("tcp", Some((443, 443)), &[], &["sg-0node"])]
            }
            _ => vec![permission(
                "tcp",
                port,
                &["10.0.0.0/16", "100.64.0.0/16"],
                &[],
            )],
        };
        let cluster_inbound = || vec![permission("-1", None, &[PEER_CIDR], &[])];
        let branch_inbound = match self.sgp {
            Some(sgp) if sgp.branch_admits_peer => cluster_inbound(),
            _ => vec![],
        };
        let groups = raw::DescribeSecurityGroups {
            security_groups: vec![
                group(
                    "sg-0node",
                    vpc,
                    if self.filters == Filters::NodeGroupAdmitsItself {
                        // A reference to a group of its own VPC names no peering connection.
                        let mut itself = permission("-1", None, &[], &["sg-0node"]);
                        for pair in &mut itself.user_id_group_pairs {
                            pair.vpc_peering_connection_id = None;
                            pair.peering_status = None;
                        }
                        vec![itself]
                    } else {
                        cluster_inbound()
                    },
                ),
                group("sg-0pods", vpc, cluster_inbound()),
                group("sg-0branch", vpc, branch_inbound),
                group("sg-0peer", peer_vpc, peer_inbound),
            ],
        };
        let entry =
            |number: i64, egress: bool, allow: bool, cidr: &str, ports: Option<(i64, i64)>| {
                raw::NetworkAclEntry {
                    rule_number: number,
                    protocol: if ports.is_some() { "6" } else { "-1" }.to_owned(),
                    rule_action: if allow { "allow" } else { "deny" }.to_owned(),
                    egress,
                    cidr_block: Some(cidr.to_owned()),
                    ipv6_cidr_block: None,
                    port_range: ports.map(|(from, to)| raw::AclPortRange { from, to }),
                }
            };
        let open = || {
            vec![
                entry(100, true, true, "0.0.0.0/0", None),
                entry(100, false, true, "0.0.0.0/0", None),
                entry(32767, true, false, "0.0.0.0/0", None),
                entry(32767, false, false, "0.0.0.0/0", None),
            ]
        };
        let mut cluster_entries = open();
        if self.filters == Filters::DenyBeforeAllow {
            cluster_entries.push(entry(
                50,
                true,
                false,
                PEER_CIDR,
                Some((i64::from(PORT), i64::from(PORT))),
            ));
        }
        let peer_entries = if self.filters == Filters::NoEphemeralReturn {
            vec![
                entry(100, true, true, "0.0.0.0/0", Some((0, 1023))),
                entry(100, false, true, "0.0.0.0/0", None),
                entry(32767, true, false, "0.0.0.0/0", None),
                entry(32767, false, false, "0.0.0.0/0", None),
            ]
        } else {
            open()
        };
        let acl = |id: &str, vpc_id: &str, subnets: &[&str], entries| raw::NetworkAcl {
            network_acl_id: id.to_owned(),
            vpc_id: vpc_id.to_owned(),
            is_default: true,
            entries,
            associations: subnets
                .iter()
                .map(|s| raw::NetworkAclAssociation {
                    network_acl_association_id: None,
                    network_acl_id: Some(id.to_owned()),
                    subnet_id: (*s).to_owned(),
                })
                .collect(),
            owner_id: None,
            tags: vec![],
        };
        let acls = raw::DescribeNetworkAcls {
            network_acls: vec![
                acl(
                    "acl-0cluster",
                    vpc,
                    &["subnet-0node", "subnet-0pods"],
                    cluster_entries,
                ),
                acl("acl-0peer", peer_vpc, &["subnet-0peer"], peer_entries),
            ],
        };
        let mut database = eni(
            "eni-0peerdb000000001",
            "subnet-0peer",
            0,
            "10.1.1.50",
            &[],
            None,
            "payments database",
        );
        database.vpc_id = peer_vpc.to_owned();
        database.attachment = None;
        database.tag_set = vec![];
        database.groups = vec![raw::GroupIdentifier {
            group_id: "sg-0peer".to_owned(),
            group_name: None,
        }];
        (
            groups,
            acls,
            raw::DescribeNetworkInterfaces {
                network_interfaces: vec![database],
            },
        )
    }
}
