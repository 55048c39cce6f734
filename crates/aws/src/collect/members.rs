//! Reading the far side where it lives: EC2 clients for another account (through a role there)
//! or another Region, made once per account and Region for the collection.
//!
//! A peering connection's other VPC, or a VPC behind a transit gateway, often belongs to another
//! team's account, and a peering connection may cross Regions; its route tables, security
//! groups, network ACLs and ENIs decide the return path and are readable only there
//! (docs/datapath.md §10.12). The owner and Region are in the answers already (the peering's
//! `OwnerId` and `Region`, the attachment's `VpcOwnerId`). So [`Members::client`] gives a
//! client for `(account, region)`: the collector's own credentials in another Region of its own
//! account, or the credentials of `arn:<partition>:iam::<account>:role/<name>` (`--member-role`,
//! `MEMBER_ROLE_NAME`; an optional external id) from STS `AssumeRole`, each asked once per
//! collection, refusals included ([`Members::forget`] starts each collection afresh, so a warm
//! function never reuses expired credentials). Without a role name, or when AssumeRole is refused,
//! the answer says which account and role to set up, and the caller makes it a gap: the far
//! side's hops are then `unknown`, never assumed.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::sync::Mutex;

use crate::error::ApiFailure;
use crate::stats::CallStats;

/// The role podreach assumes in the accounts that own the far side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    /// The role's name (the same in every account), e.g. `podreach-read-only`.
    pub name: String,
    /// `sts:ExternalId`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
}

/// Why a client for another account or Region could not be made: said in the gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable(pub(crate) String);

/// What every EC2 client of the collection carries: its call counter, retries and timeouts.
#[derive(Debug, Clone)]
pub(crate) struct Ec2Defaults {
    pub(crate) stats: CallStats,
    pub(crate) retry: RetryConfig,
    pub(crate) timeouts: TimeoutConfig,
}

impl Ec2Defaults {
    fn apply(&self, builder: aws_sdk_ec2::config::Builder) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            builder
                .interceptor(self.stats.clone())
                .retry_config(self.retry.clone())
                .timeout_config(self.timeouts.clone())
                .build(),
        )
    }
}

/// Each `(account, Region)`'s client, or why there is none.
type Sessions = BTreeMap<(String, String), Result<aws_sdk_ec2::Client, Unreadable>>;

/// Clients for other accounts and Regions, made on first use and kept for the collection.
#[derive(Clone)]
pub(crate) struct Members {
    base: SdkConfig,
    sts: aws_sdk_sts::Client,
    role: Option<MemberRole>,
    defaults: Ec2Defaults,
    cache: Arc<Mutex<Sessions>>,
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Members")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Members {
    pub(crate) fn new(
        base: SdkConfig,
        sts: aws_sdk_sts::Client,
        role: Option<MemberRole>,
        defaults: Ec2Defaults,
    ) -> Self {
        Members {
            base,
            sts,
            role,
            defaults,
            cache: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Forgets every client and refusal: called at the start of each collection, so a warm
    /// function assumes the role again (fresh credentials; a role created since a refusal is
    /// used) instead of keeping them for the life of the process.
    pub(crate) async fn forget(&self) {
        self.cache.lock().await.clear();
    }

    /// The role's ARN in `account`.
    pub(crate) fn role_arn(&self, account: &str, region: &str) -> Option<String> {
        self.role.as_ref().map(|r| {
            format!(
                "arn:{}:iam::{account}:role/{}",
                crate::partition_of(region),
                r.name
            )
        })
    }

    /// A client for `account` in `region`; `ours` is the collector's own account.
    pub(crate) async fn client(
        &self,
        ours: Option<&str>,
        account: &str,
        region: &str,
    ) -> Result<aws_sdk_ec2::Client, Unreadable> {
        let key = (account.to_owned(), region.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(known) = cache.get(&key) {
            return known.clone();
        }
        let made = self.make(ours, account, region).await;
        cache.insert(key, made.clone());
        made
    }

    async fn make(
        &self,
        ours: Option<&str>,
        account: &str,
        region: &str,
    ) -> Result<aws_sdk_ec2::Client, Unreadable> {
        let builder = aws_sdk_ec2::config::Builder::from(&self.base)
            .region(aws_config::Region::new(region.to_owned()));
        if ours == Some(account) {
            return Ok(self.defaults.apply(builder));
        }
        let Some(role) = &self.role else {
            return Err(Unreadable(format!(
                "it belongs to account {account}, which podreach reads through a role there: create a role in \
                 {account} that this identity may assume, with the read-only policy (infra/iam/podreach-read-only.json), \
                 and pass its name with --member-role NAME (MEMBER_ROLE_NAME for the functions)"
            )));
        };
        let arn = self.role_arn(account, region).unwrap_or_default();
        let credentials = assume_role(&self.sts, &arn, role, "podreach")
            .await
            .map_err(|refused| match refused {
                Refused::Failed(failure) => Unreadable(format!(
                    "it belongs to account {account}, and assuming {arn} failed ({}: {}): create the role there, trusting \
                     this identity{}, with the read-only policy (infra/iam/podreach-read-only.json)",
                    failure.code.as_deref().unwrap_or("error"),
                    failure.message,
                    if role.external_id.is_some() {
                        " and the external id given"
                    } else {
                        ""
                    }
                )),
                Refused::NoCredentials => Unreadable(format!(
                    "it belongs to account {account}, and STS answered AssumeRole of {arn} without credentials"
                )),
            })?;
        Ok(self
            .defaults
            .apply(builder.credentials_provider(credentials)))
    }
}

/// Why [`assume_role`] gave no credentials.
#[derive(Debug)]
pub(crate) enum Refused {
    /// STS refused, or could not be reached.
    Failed(ApiFailure),
    /// STS answered without credentials.
    NoCredentials,
}

/// The credentials of `arn` (with `role`'s external id, when it has one) from STS `AssumeRole`:
/// the one way podreach enters another account, for a far side and for an organization's
/// targets alike.
pub(crate) async fn assume_role(
    sts: &aws_sdk_sts::Client,
    arn: &str,
    role: &MemberRole,
    session_name: &str,
) -> Result<Credentials, Refused> {
    let mut request = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name(session_name);
    if let Some(id) = &role.external_id {
        request = request.external_id(id);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| Refused::Failed(ApiFailure::from_sdk("sts:AssumeRole", e)))?;
    let c = answer.credentials().ok_or(Refused::NoCredentials)?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "podreach-member-role",
    ))
}
