//! podreach-aws: the AWS edge of podreach.
//!
//! [`collect`] reads, with the AWS SDK for Rust, exactly the data an offline snapshot holds and
//! turns it into the same typed documents, so the pure core analyses live and offline input by
//! one code path. [`stats`] counts what that cost; [`error`] says what failed in IAM terms;
//! [`iam`] lists the exact actions. For the Lambda functions, [`trigger`] maps an EventBridge
//! event to the smallest scope worth re-auditing, [`lifecycle`] tracks the findings in a
//! [`state`] store (DynamoDB; memory for the CLI's `--state` file and the tests) with the
//! [`suppressions`] of an SSM parameter, [`publish`] shapes the changes as SNS messages (JSON or
//! AWS Chatbot), and [`function`] is the handlers' logic, kept here so the binaries in
//! `functions/` stay thin and the logic is tested without the Lambda runtime. Everything here is
//! read-only against AWS except podreach's own: publishing to its topic and keeping its state
//! table.

mod bounded;
pub mod collect;
pub mod context;
pub mod convert;
pub mod error;
pub mod fit;
pub mod function;
pub mod iam;
pub mod kube;
pub mod layout;
pub mod lifecycle;
pub mod org;
pub mod owners;
pub mod publish;
pub mod runs;
pub mod scope;
pub mod securityhub;
pub mod state;
pub mod stats;
pub mod suppressions;
pub mod tls;
pub mod trigger;

pub use collect::{Collect, Collection, Collector, CollectorSettings, MemberRole, Scope};
pub use error::{ApiFailure, CollectError, FailureKind};

/// Loads the standard AWS configuration: the credential chain, `AWS_PROFILE`, `AWS_REGION` and
/// `AWS_ENDPOINT_URL`, with `region` overriding the chain's region when given.
pub async fn load_config(region: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

/// The partition of a Region (`aws`, `aws-cn`, `aws-us-gov`): a role's ARN names it, and
/// credentials are valid only within one.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// [`load_config`] for the Lambda functions: the same chain, with an HTTPS client that trusts
/// `anchors` ([`tls`]).
pub async fn load_function_config(
    anchors: tls::TrustAnchors,
) -> Result<aws_config::SdkConfig, aws_smithy_http_client::HttpClientError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if anchors == tls::TrustAnchors::AmazonTrustServices {
        loader = loader.http_client(tls::amazon_roots_client()?);
    }
    Ok(loader.load().await)
}
