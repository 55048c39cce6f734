//! The far side read in the account that owns it (issue 21, item 3), on moto with two accounts:
//! shop (account A, the bundled demo) peers with a VPC of account B whose route table routes
//! back only an unrelated /24. Without a member role the far side is `unknown` and the gap names
//! account B and `--member-role`; with the role, podreach reads B's route tables, groups, ACLs
//! and ENIs there and the verdict is unreachable for its real reason (`PEER_NO_ROUTE`), with the
//! fix on B's route table; a role B refuses is a gap naming the role, and unknown again. moto
//! maps an assumed role's credentials to the role's account but assumes any role, so the
//! refusal is the one call answered by `aws-smithy-mocks` (moto does not enforce IAM).

use aws_sdk_ec2::Client;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::error::ErrorMetadata;
use podreach_aws::{Collect as _, Collection, Collector, MemberRole, Scope};
use podreach_core::report::{Cause, Direction, PathVerdict, Report, Verdict};
use podreach_core::{AnalyzeOptions, Overrides, SourceFile};
use podreach_tests::lambda::{KUBECTL_DUMPS, collector, demo_addons};
use podreach_tests::moto::{Account, Moto};
use podreach_tests::seed::{SeededDemo, demo_file_text, fresh_account_with_demo};

const ROLE: &str = "podreach-member";

/// The `vpc-id` filter of `vpc`.
fn in_vpc(vpc: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("vpc-id")
        .values(vpc)
        .build()
}

/// Account B's VPC, peered with shop's, and what it routes.
struct Peer {
    account: Account,
    vpc: String,
    route_table: String,
}

/// shop's VPC (account A) peers with a new VPC of account B (10.1.0.0/16, the demo peer's
/// CIDR) whose main route table routes back only 10.9.9.0/24; shop's node subnet routes
/// 10.1.0.0/16 over that peering connection instead of the demo's.
async fn peer_in_another_account(a: &Account, seeded: &SeededDemo) -> Peer {
    let b = Moto::shared().account().await;
    let (ec2_a, ec2_b) = (Client::new(&a.config), Client::new(&b.config));
    let vpc = ec2_b
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .expect("moto creates B's VPC")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("a VPC id")
        .to_owned();
    ec2_b
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.1.0.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .expect("moto creates B's subnet");
    let shop_vpc = seeded
        .moto_id("vpc-0a5e1d2c3b4a59601")
        .expect("shop's VPC")
        .to_owned();
    let pcx = ec2_a
        .create_vpc_peering_connection()
        .vpc_id(&shop_vpc)
        .peer_vpc_id(&vpc)
        .peer_owner_id(&b.id)
        .send()
        .await
        .expect("moto creates the cross-account peering")
        .vpc_peering_connection()
        .and_then(|p| p.vpc_peering_connection_id())
        .expect("a peering id")
        .to_owned();
    ec2_b
        .accept_vpc_peering_connection()
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .expect("B accepts the peering");
    let route_table = ec2_b
        .describe_route_tables()
        .filters(in_vpc(&vpc))
        .send()
        .await
        .expect("moto lists B's tables")
        .route_tables()
        .first()
        .and_then(|t| t.route_table_id())
        .expect("B's main route table")
        .to_owned();
    ec2_b
        .create_route()
        .route_table_id(&route_table)
        .destination_cidr_block("10.9.9.0/24")
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .expect("B routes an unrelated /24 back");
    // B's default group admits shop's VPC, so only the route decides.
    let group = ec2_b
        .describe_security_groups()
        .filters(in_vpc(&vpc))
        .send()
        .await
        .expect("moto lists B's groups")
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .expect("B's default group")
        .to_owned();
    ec2_b
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_protocol("-1")
        .cidr_ip("10.0.0.0/16")
        .send()
        .await
        .expect("B admits shop's VPC");
    let node_table = seeded
        .moto_id("rtb-0a1e2d3c4b5a69701")
        .expect("shop's node route table")
        .to_owned();
    ec2_a
        .delete_route()
        .route_table_id(&node_table)
        .destination_cidr_block("10.1.0.0/16")
        .send()
        .await
        .expect("moto deletes the demo's peering route");
    ec2_a
        .create_route()
        .route_table_id(&node_table)
        .destination_cidr_block("10.1.0.0/16")
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .expect("shop routes the peer over the cross-account peering");
    Peer {
        account: b,
        vpc,
        route_table,
    }
}

async fn audit(collector: &Collector, seeded: &SeededDemo) -> (Collection, Report) {
    let collection = collector
        .collect(&Scope::Clusters(vec!["shop".to_owned()]))
        .await
        .expect("the collection runs");
    let dumps: Vec<SourceFile> = KUBECTL_DUMPS
        .iter()
        .map(|path| SourceFile {
            path: format!("clusters/{path}"),
            text: seeded.to_moto_ids(demo_file_text(path)),
        })
        .collect();
    let report = collection.audit(
        podreach_core::snapshot::load(&dumps)
            .into_result()
            .expect("the dumps parse"),
        &Overrides::default(),
        &AnalyzeOptions {
            include_paths: true,
            ..AnalyzeOptions::default()
        },
    );
    (collection, report)
}

fn primary_egress(report: &Report) -> &PathVerdict {
    report
        .paths
        .iter()
        .flatten()
        .find(|p| {
            p.cluster == "shop" && p.eni_role == "primary" && p.direction == Direction::PodToPeer
        })
        .expect("shop's primary ENI has a pod-to-peer verdict")
}

fn role() -> Option<MemberRole> {
    Some(MemberRole {
        name: ROLE.to_owned(),
        external_id: None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_in_another_account_is_unknown_without_a_member_role_and_the_gap_says_how() {
    let (a, seeded) = fresh_account_with_demo().await;
    let peer = peer_in_another_account(&a, &seeded).await;

    // As `Collector::new` builds it from the CLI's or the functions' settings: no role given.
    let collector = collector(&a, demo_addons()).with_members(&a.config, None);
    let (collection, report) = audit(&collector, &seeded).await;

    let path = primary_egress(&report);
    assert_eq!(path.verdict, Verdict::Unknown, "{:#?}", path.causes);
    assert!(
        path.causes.iter().any(|c| c.code == Cause::UnknownRemote),
        "{:#?}",
        path.causes
    );
    let gap = collection
        .notes
        .gaps
        .iter()
        .find(|g| g.message.contains(&peer.vpc))
        .expect("a gap names B's VPC");
    assert!(
        gap.message.contains(&peer.account.id) && gap.message.contains("--member-role"),
        "{}",
        gap.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_member_role_the_peer_is_read_in_its_account_and_its_missing_route_decides() {
    let (a, seeded) = fresh_account_with_demo().await;
    let peer = peer_in_another_account(&a, &seeded).await;

    let collector = collector(&a, demo_addons()).with_members(&a.config, role());
    let (collection, report) = audit(&collector, &seeded).await;

    let path = primary_egress(&report);
    assert_eq!(path.verdict, Verdict::Unreachable, "{:#?}", path.causes);
    assert_eq!(path.cause, Some(Cause::PeerNoRoute), "{:#?}", path.causes);
    assert!(
        path.causes.iter().all(|c| c.code != Cause::UnknownRemote),
        "{:#?}",
        path.causes
    );
    // B's objects were read with B's credentials (moto answers with B's OwnerId).
    assert!(
        collection
            .notes
            .gaps
            .iter()
            .all(|g| !g.message.contains(&peer.vpc)),
        "{:#?}",
        collection.notes.gaps
    );
    // AssumeRole is one counted call of the collection, and a second collection by the same
    // (warm) collector assumes the role again rather than reusing the first credentials.
    let assumed = |collection: &Collection| {
        collection
            .notes
            .stats
            .operations
            .iter()
            .filter(|(name, _)| name.ends_with("AssumeRole"))
            .map(|(_, o)| o.calls)
            .sum::<u64>()
    };
    assert_eq!(assumed(&collection), 1, "{:#?}", collection.notes.stats);
    let (again, _) = audit(&collector, &seeded).await;
    assert_eq!(assumed(&again), 1, "{:#?}", again.notes.stats);
    let finding = report
        .findings
        .iter()
        .find(|f| f.cluster == "shop" && f.cause == Cause::PeerNoRoute)
        .expect("a PEER_NO_ROUTE finding");
    assert!(
        finding.remediation.iter().any(|r| r
            .command
            .as_deref()
            .is_some_and(|c| c.contains(&format!("--route-table-id {}", peer.route_table)))),
        "{:#?}",
        finding.remediation
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_role_the_owner_refuses_is_a_gap_naming_the_role_and_the_peer_stays_unknown() {
    let (a, seeded) = fresh_account_with_demo().await;
    let peer = peer_in_another_account(&a, &seeded).await;
    // moto gap: it assumes any role; the one refusal comes from aws-smithy-mocks.
    let refused = mock!(aws_sdk_sts::Client::assume_role).then_error(|| {
        aws_sdk_sts::operation::assume_role::AssumeRoleError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::100000000001:assumed-role/podreach/cli is not authorized to perform: sts:AssumeRole")
                .build(),
        )
    });
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(a.credentials.clone())
            .http_client(create_mock_http_client())
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::MatchAny)
                    .with_rule(&refused),
            )
            .build(),
    );

    let collector = collector(&a, demo_addons()).with_members_through(&a.config, sts, role());
    let (collection, report) = audit(&collector, &seeded).await;

    let path = primary_egress(&report);
    assert_eq!(path.verdict, Verdict::Unknown, "{:#?}", path.causes);
    let gap = collection
        .notes
        .gaps
        .iter()
        .find(|g| g.message.contains(&peer.vpc))
        .expect("a gap names B's VPC");
    let arn = format!("arn:aws:iam::{}:role/{ROLE}", peer.account.id);
    assert!(
        gap.message.contains(&arn) && gap.message.contains("AccessDenied"),
        "{}",
        gap.message
    );
}
