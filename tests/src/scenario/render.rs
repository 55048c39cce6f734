//! One scenario as podreach's inputs: its snapshot files, the `rp_filter` overrides of the
//! command line, and the question the model is asked (the probes' port).
//!
//! Every document is built from `podreach_core::raw` and serialised, so it has exactly the shape
//! the offline reader parses; the small builders here (`route`, `association`, `eni`, …) fill in
//! the fields the AWS CLI prints, so each file reads like the real output. The security groups,
//! network ACLs and peer ENI of the filter axis are `filters`'s to build. The tests read a
//! rendered snapshot back through the model: one node, its ENIs, and the branch ENI of security
//! groups for pods.

use std::collections::BTreeMap;

use podreach_core::AnalyzeOptions;
use podreach_core::model::Overrides;
use podreach_core::raw;
use podreach_core::snapshot::SourceFile;

use super::{
    BRANCH_ENI, BRANCH_VLAN, CLUSTER, Filters, INSTANCE, PEER_CIDR, PEERING, PORT, PREFIX_LIST,
    PRIMARY_ENI, SECONDARY_ENI, Scenario, SecondarySubnet, Sgp, SgpMode, TGW, TRUNK_ENI, TgwTable,
};

fn tag(key: &str, value: &str) -> raw::Tag {
    raw::Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn route(destination: &str, gateway: Option<&str>, pcx: Option<&str>) -> raw::Route {
    raw::Route {
        destination_cidr_block: Some(destination.to_owned()),
        gateway_id: gateway.map(str::to_owned),
        vpc_peering_connection_id: pcx.map(str::to_owned),
        origin: Some(
            if gateway == Some("local") {
                "CreateRouteTable"
            } else {
                "CreateRoute"
            }
            .to_owned(),
        ),
        state: Some("active".to_owned()),
        ..raw::Route::default()
    }
}

fn association(rtb: &str, subnet: Option<&str>, main: bool) -> raw::RouteTableAssociation {
    raw::RouteTableAssociation {
        main,
        route_table_association_id: Some(format!("rtbassoc-{}", &rtb[4..])),
        route_table_id: Some(rtb.to_owned()),
        subnet_id: subnet.map(str::to_owned),
        gateway_id: None,
        association_state: Some(raw::StateWrapper {
            state: "associated".to_owned(),
        }),
    }
}

fn route_table(
    id: &str,
    vpc: &str,
    associations: Vec<raw::RouteTableAssociation>,
    routes: Vec<raw::Route>,
) -> raw::RouteTable {
    raw::RouteTable {
        route_table_id: id.to_owned(),
        vpc_id: vpc.to_owned(),
        associations,
        routes,
        owner_id: Some("111122223333".to_owned()),
        tags: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn eni(
    id: &str,
    subnet: &str,
    device_index: u32,
    primary_ip: &str,
    secondary: &[&str],
    prefix: Option<&str>,
    description: &str,
) -> raw::NetworkInterface {
    let mut private = vec![raw::PrivateIpAddress {
        private_ip_address: primary_ip.to_owned(),
        primary: true,
    }];
    private.extend(secondary.iter().map(|ip| raw::PrivateIpAddress {
        private_ip_address: (*ip).to_owned(),
        primary: false,
    }));
    raw::NetworkInterface {
        network_interface_id: id.to_owned(),
        subnet_id: subnet.to_owned(),
        vpc_id: "vpc-0c1u5ter000000001".to_owned(),
        availability_zone: Some("us-west-2a".to_owned()),
        attachment: Some(raw::EniAttachment {
            attachment_id: Some(format!("eni-attach-{device_index}")),
            device_index,
            network_card_index: Some(0),
            instance_id: Some(INSTANCE.to_owned()),
            status: Some("attached".to_owned()),
        }),
        description: Some(description.to_owned()),
        groups: vec![raw::GroupIdentifier {
            group_id: "sg-0node".to_owned(),
            group_name: Some("eks-node".to_owned()),
        }],
        interface_type: Some("interface".to_owned()),
        private_ip_address: Some(primary_ip.to_owned()),
        private_ip_addresses: private,
        ipv4_prefixes: prefix
            .map(|p| {
                vec![raw::Ipv4PrefixSpecification {
                    ipv4_prefix: p.to_owned(),
                }]
            })
            .unwrap_or_default(),
        ipv6_addresses: vec![],
        source_dest_check: Some(true),
        status: Some("in-use".to_owned()),
        owner_id: Some("111122223333".to_owned()),
        tag_set: vec![
            tag("cluster.k8s.amazonaws.com/name", CLUSTER),
            tag("node.k8s.amazonaws.com/instance_id", INSTANCE),
        ],
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

impl Sgp {
    /// The trunk ENI (attached at device 2) and the branch ENI as `describe-network-interfaces`
    /// shows them: the branch has no attachment, and the VPC resource controller's tags name
    /// its trunk and VLAN.
    fn enis(self) -> [raw::NetworkInterface; 2] {
        let mut trunk = eni(
            TRUNK_ENI,
            self.subnet(),
            2,
            self.trunk_ip(),
            &[],
            None,
            "trunk-eni",
        );
        trunk.interface_type = Some("trunk".to_owned());
        let mut branch = eni(
            BRANCH_ENI,
            self.subnet(),
            0,
            self.branch_ip(),
            &[],
            None,
            "aws-k8s-branch-eni",
        );
        branch.attachment = None;
        branch.interface_type = Some("branch".to_owned());
        branch.groups = vec![raw::GroupIdentifier {
            group_id: "sg-0branch".to_owned(),
            group_name: Some("pod-sg".to_owned()),
        }];
        branch.tag_set = vec![
            tag("vpcresources.k8s.aws/trunk-eni-id", TRUNK_ENI),
            tag("vpcresources.k8s.aws/vlan-id", &BRANCH_VLAN.to_string()),
            tag("eks:eni:owner", "eks-vpc-resource-controller"),
        ];
        [trunk, branch]
    }
}

impl Scenario {
    /// The snapshot files of this scenario.
    pub fn files(&self) -> Vec<SourceFile> {
        let vpc = "vpc-0c1u5ter000000001";
        let peer_vpc = "vpc-0peer00000000001";
        let vpcs = raw::DescribeVpcs {
            vpcs: vec![
                raw::Vpc {
                    vpc_id: vpc.to_owned(),
                    cidr_block: "10.0.0.0/16".to_owned(),
                    cidr_block_association_set: ["10.0.0.0/16", "100.64.0.0/16"]
                        .iter()
                        .enumerate()
                        .map(|(i, c)| raw::CidrBlockAssociation {
                            cidr_block: (*c).to_owned(),
                            association_id: Some(format!("vpc-cidr-assoc-{i}")),
                            cidr_block_state: Some(raw::StateWrapper {
                                state: "associated".to_owned(),
                            }),
                        })
                        .collect(),
                    owner_id: Some("111122223333".to_owned()),
                    tags: vec![],
                },
                raw::Vpc {
                    vpc_id: peer_vpc.to_owned(),
                    cidr_block: PEER_CIDR.to_owned(),
                    cidr_block_association_set: vec![],
                    owner_id: Some("111122223333".to_owned()),
                    tags: vec![],
                },
            ],
        };
        let subnet_in = |id: &str, vpc: &str, cidr: &str, az: &str| raw::Subnet {
            subnet_id: id.to_owned(),
            vpc_id: vpc.to_owned(),
            cidr_block: cidr.to_owned(),
            availability_zone: format!("us-west-2{az}"),
            availability_zone_id: Some(format!("usw2-az{}", if az == "a" { 1 } else { 2 })),
            owner_id: Some("111122223333".to_owned()),
            tags: vec![],
        };
        let subnet = |id: &str, vpc: &str, cidr: &str| subnet_in(id, vpc, cidr, "a");
        let mut subnets = raw::DescribeSubnets {
            subnets: vec![
                subnet("subnet-0node", vpc, "10.0.1.0/24"),
                subnet("subnet-0pods", vpc, "100.64.0.0/19"),
                subnet("subnet-0peer", peer_vpc, "10.1.1.0/24"),
            ],
        };
        // The object the private routes use: the peering, or the transit gateway.
        let via = if self.via_tgw.is_some() { TGW } else { PEERING };
        let private = |destination: &str| {
            if via == TGW {
                raw::Route {
                    transit_gateway_id: Some(TGW.to_owned()),
                    ..route(destination, None, None)
                }
            } else {
                route(destination, None, Some(PEERING))
            }
        };
        let mut attachments = None;
        let mut tgw_tables = Vec::new();
        if let Some(in_node_az) = self.via_tgw {
            let cluster_subnet = if in_node_az {
                "subnet-0node"
            } else {
                subnets
                    .subnets
                    .push(subnet_in("subnet-0tgwb", vpc, "10.0.250.0/28", "b"));
                "subnet-0tgwb"
            };
            let attachment = |id: &str, vpc: &str, subnet: &str| raw::TransitGatewayVpcAttachment {
                transit_gateway_attachment_id: id.to_owned(),
                transit_gateway_id: TGW.to_owned(),
                vpc_id: vpc.to_owned(),
                subnet_ids: vec![subnet.to_owned()],
                state: "available".to_owned(),
                vpc_owner_id: Some("111122223333".to_owned()),
                options: None,
                tags: vec![],
            };
            attachments = Some(raw::DescribeTransitGatewayVpcAttachments {
                transit_gateway_vpc_attachments: vec![
                    attachment("tgw-attach-0c1u5ter0000001", vpc, cluster_subnet),
                    attachment("tgw-attach-0peer00000000001", peer_vpc, "subnet-0peer"),
                ],
            });
            tgw_tables = tgw_route_tables(vpc, peer_vpc, self.tgw_table);
        }
        let locals = || {
            vec![
                route("10.0.0.0/16", Some("local"), None),
                route("100.64.0.0/16", Some("local"), None),
            ]
        };
        let mut node_routes = locals();
        if self.via_prefix_list {
            node_routes.push(raw::Route {
                destination_cidr_block: None,
                destination_prefix_list_id: Some(PREFIX_LIST.to_owned()),
                ..private(PEER_CIDR)
            });
        } else {
            node_routes.push(private(PEER_CIDR));
        }
        node_routes.push(route("0.0.0.0/0", Some("igw-0internet"), None));
        let mut pod_routes = locals();
        if self.secondary_subnet != SecondarySubnet::PodSubnetWithoutRoute {
            pod_routes.push(private(PEER_CIDR));
        }
        pod_routes.push(route("0.0.0.0/0", Some("igw-0internet"), None));
        let mut peer_routes = vec![route(PEER_CIDR, Some("local"), None)];
        for cidr in self.peer_return.routes() {
            peer_routes.push(private(cidr));
        }
        let route_tables = raw::DescribeRouteTables {
            route_tables: vec![
                route_table(
                    "rtb-0main",
                    vpc,
                    vec![association("rtb-0main", None, true)],
                    {
                        let mut r = locals();
                        r.push(route("0.0.0.0/0", Some("igw-0internet"), None));
                        r
                    },
                ),
                route_table(
                    "rtb-0node",
                    vpc,
                    vec![association("rtb-0node", Some("subnet-0node"), false)],
                    node_routes,
                ),
                route_table(
                    "rtb-0pods",
                    vpc,
                    vec![association("rtb-0pods", Some("subnet-0pods"), false)],
                    pod_routes,
                ),
                route_table(
                    "rtb-0peer",
                    peer_vpc,
                    vec![
                        association("rtb-0peer", None, true),
                        association("rtb-0peer", Some("subnet-0peer"), false),
                    ],
                    peer_routes,
                ),
            ],
        };
        let secondary = match (self.secondary_subnet, self.prefix_delegation) {
            (SecondarySubnet::NodeSubnet, false) => eni(
                SECONDARY_ENI,
                "subnet-0node",
                1,
                "10.0.1.20",
                &["10.0.1.21", "10.0.1.22"],
                None,
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
            (SecondarySubnet::NodeSubnet, true) => eni(
                SECONDARY_ENI,
                "subnet-0node",
                1,
                "10.0.1.20",
                &[],
                Some("10.0.1.48/28"),
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
            (_, false) => eni(
                SECONDARY_ENI,
                "subnet-0pods",
                1,
                "100.64.0.10",
                &["100.64.0.11", "100.64.0.12"],
                None,
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
            (_, true) => eni(
                SECONDARY_ENI,
                "subnet-0pods",
                1,
                "100.64.0.10",
                &[],
                Some("100.64.0.32/28"),
                "aws-K8S-i-0a1b2c3d4e5f60718",
            ),
        };
        let mut secondary = secondary;
        if self.secondary_subnet != SecondarySubnet::NodeSubnet {
            secondary.groups = vec![raw::GroupIdentifier {
                group_id: "sg-0pods".to_owned(),
                group_name: Some("eks-pods".to_owned()),
            }];
        }
        let mut enis = raw::DescribeNetworkInterfaces {
            network_interfaces: vec![
                eni(
                    PRIMARY_ENI,
                    "subnet-0node",
                    0,
                    "10.0.1.10",
                    &["10.0.1.11", "10.0.1.12"],
                    None,
                    "",
                ),
                secondary,
            ],
        };
        if let Some(sgp) = self.sgp {
            enis.network_interfaces.extend(sgp.enis());
        }
        let instances = raw::DescribeInstances {
            reservations: vec![raw::Reservation {
                instances: vec![raw::Instance {
                    instance_id: INSTANCE.to_owned(),
                    instance_type: Some("m5.large".to_owned()),
                    private_dns_name: Some("ip-10-0-1-10.us-west-2.compute.internal".to_owned()),
                    private_ip_address: Some("10.0.1.10".to_owned()),
                    subnet_id: Some("subnet-0node".to_owned()),
                    vpc_id: Some(vpc.to_owned()),
                    state: Some(raw::InstanceState {
                        code: Some(16),
                        name: "running".to_owned(),
                    }),
                    platform: None,
                    tags: vec![
                        tag(&format!("kubernetes.io/cluster/{CLUSTER}"), "owned"),
                        tag("eks:cluster-name", CLUSTER),
                    ],
                }],
                reservation_id: Some("r-0123".to_owned()),
                owner_id: Some("111122223333".to_owned()),
            }],
        };
        let info = |vpc: &str, cidrs: &[&str]| raw::PeeringVpcInfo {
            vpc_id: Some(vpc.to_owned()),
            cidr_block: Some(cidrs[0].to_owned()),
            cidr_block_set: cidrs
                .iter()
                .map(|c| raw::CidrBlockEntry {
                    cidr_block: (*c).to_owned(),
                })
                .collect(),
            owner_id: Some("111122223333".to_owned()),
            region: Some("us-west-2".to_owned()),
        };
        let peerings = raw::DescribeVpcPeeringConnections {
            vpc_peering_connections: vec![raw::VpcPeeringConnection {
                vpc_peering_connection_id: PEERING.to_owned(),
                requester_vpc_info: info(vpc, &["10.0.0.0/16", "100.64.0.0/16"]),
                accepter_vpc_info: info(peer_vpc, &[PEER_CIDR]),
                status: raw::PeeringStatus {
                    code: if self.peering_inactive {
                        "pending-acceptance"
                    } else {
                        "active"
                    }
                    .to_owned(),
                    message: None,
                },
                tags: vec![],
            }],
        };
        let cluster = raw::DescribeCluster {
            cluster: raw::Cluster {
                name: CLUSTER.to_owned(),
                arn: Some(format!(
                    "arn:aws:eks:us-west-2:111122223333:cluster/{CLUSTER}"
                )),
                version: Some("1.31".to_owned()),
                resources_vpc_config: raw::ResourcesVpcConfig {
                    vpc_id: vpc.to_owned(),
                    subnet_ids: vec!["subnet-0node".to_owned()],
                    security_group_ids: vec![],
                    cluster_security_group_id: Some("sg-0cluster".to_owned()),
                    endpoint_public_access: Some(true),
                    endpoint_private_access: Some(false),
                    public_access_cidrs: vec!["0.0.0.0/0".to_owned()],
                },
                kubernetes_network_config: Some(raw::KubernetesNetworkConfig {
                    service_ipv4_cidr: Some("172.20.0.0/16".to_owned()),
                    service_ipv6_cidr: None,
                    ip_family: Some("ipv4".to_owned()),
                }),
                status: Some("ACTIVE".to_owned()),
                compute_config: None,
                tags: BTreeMap::new(),
                endpoint: None,
                certificate_authority: None,
                access_config: None,
            },
        };
        let env = |name: &str, value: String| raw::EnvVar {
            name: name.to_owned(),
            value: Some(value),
            value_from: None,
        };
        let mut vars = vec![
            env(
                "AWS_VPC_K8S_CNI_EXTERNALSNAT",
                self.external_snat.to_string(),
            ),
            env(
                "AWS_VPC_CNI_NODE_PORT_SUPPORT",
                self.node_port_support.to_string(),
            ),
            env("AWS_VPC_K8S_CNI_VETHPREFIX", "eni".to_owned()),
        ];
        if let Some(x) = self.exclude.value() {
            vars.push(env("AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", x.to_owned()));
        }
        if self.external_service {
            vars.push(env("AWS_EXTERNAL_SERVICE_CIDRS", PEER_CIDR.to_owned()));
        }
        if let Some(sgp) = self.sgp {
            vars.push(env("ENABLE_POD_ENI", "true".to_owned()));
            vars.push(env(
                "POD_SECURITY_GROUP_ENFORCING_MODE",
                match sgp.mode {
                    SgpMode::Strict => "strict",
                    SgpMode::Standard => "standard",
                }
                .to_owned(),
            ));
        }
        let image = format!(
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:{}-eksbuild.1",
            self.version
        );
        let container = |name: &str, image: String, env: Vec<raw::EnvVar>| raw::Container {
            name: name.to_owned(),
            image: Some(image),
            env,
        };
        let has_init = podreach_core::cni::Version::parse_loose(self.version)
            .is_some_and(|v| v >= podreach_core::cni::Version::new(1, 7, 0));
        let daemonset = raw::DaemonSet {
            api_version: "apps/v1".to_owned(),
            kind: "DaemonSet".to_owned(),
            metadata: raw::ObjectMeta {
                name: "aws-node".to_owned(),
                namespace: Some("kube-system".to_owned()),
                ..raw::ObjectMeta::default()
            },
            spec: raw::DaemonSetSpec {
                template: raw::PodTemplateSpec {
                    spec: raw::PodSpec {
                        containers: vec![container("aws-node", image.clone(), vars)],
                        init_containers: if has_init {
                            vec![container(
                                "aws-vpc-cni-init",
                                image.replace("amazon-k8s-cni:", "amazon-k8s-cni-init:"),
                                vec![],
                            )]
                        } else {
                            vec![]
                        },
                        node_name: None,
                        host_network: Some(true),
                    },
                },
            },
        };
        let file = |path: &str, text: String| SourceFile {
            path: path.to_owned(),
            text,
        };
        // `aws ec2 get-managed-prefix-list-entries` does not name the list: the file does.
        let entries = raw::GetManagedPrefixListEntries {
            prefix_list_id: None,
            entries: vec![raw::PrefixListEntry {
                cidr: PEER_CIDR.to_owned(),
                description: Some("peer VPC".to_owned()),
            }],
        };
        let mut files = vec![
            file("ec2/vpcs.json", json(&vpcs)),
            file("ec2/subnets.json", json(&subnets)),
            file("ec2/route-tables.json", json(&route_tables)),
            file("ec2/network-interfaces.json", json(&enis)),
            file("ec2/instances.json", json(&instances)),
            file("ec2/vpc-peering-connections.json", json(&peerings)),
            file("eks/cluster.json", json(&cluster)),
            file("eks/aws-node.json", json(&daemonset)),
        ];
        if self.via_prefix_list {
            files.push(file(&format!("ec2/{PREFIX_LIST}.json"), json(&entries)));
        }
        if self.filters != Filters::None {
            let (groups, acls, peer_enis) = self.filter_documents(vpc, peer_vpc);
            files.push(file("ec2/security-groups.json", json(&groups)));
            files.push(file("ec2/network-acls.json", json(&acls)));
            files.push(file("ec2/peer-network-interfaces.json", json(&peer_enis)));
        }
        if let Some(attachments) = attachments {
            files.push(file("ec2/tgw-attachments.json", json(&attachments)));
        }
        files.extend(tgw_tables);
        files
    }

    /// What the user would pass on the command line about the node: the primary interface's
    /// `rp_filter`.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            rp_filter_primary: Some(self.rp_filter_primary),
            rp_filter_secondary: self.rp_filter_secondary,
            ..Overrides::default()
        }
    }

    /// The question the model is asked, as the lab asks the kernel: the probes' TCP port
    /// (`--port tcp/7000`), with every per-ENI row.
    pub fn question(&self) -> AnalyzeOptions {
        AnalyzeOptions {
            include_paths: true,
            tcp_ports: vec![PORT],
        }
    }
}

/// The transit gateway's one route table, as a default table is: both VPC attachments associated
/// and propagated, so it routes each VPC's CIDRs to its attachment, less what `table` breaks
/// (a route not propagated, a static blackhole winning over a propagated route or taking part
/// of one). The lab reads the same table to build its routes.
fn tgw_route_tables(vpc: &str, peer_vpc: &str, table: TgwTable) -> Vec<SourceFile> {
    const TABLE: &str = "tgw-rtb-0d0e0fa000000001";
    let link = |id: &str, vpc: &str, state: &str| raw::TransitGatewayRouteTableLink {
        transit_gateway_attachment_id: id.to_owned(),
        resource_id: Some(vpc.to_owned()),
        resource_type: Some("vpc".to_owned()),
        state: Some(state.to_owned()),
    };
    let attachments = [
        ("tgw-attach-0c1u5ter0000001", vpc),
        ("tgw-attach-0peer00000000001", peer_vpc),
    ];
    let route = |cidr: &str, (id, vpc): (&str, &str)| raw::TransitGatewayRoute {
        destination_cidr_block: Some(cidr.to_owned()),
        prefix_list_id: None,
        transit_gateway_attachments: vec![raw::TransitGatewayRouteAttachment {
            resource_id: Some(vpc.to_owned()),
            transit_gateway_attachment_id: id.to_owned(),
            resource_type: Some("vpc".to_owned()),
        }],
        kind: Some("propagated".to_owned()),
        state: Some("active".to_owned()),
    };
    let blackhole = |cidr: &str| raw::TransitGatewayRoute {
        destination_cidr_block: Some(cidr.to_owned()),
        prefix_list_id: None,
        transit_gateway_attachments: Vec::new(),
        kind: Some("static".to_owned()),
        state: Some("blackhole".to_owned()),
    };
    let tables = raw::DescribeTransitGatewayRouteTables {
        transit_gateway_route_tables: vec![raw::TransitGatewayRouteTable {
            transit_gateway_route_table_id: TABLE.to_owned(),
            transit_gateway_id: TGW.to_owned(),
            state: Some("available".to_owned()),
            default_association_route_table: true,
            default_propagation_route_table: true,
        }],
    };
    let associations = raw::GetTransitGatewayRouteTableAssociations {
        transit_gateway_route_table_id: None,
        associations: attachments
            .iter()
            .map(|(id, v)| link(id, v, "associated"))
            .collect(),
    };
    let propagations = raw::GetTransitGatewayRouteTablePropagations {
        transit_gateway_route_table_id: None,
        transit_gateway_route_table_propagations: attachments
            .iter()
            .filter(|(id, _)| table != TgwTable::PeerNotRouted || !id.contains("peer"))
            .map(|(id, v)| link(id, v, "enabled"))
            .collect(),
    };
    let routes = raw::SearchTransitGatewayRoutes {
        transit_gateway_route_table_id: None,
        searched_prefixes: None,
        routes: {
            let mut routes = vec![route("10.0.0.0/16", attachments[0])];
            if table != TgwTable::PodRangeNotRouted {
                routes.push(route("100.64.0.0/16", attachments[0]));
            }
            if table != TgwTable::PeerNotRouted {
                routes.push(route(PEER_CIDR, attachments[1]));
            }
            match table {
                TgwTable::PeerBlackhole => routes.push(blackhole(PEER_CIDR)),
                TgwTable::NodeSubnetBlackhole => routes.push(blackhole("10.0.1.0/24")),
                TgwTable::PeerHalfBlackhole => routes.push(blackhole("10.1.1.128/25")),
                _ => {}
            }
            routes
        },
        additional_routes_available: false,
    };
    let file = |path: &str, text: String| SourceFile {
        path: path.to_owned(),
        text,
    };
    vec![
        file("ec2/tgw-route-tables.json", json(&tables)),
        file(
            &format!("ec2/{TABLE}.associations.json"),
            json(&associations),
        ),
        file(
            &format!("ec2/{TABLE}.propagations.json"),
            json(&propagations),
        ),
        file(&format!("ec2/{TABLE}.routes.json"), json(&routes)),
    ]
}

#[cfg(test)]
mod tests {
    use crate::scenario::generate;

    use super::*;

    #[test]
    fn the_snapshot_reads_back_into_one_node_with_two_enis() {
        let scenario = &generate(1)[0];
        let loaded = podreach_core::snapshot::load(&scenario.files())
            .into_result()
            .expect("valid snapshot");
        assert!(
            loaded.problems.skipped.is_empty(),
            "{:?}",
            loaded.problems.skipped
        );
        let model = podreach_core::Model::from_documents(&loaded.documents, &scenario.overrides());
        assert_eq!(model.clusters.len(), 1, "{:?}", model.gaps);
        let node = &model.clusters[0].nodes;
        assert_eq!(node.len(), 1);
        assert_eq!(
            node[0].enis,
            vec![PRIMARY_ENI.to_owned(), SECONDARY_ENI.to_owned()]
        );
        assert_eq!(model.clusters[0].cni.version.to_string(), scenario.version);
    }

    #[test]
    fn a_security_groups_for_pods_scenario_reads_back_with_its_branch_eni() {
        let scenario = &generate(13)[12];
        let sgp = scenario
            .sgp
            .expect("scenario 12 has security groups for pods");
        let loaded = podreach_core::snapshot::load(&scenario.files())
            .into_result()
            .expect("valid snapshot");
        let model = podreach_core::Model::from_documents(&loaded.documents, &scenario.overrides());
        let cluster = &model.clusters[0];
        let node = &cluster.nodes[0];
        assert_eq!(node.enis.last().map(String::as_str), Some(TRUNK_ENI));
        assert_eq!(node.branch_enis.len(), 1);
        assert_eq!(node.branch_enis[0].eni_id, BRANCH_ENI);
        assert_eq!(node.branch_enis[0].vlan_id, Some(BRANCH_VLAN));
        assert!(cluster.cni.pod_eni);
        assert_eq!(
            cluster.cni.sgp_mode,
            podreach_core::cni::SgpMode::Standard,
            "{scenario}"
        );
        assert_eq!(
            model.network.enis[BRANCH_ENI].primary_ip.to_string(),
            sgp.branch_ip()
        );
    }
}
