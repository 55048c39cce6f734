//! The IAM actions podreach needs, and nothing else.
//!
//! podreach is read-only against AWS, forever: collection needs these exact Describe/List
//! actions (never `ec2:Describe*`), and the Lambda functions additionally `sns:Publish` to their
//! one topic, read their one suppressions parameter and keep the findings' lifecycle in their one
//! table ([`STATE_ACTIONS`]). `infra/iam/podreach-read-only.json` is the policy users attach for
//! the CLI and the SAM template reuses; a test keeps it equal to [`COLLECT_ACTIONS`].

/// Every action the collector calls, sorted.
pub const COLLECT_ACTIONS: &[&str] = &[
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTransitGatewayRouteTables",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetManagedPrefixListEntries",
    "ec2:GetTransitGatewayRouteTableAssociations",
    "ec2:GetTransitGatewayRouteTablePropagations",
    "ec2:SearchTransitGatewayRoutes",
    "eks:DescribeAddon",
    "eks:DescribeCluster",
    "eks:ListClusters",
];

/// The one action for reading the far side in the accounts that own it: assuming the member role
/// (`MEMBER_ROLE_NAME`), by name, nothing else (`crate::collect::members`).
pub const MEMBER_ACTION: &str = "sts:AssumeRole";

/// The action the functions use to publish findings.
pub const PUBLISH_ACTION: &str = "sns:Publish";

/// The functions' lifecycle state: these DynamoDB actions on the one table (`STATE_TABLE`), the
/// only writes podreach makes besides publishing. Sorted.
pub const STATE_ACTIONS: &[&str] = &[STATE_GET, STATE_PUT, STATE_QUERY];
pub const STATE_GET: &str = "dynamodb:GetItem";
pub const STATE_PUT: &str = "dynamodb:PutItem";
pub const STATE_QUERY: &str = "dynamodb:Query";
/// An organization run's record in the same table ([`crate::runs`]): conditional updates (the
/// counter and the digest's claim, also inside `TransactWriteItems`, which IAM authorises as
/// its items' `UpdateItem`s), by the scheduled audit and the audit worker.
pub const RUN_UPDATE: &str = "dynamodb:UpdateItem";
/// The run's targets written in batches when it is planned (the scheduled audit only).
pub const RUN_PLAN_WRITE: &str = "dynamodb:BatchWriteItem";

/// The scheduled audit imports its findings into Security Hub (`SECURITY_HUB`), as the
/// account's default product; the member role has it for its own account too.
pub const SECURITY_HUB_ACTION: &str = "securityhub:BatchImportFindings";

/// The functions read their suppressions from one SSM parameter (`SUPPRESSIONS_PARAMETER`).
pub const SUPPRESSIONS_ACTION: &str = "ssm:GetParameter";
