//! A session in a target account: the member role assumed through STS in the target's Region,
//! as an `SdkConfig` every client of the audit is built from (EC2, EKS, STS for the Kubernetes
//! token). A refusal is typed as the core's [`Blocker`] with AWS's own text, so the run goes on
//! with the other targets and this one is a blind spot with its remedy.

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use podreach_core::org::{Blocker, Target};

use crate::collect::MemberRole;
use crate::collect::members::{Refused, assume_role};

/// A target's session: the configuration to build its clients from, and the role it stands in.
#[derive(Debug, Clone)]
pub struct TargetSession {
    pub config: SdkConfig,
    pub role_arn: String,
}

/// Assumes `role` in the target's account, in its Region (STS's regional endpoint: a Region
/// that is not enabled for the account refuses there, and says so). `base` is the hub's own
/// configuration.
pub async fn session(
    base: &SdkConfig,
    target: &Target,
    role: &MemberRole,
) -> Result<TargetSession, (Blocker, String)> {
    let role_arn = format!(
        "arn:{}:iam::{}:role/{}",
        crate::partition_of(&target.region),
        target.account,
        role.name
    );
    let region = aws_config::Region::new(target.region.clone());
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(base)
            .region(region.clone())
            .build(),
    );
    let credentials = assume_role(&sts, &role_arn, role, "podreach-organization-audit")
        .await
        .map_err(|refused| match refused {
            Refused::Failed(failure) => {
                let code = failure.code.clone().unwrap_or_default();
                // AWS's own words: the generic text of an `ApiFailure` would advise granting
                // the action to the hub, where the remedy is the member role (the blocker's).
                let error = match &failure.code {
                    Some(code) => format!("sts:AssumeRole {code}: {}", failure.message),
                    None => failure.to_string(),
                };
                (
                    Blocker::classify("sts:AssumeRole", &code, &failure.message, &role_arn),
                    error,
                )
            }
            Refused::NoCredentials => (
                Blocker::Failed {
                    action: "sts:AssumeRole".to_owned(),
                },
                format!("STS answered AssumeRole of {role_arn} without credentials"),
            ),
        })?;
    let config = base
        .to_builder()
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    Ok(TargetSession { config, role_arn })
}

/// The one read that proves a session can audit its target: `ec2:DescribeVpcs` (five at most).
/// An account with no cluster would otherwise never call EC2, and a member role that cannot
/// read EC2 (an older member stack, a service control policy) or a Region throttled past every
/// retry would read as audited; refused here, it is a blind spot typed by AWS's own error.
pub async fn probe(session: &TargetSession) -> Result<(), (Blocker, String)> {
    const ACTION: &str = "ec2:DescribeVpcs";
    let ec2 = aws_sdk_ec2::Client::new(&session.config);
    match ec2.describe_vpcs().max_results(5).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let failure = crate::error::ApiFailure::from_sdk(ACTION, error);
            let code = failure.code.clone().unwrap_or_default();
            let blocker = Blocker::classify(ACTION, &code, &failure.message, &session.role_arn);
            let error = match &failure.code {
                Some(code) => format!("{ACTION} {code}: {}", failure.message),
                None => failure.to_string(),
            };
            Err((blocker, error))
        }
    }
}
