//! The live collector: EC2 and EKS clients built once, a call counter and the permits.
//!
//! Everything that makes the collection polite to the shared EC2 budget is set here, once, for
//! every phase: the SDK's standard retry (exponential backoff with jitter) with a bounded number
//! of attempts, a timeout per operation, a semaphore that bounds the pages in flight
//! ([`Collector::permit`], taken by `paginate!` for each page) and the interceptor that counts
//! every call ([`CallStats`]). The phases (`scope.rs`, `eks.rs`, `vpc.rs`, `far.rs`,
//! `prefix_lists.rs`, `nodes.rs`) are further `impl Collector` blocks beside this one; they
//! reach the clients through the `pub(super)` fields, which nothing outside `collect` sees.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::sync::Semaphore;

use super::members::{Ec2Defaults, MemberRole, Members, Unreadable};
use crate::stats::CallStats;

/// Limits that keep the collection polite to the shared EC2 budget.
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// API calls in flight at once.
    pub max_concurrency: usize,
    /// Attempts per call, including the first (SDK standard retry mode).
    pub max_attempts: u32,
    /// First backoff of the standard retry mode; it grows exponentially with jitter.
    pub initial_backoff: Duration,
    /// Time for one call including its retries.
    pub operation_timeout: Duration,
    /// How the clusters' Kubernetes APIs are read ([`crate::kube`]); the EKS way by default.
    pub kubernetes: crate::kube::KubeMode,
    pub kube: crate::kube::KubeSettings,
    /// Who collects (the remedies of a blind spot differ).
    pub runner: crate::kube::Runner,
    /// The role to read the far side with in the accounts that own it (`--member-role`,
    /// `MEMBER_ROLE_NAME`); `None`: a far side in another account is a gap.
    pub member_role: Option<super::members::MemberRole>,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        CollectorSettings {
            max_concurrency: 4,
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(60),
            kubernetes: crate::kube::KubeMode::Eks,
            kube: crate::kube::KubeSettings::default(),
            runner: crate::kube::Runner::Cli,
            member_role: None,
        }
    }
}

/// The live collector: EC2 and EKS clients built once, a call counter and the permits.
#[derive(Debug, Clone)]
pub struct Collector {
    pub(super) ec2: aws_sdk_ec2::Client,
    pub(super) eks: aws_sdk_eks::Client,
    pub(super) stats: CallStats,
    permits: Arc<Semaphore>,
    pub(super) region: Option<String>,
    pub(super) kube: crate::kube::KubeAccess,
    /// What every EC2 client carries (counter, retries, timeouts), for the far side's clients.
    defaults: Ec2Defaults,
    /// Clients for the far side in other accounts and Regions; `None` when the collector was
    /// built from service builders alone ([`Collector::with_members`] adds them).
    pub(super) members: Option<Members>,
}

impl Collector {
    /// Clients from a loaded SDK configuration (credential chain, region, endpoint).
    pub fn new(config: &SdkConfig, settings: &CollectorSettings) -> Self {
        Self::from_builders(
            aws_sdk_ec2::config::Builder::from(config),
            aws_sdk_eks::config::Builder::from(config),
            settings,
        )
        .with_kubernetes(crate::kube::KubeAccess::from_config(
            config,
            settings.kubernetes.clone(),
            settings.runner,
            settings.kube.clone(),
        ))
        .with_members(config, settings.member_role.clone())
    }

    /// Reads the far side in other accounts (through `role`) and Regions with clients made from
    /// `config` ([`Members`]).
    pub fn with_members(self, config: &SdkConfig, role: Option<MemberRole>) -> Self {
        // Counted, retried and timed like every other call of the collection.
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(config)
                .interceptor(self.defaults.stats.clone())
                .retry_config(self.defaults.retry.clone())
                .timeout_config(self.defaults.timeouts.clone())
                .build(),
        );
        self.with_members_through(config, sts, role)
    }

    /// [`Collector::with_members`] with the STS client that assumes the member role given
    /// (tests give one whose AssumeRole is refused: moto assumes any role).
    pub fn with_members_through(
        mut self,
        config: &SdkConfig,
        sts: aws_sdk_sts::Client,
        role: Option<MemberRole>,
    ) -> Self {
        self.members = Some(Members::new(
            config.clone(),
            sts,
            role,
            self.defaults.clone(),
        ));
        self
    }

    /// Reads the clusters' Kubernetes APIs with `access` (the collector of
    /// [`Collector::from_builders`] reads none).
    pub fn with_kubernetes(mut self, access: crate::kube::KubeAccess) -> Self {
        self.kube = access;
        self
    }

    /// `true` when the collection reads the clusters' Kubernetes APIs.
    pub fn reads_kubernetes(&self) -> bool {
        self.kube.mode != crate::kube::KubeMode::Off
    }

    /// Clients from service config builders; tests add mock interceptors to them.
    pub fn from_builders(
        ec2: aws_sdk_ec2::config::Builder,
        eks: aws_sdk_eks::config::Builder,
        settings: &CollectorSettings,
    ) -> Self {
        let stats = CallStats::new();
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts.max(1))
            .with_initial_backoff(settings.initial_backoff);
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(settings.operation_timeout)
            .build();
        let defaults = Ec2Defaults {
            stats: stats.clone(),
            retry: retry.clone(),
            timeouts: timeouts.clone(),
        };
        let ec2 = ec2
            .interceptor(stats.clone())
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone())
            .build();
        let eks = eks
            .interceptor(stats.clone())
            .retry_config(retry)
            .timeout_config(timeouts)
            .build();
        let region = ec2.region().map(ToString::to_string);
        Collector {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            eks: aws_sdk_eks::Client::from_conf(eks),
            stats,
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            region,
            kube: crate::kube::KubeAccess::off(),
            defaults,
            members: None,
        }
    }

    /// The call counter, for callers that want the cost of something else they do.
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// An EC2 client for `account` in `region` (the far side or a gateway's owner), through
    /// [`Members`]; `ours` is the collector's own account.
    pub(super) async fn client_in(
        &self,
        ours: Option<&str>,
        account: &str,
        region: &str,
    ) -> Result<aws_sdk_ec2::Client, Unreadable> {
        match &self.members {
            Some(members) => members.client(ours, account, region).await,
            None => Err(Unreadable(
                "this collector reads one account and Region only".to_owned(),
            )),
        }
    }

    pub(super) async fn permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so `None` cannot happen; it is not worth a panic.
        self.permits.acquire().await.ok()
    }
}
