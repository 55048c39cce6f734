//! Collection behaviour the moto endpoint cannot show, driven through `aws-smithy-mocks`.
//!
//! moto (the AWS-compatible endpoint of the end-to-end tests) lacks EKS add-ons, ENI prefix
//! delegation, pagination of most Describe calls, throttling and IAM denials. Each test here
//! names the gap it stands for. The SDK clients are real: requests are built, retried and
//! deserialised by the SDK; only the HTTP answers come from rules. The rules answer from one
//! small account (a cluster VPC peered with one other VPC), filtered by the request's
//! `vpc-id` filter as EC2 would.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::operation::describe_route_tables::{
    DescribeRouteTablesError, DescribeRouteTablesOutput,
};
use aws_sdk_ec2::types as ec2;
use aws_sdk_eks::operation::describe_addon::DescribeAddonOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_clusters::ListClustersOutput;
use aws_sdk_eks::types as eks;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::error::ErrorMetadata;
use podreach_aws::{Collect, Collection, Collector, CollectorSettings, Scope};
use podreach_core::report::Report;
use podreach_core::{AnalyzeOptions, Overrides};

const REGION: &str = "eu-west-1";

fn filter_values<'a>(filters: &'a [ec2::Filter], name: &str) -> Vec<&'a str> {
    filters
        .iter()
        .filter(|f| f.name() == Some(name))
        .flat_map(|f| f.values())
        .map(String::as_str)
        .collect()
}

fn tag(key: &str, value: &str) -> ec2::Tag {
    ec2::Tag::builder().key(key).value(value).build()
}

/// Two VPCs: `vpc-a` holds clusters `shop` (10.0.0.0/16) and routes 10.1.0.0/16 over pcx-ab
/// to `vpc-b`, which routes back.
struct Account {
    vpcs: Vec<ec2::Vpc>,
    subnets: Vec<ec2::Subnet>,
    route_tables: Vec<ec2::RouteTable>,
    enis: Vec<ec2::NetworkInterface>,
    instances: Vec<ec2::Instance>,
    peering: ec2::VpcPeeringConnection,
    groups: Vec<ec2::SecurityGroup>,
    acls: Vec<ec2::NetworkAcl>,
}

/// A group letting everything out and every TCP port in from `from`.
fn open_group(id: &str, vpc: &str, from: &str) -> ec2::SecurityGroup {
    let rule = |cidr: &str| {
        ec2::IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(ec2::IpRange::builder().cidr_ip(cidr).build())
            .build()
    };
    ec2::SecurityGroup::builder()
        .group_id(id)
        .group_name(id)
        .vpc_id(vpc)
        .ip_permissions(rule(from))
        .ip_permissions_egress(rule("0.0.0.0/0"))
        .build()
}

/// A VPC's default network ACL: everything allowed both ways (rule 100), then `*` deny.
fn default_acl(id: &str, vpc: &str, subnet: &str) -> ec2::NetworkAcl {
    let entry = |number: i32, egress: bool, action: ec2::RuleAction| {
        ec2::NetworkAclEntry::builder()
            .rule_number(number)
            .protocol("-1")
            .rule_action(action)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
            .build()
    };
    ec2::NetworkAcl::builder()
        .network_acl_id(id)
        .vpc_id(vpc)
        .is_default(true)
        .associations(
            ec2::NetworkAclAssociation::builder()
                .network_acl_id(id)
                .subnet_id(subnet)
                .build(),
        )
        .entries(entry(100, false, ec2::RuleAction::Allow))
        .entries(entry(100, true, ec2::RuleAction::Allow))
        .entries(entry(32767, false, ec2::RuleAction::Deny))
        .entries(entry(32767, true, ec2::RuleAction::Deny))
        .build()
}

fn main_table(id: &str, vpc: &str, local: &str, peer: &str) -> ec2::RouteTable {
    ec2::RouteTable::builder()
        .route_table_id(id)
        .vpc_id(vpc)
        .associations(
            ec2::RouteTableAssociation::builder()
                .main(true)
                .route_table_id(id)
                .build(),
        )
        .routes(
            ec2::Route::builder()
                .destination_cidr_block(local)
                .gateway_id("local")
                .state(ec2::RouteState::Active)
                .build(),
        )
        .routes(
            ec2::Route::builder()
                .destination_cidr_block(peer)
                .vpc_peering_connection_id("pcx-ab")
                .state(ec2::RouteState::Active)
                .build(),
        )
        .build()
}

fn eni(
    id: &str,
    device: i32,
    primary_ip: &str,
    secondary: &[&str],
    prefixes: &[&str],
) -> ec2::NetworkInterface {
    let mut builder = ec2::NetworkInterface::builder()
        .network_interface_id(id)
        .subnet_id("subnet-a")
        .vpc_id("vpc-a")
        .availability_zone("eu-west-1a")
        .interface_type(ec2::NetworkInterfaceType::Interface)
        .private_ip_address(primary_ip)
        .status(ec2::NetworkInterfaceStatus::InUse)
        .tag_set(tag("cluster.k8s.amazonaws.com/name", "shop"))
        .groups(ec2::GroupIdentifier::builder().group_id("sg-nodes").build())
        .attachment(
            ec2::NetworkInterfaceAttachment::builder()
                .device_index(device)
                .network_card_index(0)
                .instance_id("i-node")
                .status(ec2::AttachmentStatus::Attached)
                .build(),
        )
        .private_ip_addresses(
            ec2::NetworkInterfacePrivateIpAddress::builder()
                .private_ip_address(primary_ip)
                .primary(true)
                .build(),
        );
    for ip in secondary {
        builder = builder.private_ip_addresses(
            ec2::NetworkInterfacePrivateIpAddress::builder()
                .private_ip_address(*ip)
                .primary(false)
                .build(),
        );
    }
    for prefix in prefixes {
        builder = builder.ipv4_prefixes(
            ec2::Ipv4PrefixSpecification::builder()
                .ipv4_prefix(*prefix)
                .build(),
        );
    }
    builder.build()
}

impl Account {
    fn new() -> Self {
        let vpc = |id: &str, cidr: &str| {
            ec2::Vpc::builder()
                .vpc_id(id)
                .cidr_block(cidr)
                .owner_id("111122223333")
                .build()
        };
        let subnet = |id: &str, vpc: &str, cidr: &str| {
            ec2::Subnet::builder()
                .subnet_id(id)
                .vpc_id(vpc)
                .cidr_block(cidr)
                .availability_zone("eu-west-1a")
                .build()
        };
        let side = |vpc: &str, cidr: &str| {
            ec2::VpcPeeringConnectionVpcInfo::builder()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .owner_id("111122223333")
                .region(REGION)
                .build()
        };
        Account {
            vpcs: vec![vpc("vpc-a", "10.0.0.0/16"), vpc("vpc-b", "10.1.0.0/16")],
            subnets: vec![
                subnet("subnet-a", "vpc-a", "10.0.1.0/24"),
                subnet("subnet-b", "vpc-b", "10.1.1.0/24"),
            ],
            route_tables: vec![
                main_table("rtb-a", "vpc-a", "10.0.0.0/16", "10.1.0.0/16"),
                main_table("rtb-b", "vpc-b", "10.1.0.0/16", "10.0.0.0/16"),
            ],
            enis: vec![
                eni(
                    "eni-primary",
                    0,
                    "10.0.1.10",
                    &["10.0.1.11", "10.0.1.12"],
                    &[],
                ),
                eni("eni-secondary", 1, "10.0.1.20", &[], &["10.0.1.64/28"]),
                // The peer's database, whose groups the far side of every path is judged by.
                ec2::NetworkInterface::builder()
                    .network_interface_id("eni-db")
                    .subnet_id("subnet-b")
                    .vpc_id("vpc-b")
                    .availability_zone("eu-west-1a")
                    .interface_type(ec2::NetworkInterfaceType::Interface)
                    .private_ip_address("10.1.1.50")
                    .groups(ec2::GroupIdentifier::builder().group_id("sg-db").build())
                    .build(),
            ],
            groups: vec![
                open_group("sg-nodes", "vpc-a", "10.1.0.0/16"),
                open_group("sg-db", "vpc-b", "10.0.0.0/16"),
            ],
            acls: vec![
                default_acl("acl-a", "vpc-a", "subnet-a"),
                default_acl("acl-b", "vpc-b", "subnet-b"),
            ],
            instances: vec![
                ec2::Instance::builder()
                    .instance_id("i-node")
                    .private_ip_address("10.0.1.10")
                    .subnet_id("subnet-a")
                    .vpc_id("vpc-a")
                    .state(
                        ec2::InstanceState::builder()
                            .name(ec2::InstanceStateName::Running)
                            .code(16)
                            .build(),
                    )
                    .tags(tag("eks:cluster-name", "shop"))
                    .build(),
            ],
            peering: ec2::VpcPeeringConnection::builder()
                .vpc_peering_connection_id("pcx-ab")
                .requester_vpc_info(side("vpc-a", "10.0.0.0/16"))
                .accepter_vpc_info(side("vpc-b", "10.1.0.0/16"))
                .status(
                    ec2::VpcPeeringConnectionStateReason::builder()
                        .code(ec2::VpcPeeringConnectionStateReasonCode::Active)
                        .build(),
                )
                .build(),
        }
    }

    /// Rules answering every call the collector makes, each honouring the `vpc-id` filter.
    fn rules(self, addon_yaml: Option<&'static str>) -> Vec<Rule> {
        let this = Arc::new(self);
        let in_vpc = |filters: &[ec2::Filter], vpc: Option<&str>| {
            let wanted = filter_values(filters, "vpc-id");
            vpc.is_some_and(|v| wanted.contains(&v))
        };
        let a = this.clone();
        let vpcs = mock!(aws_sdk_ec2::Client::describe_vpcs).then_compute_output(move |req| {
            aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput::builder()
                .set_vpcs(Some(
                    a.vpcs
                        .iter()
                        .filter(|v| in_vpc(req.filters(), v.vpc_id()))
                        .cloned()
                        .collect(),
                ))
                .build()
        });
        let a = this.clone();
        let subnets =
            mock!(aws_sdk_ec2::Client::describe_subnets).then_compute_output(move |req| {
                aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput::builder()
                    .set_subnets(Some(
                        a.subnets
                            .iter()
                            .filter(|s| in_vpc(req.filters(), s.vpc_id()))
                            .cloned()
                            .collect(),
                    ))
                    .build()
            });
        let a = this.clone();
        let tables =
            mock!(aws_sdk_ec2::Client::describe_route_tables).then_compute_output(move |req| {
                DescribeRouteTablesOutput::builder()
                    .set_route_tables(Some(
                        a.route_tables
                            .iter()
                            .filter(|t| in_vpc(req.filters(), t.vpc_id()))
                            .cloned()
                            .collect(),
                    ))
                    .build()
            });
        let a = this.clone();
        let enis = mock!(aws_sdk_ec2::Client::describe_network_interfaces).then_compute_output(
            move |req| {
                DescribeNetworkInterfacesOutput::builder()
                    .set_network_interfaces(Some(
                        a.enis
                            .iter()
                            .filter(|e| in_vpc(req.filters(), e.vpc_id()))
                            .cloned()
                            .collect(),
                    ))
                    .build()
            },
        );
        let a = this.clone();
        let instances =
            mock!(aws_sdk_ec2::Client::describe_instances).then_compute_output(move |req| {
                aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput::builder()
                    .reservations(
                        ec2::Reservation::builder()
                            .reservation_id("r-1")
                            .set_instances(Some(
                                a.instances
                                    .iter()
                                    .filter(|i| in_vpc(req.filters(), i.vpc_id()))
                                    .cloned()
                                    .collect(),
                            ))
                            .build(),
                    )
                    .build()
            });
        let a = this.clone();
        let peerings = mock!(aws_sdk_ec2::Client::describe_vpc_peering_connections).then_compute_output(move |req| {
            // Answered as EC2 does: the filters select, by id or by either side's VPC.
            let ids = filter_values(req.filters(), "vpc-peering-connection-id");
            let requester = filter_values(req.filters(), "requester-vpc-info.vpc-id");
            let accepter = filter_values(req.filters(), "accepter-vpc-info.vpc-id");
            let p = &a.peering;
            let hit = p.vpc_peering_connection_id().is_some_and(|id| ids.contains(&id))
                || p.requester_vpc_info().and_then(|i| i.vpc_id()).is_some_and(|v| requester.contains(&v))
                || p.accepter_vpc_info().and_then(|i| i.vpc_id()).is_some_and(|v| accepter.contains(&v));
            aws_sdk_ec2::operation::describe_vpc_peering_connections::DescribeVpcPeeringConnectionsOutput::builder()
                .set_vpc_peering_connections(Some(if hit { vec![p.clone()] } else { vec![] }))
                .build()
        });
        let a = this.clone();
        let groups = mock!(aws_sdk_ec2::Client::describe_security_groups).then_compute_output(
            move |req| {
                aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput::builder()
                    .set_security_groups(Some(
                        a.groups
                            .iter()
                            .filter(|g| in_vpc(req.filters(), g.vpc_id()))
                            .cloned()
                            .collect(),
                    ))
                    .build()
            },
        );
        let a = this.clone();
        let acls =
            mock!(aws_sdk_ec2::Client::describe_network_acls).then_compute_output(move |req| {
                aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput::builder()
                    .set_network_acls(Some(
                        a.acls
                            .iter()
                            .filter(|g| in_vpc(req.filters(), g.vpc_id()))
                            .cloned()
                            .collect(),
                    ))
                    .build()
            });
        let list = mock!(aws_sdk_eks::Client::list_clusters)
            .then_output(|| ListClustersOutput::builder().clusters("shop").build());
        let describe = mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| {
            DescribeClusterOutput::builder()
                .cluster(
                    eks::Cluster::builder()
                        .name("shop")
                        .version("1.31")
                        .status(eks::ClusterStatus::Active)
                        .resources_vpc_config(
                            eks::VpcConfigResponse::builder()
                                .vpc_id("vpc-a")
                                .subnet_ids("subnet-a")
                                .build(),
                        )
                        .kubernetes_network_config(
                            eks::KubernetesNetworkConfigResponse::builder()
                                .service_ipv4_cidr("172.20.0.0/16")
                                .ip_family(eks::IpFamily::Ipv4)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let addon = match addon_yaml {
            Some(yaml) => mock!(aws_sdk_eks::Client::describe_addon).then_output(move || {
                DescribeAddonOutput::builder()
                    .addon(
                        eks::Addon::builder()
                            .addon_name("vpc-cni")
                            .cluster_name("shop")
                            .addon_version("v1.11.4-eksbuild.3")
                            .status(eks::AddonStatus::Active)
                            .configuration_values(yaml)
                            .build(),
                    )
                    .build()
            }),
            // What EKS answers for a cluster without the add-on (HTTP 404, restJson1 error).
            None => mock!(aws_sdk_eks::Client::describe_addon).then_http_response(|| {
                let mut response = aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(404).expect("404 is a status"),
                    aws_smithy_types::body::SdkBody::from(
                        r#"{"clusterName":"shop","addonName":"vpc-cni","message":"No addon: vpc-cni found in cluster: shop"}"#,
                    ),
                );
                response.headers_mut().insert("x-amzn-errortype", "ResourceNotFoundException");
                response.headers_mut().insert("content-type", "application/json");
                response
            }),
        };
        vec![
            vpcs, subnets, tables, enis, instances, peerings, groups, acls, list, describe, addon,
        ]
    }
}

fn collector(first: &[Rule], rest: &[Rule]) -> Collector {
    // Earlier rules win in MatchAny mode, so a test's special rules go first.
    let interceptor = || {
        first.iter().chain(rest).fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, r| i.with_rule(r),
        )
    };
    let credentials =
        aws_sdk_ec2::config::Credentials::new("AKIDTEST", "secret", None, None, "mock");
    let ec2 = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new(REGION))
        .credentials_provider(credentials.clone())
        .http_client(create_mock_http_client())
        .interceptor(interceptor());
    let eks = aws_sdk_eks::Config::builder()
        .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(REGION))
        .credentials_provider(credentials)
        .http_client(create_mock_http_client())
        .interceptor(interceptor());
    Collector::from_builders(
        ec2,
        eks,
        &CollectorSettings {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            ..CollectorSettings::default()
        },
    )
}

async fn collect(first: &[Rule], addon_yaml: Option<&'static str>) -> Collection {
    let rest = Account::new().rules(addon_yaml);
    collector(first, &rest)
        .collect(&Scope::AllClusters)
        .await
        .expect("a collection")
}

fn audit(collection: &Collection) -> Report {
    collection.audit(
        Default::default(),
        &Overrides::default(),
        &AnalyzeOptions {
            include_paths: true,
            ..Default::default()
        },
    )
}

const ADDON_YAML: &str =
    "env:\n  AWS_VPC_CNI_NODE_PORT_SUPPORT: \"false\"\n  WARM_PREFIX_TARGET: \"1\"\n";

#[tokio::test]
async fn addon_yaml_configuration_values_reach_the_cni_settings() {
    // moto gap: no EKS add-ons at all.
    let report = audit(&collect(&[], Some(ADDON_YAML)).await);
    let cluster = &report.clusters[0];
    assert_eq!(
        cluster.cni.version.as_deref(),
        Some("v1.11.4"),
        "{:?}",
        cluster.cni
    );
    let node_port = cluster
        .cni
        .settings
        .iter()
        .find(|s| s.name == "AWS_VPC_CNI_NODE_PORT_SUPPORT")
        .expect("NODE_PORT_SUPPORT is reported");
    assert_eq!(node_port.value, "false");
    assert_eq!(format!("{:?}", node_port.source).to_lowercase(), "addon");
}

#[tokio::test]
async fn missing_addon_is_reported_as_a_self_managed_cni() {
    // moto gap: DescribeAddon's ResourceNotFoundException.
    let collection = collect(&[], None).await;
    let gap = collection
        .notes
        .gaps
        .iter()
        .find(|g| g.action.as_deref() == Some("eks:DescribeAddon"))
        .expect("a gap for the missing add-on");
    assert!(gap.message.contains("self-managed"), "{}", gap.message);
    assert!(collection.notes.incomplete_clusters.is_empty());
    let report = audit(&collection);
    assert_eq!(report.clusters.len(), 1, "the cluster is still analysed");
}

#[tokio::test]
async fn prefix_delegation_addresses_are_collected_and_analysed() {
    // moto gap: AssignPrivateIpAddresses --ipv4-prefixes is not implemented.
    let collection = collect(&[], Some(ADDON_YAML)).await;
    let enis = collection
        .source_files()
        .into_iter()
        .find(|f| f.path == "ec2/network-interfaces.json")
        .expect("network interfaces are written");
    assert!(
        enis.text.contains("\"Ipv4Prefix\": \"10.0.1.64/28\""),
        "{}",
        enis.text
    );
    let report = audit(&collection);
    // 2 secondary IPs on the primary ENI + 16 addresses of the /28 on the secondary ENI.
    assert_eq!(
        report.clusters[0].pod_addresses, 18,
        "{:?}",
        report.clusters[0]
    );
}

#[tokio::test]
async fn every_page_of_a_paginated_answer_is_collected_and_counted() {
    // moto gap: DescribeNetworkInterfaces ignores MaxResults/NextToken.
    let account = Account::new();
    let first_page = account.enis[..1].to_vec();
    let second_page = account.enis[1..2].to_vec();
    let paged = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(|req| filter_values(req.filters(), "vpc-id") == ["vpc-a"])
        .then_compute_output(move |req| match req.next_token() {
            None => DescribeNetworkInterfacesOutput::builder()
                .set_network_interfaces(Some(first_page.clone()))
                .next_token("page-2")
                .build(),
            Some(_) => DescribeNetworkInterfacesOutput::builder()
                .set_network_interfaces(Some(second_page.clone()))
                .build(),
        });
    let collection = collect(&[paged], Some(ADDON_YAML)).await;
    let stats = &collection.notes.stats;
    // Two pages of the cluster VPC's ENIs, and one of the far VPC's (their security groups).
    assert_eq!(stats.operations["ec2:DescribeNetworkInterfaces"].calls, 3);
    let report = audit(&collection);
    assert_eq!(
        report.clusters[0].enis, 2,
        "both pages' ENIs are in the model"
    );
}

fn throttled() -> aws_smithy_runtime_api::http::Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>5ab1c2d3-0000-4000-8000-000000000001</RequestID></Response>";
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(503).expect("503 is a status"),
        aws_smithy_types::body::SdkBody::from(body),
    )
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_and_counted() {
    // moto gap: it never throttles.
    // Retries stay on the rule that answered the first attempt, so the success is in it too.
    let flaky = mock!(aws_sdk_ec2::Client::describe_route_tables)
        .match_requests(|req| filter_values(req.filters(), "vpc-id") == ["vpc-a"])
        .sequence()
        .http_response(throttled)
        .times(2)
        .output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(main_table("rtb-a", "vpc-a", "10.0.0.0/16", "10.1.0.0/16"))
                .build()
        })
        .build();
    let collection = collect(&[flaky], Some(ADDON_YAML)).await;
    let tables = &collection.notes.stats.operations["ec2:DescribeRouteTables"];
    assert_eq!(tables.retries, 2, "{:?}", collection.notes.stats);
    assert_eq!(collection.notes.stats.retries, 2);
    assert!(
        collection
            .notes
            .gaps
            .iter()
            .all(|g| g.action.as_deref() != Some("ec2:DescribeRouteTables")),
        "{:?}",
        collection.notes.gaps
    );
    assert!(collection.notes.incomplete_clusters.is_empty());
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_a_gap_of_that_cluster_not_a_crash() {
    let throttled_forever = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .sequence()
        .http_response(throttled)
        .repeatedly()
        .build();
    let collection = collect(&[throttled_forever], Some(ADDON_YAML)).await;
    let gap = collection
        .notes
        .gaps
        .iter()
        .find(|g| g.action.as_deref() == Some("ec2:DescribeNetworkInterfaces"))
        .expect("a gap naming the throttled call");
    assert!(gap.message.contains("throttled"), "{}", gap.message);
    assert_eq!(gap.cluster.as_deref(), Some("shop"));
    assert_eq!(collection.notes.incomplete_clusters.len(), 1);
    let report = audit(&collection);
    assert!(
        report.clusters.is_empty(),
        "an incomplete cluster gets no verdicts"
    );
    assert!(report.findings.is_empty());
    assert!(
        report
            .gaps
            .iter()
            .any(|g| g.message.starts_with("not analysed"))
    );
    // What was collected is kept.
    assert!(
        collection
            .source_files()
            .into_iter()
            .any(|f| f.path == "ec2/route-tables.json" && f.text.contains("rtb-a"))
    );
}

#[tokio::test]
async fn access_denied_names_the_missing_iam_action() {
    // moto gap: it does not enforce IAM.
    let denied = mock!(aws_sdk_ec2::Client::describe_route_tables).then_error(|| {
        DescribeRouteTablesError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/podreach/cli is not authorized to perform: ec2:DescribeRouteTables")
                .build(),
        )
    });
    let collection = collect(&[denied], Some(ADDON_YAML)).await;
    let gap = collection
        .notes
        .gaps
        .iter()
        .find(|g| g.action.as_deref() == Some("ec2:DescribeRouteTables"))
        .expect("a gap naming the denied action");
    assert!(
        gap.message
            .contains("grant the IAM action `ec2:DescribeRouteTables`"),
        "{}",
        gap.message
    );
    let report = audit(&collection);
    assert!(
        report
            .gaps
            .iter()
            .any(|g| g.object.as_deref() == Some("ec2:DescribeRouteTables"))
    );
}

#[tokio::test]
async fn a_denied_cluster_list_is_an_error_naming_the_action() {
    let denied = mock!(aws_sdk_eks::Client::list_clusters).then_error(|| {
        aws_sdk_eks::operation::list_clusters::ListClustersError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized")
                .build(),
        )
    });
    let rest = Account::new().rules(Some(ADDON_YAML));
    let error = collector(&[denied], &rest)
        .collect(&Scope::AllClusters)
        .await
        .expect_err("nothing can be collected without the cluster list");
    assert!(error.to_string().contains("eks:ListClusters"), "{error}");
}

#[tokio::test]
async fn named_clusters_skip_the_listing_and_the_peer_vpc_is_read_in_one_batch() {
    let rest = Account::new().rules(Some(ADDON_YAML));
    let collection = collector(&[], &rest)
        .collect(&Scope::Clusters(vec!["shop".to_owned()]))
        .await
        .expect("a collection");
    let ops = &collection.notes.stats.operations;
    assert!(!ops.contains_key("eks:ListClusters"));
    // Cluster VPC once + far side once.
    assert_eq!(ops["ec2:DescribeRouteTables"].calls, 2);
    assert_eq!(
        ops["ec2:DescribeVpcPeeringConnections"].calls, 1,
        "the peering connections the routes use, by id, in one call"
    );
    let tables = collection
        .source_files()
        .into_iter()
        .find(|f| f.path == "ec2/route-tables.json")
        .expect("route tables are written");
    assert!(
        tables.text.contains("rtb-b"),
        "the peer's route table is collected"
    );
    for action in ops.keys() {
        assert!(
            podreach_aws::iam::COLLECT_ACTIONS.contains(&action.as_str()),
            "the collector calls {action}, which the IAM policy does not grant"
        );
    }
    let report = audit(&collection);
    assert!(
        report.stats.is_some(),
        "the report carries the collection's stats"
    );
}
