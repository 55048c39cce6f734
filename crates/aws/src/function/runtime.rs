//! What a function's process builds once, at start: the [`Runtime`] of configuration and
//! clients that every invocation then uses.
//!
//! The binaries in `functions/` are `Runtime::from_env` and one call per event, so everything
//! that can fail before the first event (a bad setting, the HTTPS client) fails here, as a
//! [`StartError`], and a `DRY_RUN` is decided here too: the handlers only ever see a
//! [`Publish`](crate::publish::Publish) capability.

use std::time::SystemTime;

use serde_json::Value;
use thiserror::Error;

use crate::publish;
use crate::suppressions::SuppressionSource;

use super::batch::on_change_invocation;
use super::capabilities::Context;
use super::config::{ConfigError, FunctionConfig};
use super::error::HandlerError;
use super::handlers::scheduled_audit_in_every_region;

/// What a function's process builds once from its environment: the configuration and the
/// clients. The binaries in `functions/` are this and one call per event.
#[derive(Debug)]
pub struct Runtime {
    pub config: FunctionConfig,
    /// The first Region audited (`REGIONS`, else the function's own) and its collector: an
    /// event that names no Region is about it.
    pub region: String,
    pub collector: crate::Collector,
    /// The other Regions of `REGIONS`, each with its collector.
    pub others: Vec<(String, crate::Collector)>,
    pub sns: publish::SnsPublisher,
    pub store: crate::state::ConfiguredStore,
    pub suppressions: SuppressionSource,
}

/// Why a function could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the HTTPS client: {0}")]
    Tls(#[from] aws_smithy_http_client::HttpClientError),
}

impl Runtime {
    /// Reads the environment and builds the clients.
    pub async fn from_env() -> Result<Self, StartError> {
        let config = FunctionConfig::from_env()?;
        let sdk = crate::load_function_config(config.trust_anchors).await?;
        let home = sdk.region().map(ToString::to_string).unwrap_or_default();
        let settings = crate::CollectorSettings {
            max_concurrency: config.max_concurrency,
            kubernetes: config.kubernetes.clone(),
            runner: crate::kube::Runner::Functions,
            member_role: config.member_role.clone(),
            ..crate::CollectorSettings::default()
        };
        let store = match &config.state_table {
            Some(table) => {
                crate::state::ConfiguredStore::Dynamo(crate::state::DynamoStore::new(&sdk, table))
            }
            None => {
                tracing::warn!(
                    "STATE_TABLE is not set: the findings' lifecycle is kept in this process's memory only"
                );
                crate::state::ConfiguredStore::Memory(crate::state::MemoryStore::default())
            }
        };
        let suppressions = match &config.suppressions_parameter {
            Some(name) => SuppressionSource::ssm(&sdk, name),
            None => SuppressionSource::None,
        };
        // One collector per Region, each with the function's credentials and its own clients
        // (the EC2 request budget is per Region).
        let mut regions = config.regions.iter();
        let region = regions.next().cloned().unwrap_or(home);
        let collector_in = |region: &str| {
            let there = sdk
                .to_builder()
                .region(aws_config::Region::new(region.to_owned()))
                .build();
            crate::Collector::new(&there, &settings)
        };
        let collector = collector_in(&region);
        let others = regions.map(|r| (r.clone(), collector_in(r))).collect();
        Ok(Runtime {
            region,
            collector,
            others,
            sns: {
                let sns = publish::SnsPublisher::new(
                    aws_sdk_sns::Client::new(&sdk),
                    config.topic_arn.clone().unwrap_or_default(),
                );
                if config.security_hub {
                    sns.with_security_hub(crate::securityhub::SecurityHub::new(&sdk))
                } else {
                    sns
                }
            },
            config,
            store,
            suppressions,
        })
    }

    fn context<'a, P>(
        &'a self,
        publisher: &'a P,
        deadline: Option<SystemTime>,
    ) -> Context<'a, crate::Collector, P, crate::state::ConfiguredStore> {
        Context {
            config: &self.config,
            region: &self.region,
            collector: &self.collector,
            others: &self.others,
            publisher,
            store: &self.store,
            suppressions: &self.suppressions,
            now: None,
            deadline,
        }
    }

    /// `on-change` for one payload, publishing to the topic (or logging, with `DRY_RUN`).
    /// `deadline_ms` is the invocation's deadline (Unix milliseconds) from the Runtime API.
    pub async fn on_change(
        &self,
        payload: &Value,
        deadline_ms: Option<u64>,
    ) -> Result<Value, HandlerError> {
        let deadline = deadline_ms.map(at_millis);
        if self.config.dry_run {
            on_change_invocation(payload, &self.context(&publish::DryRun, deadline)).await
        } else {
            on_change_invocation(payload, &self.context(&self.sns, deadline)).await
        }
    }

    /// `scheduled-audit` for one event, in every Region audited.
    pub async fn scheduled_audit(
        &self,
        event: &Value,
        deadline_ms: Option<u64>,
    ) -> Result<Value, HandlerError> {
        let deadline = deadline_ms.map(at_millis);
        if self.config.dry_run {
            scheduled_audit_in_every_region(event, &self.context(&publish::DryRun, deadline)).await
        } else {
            scheduled_audit_in_every_region(event, &self.context(&self.sns, deadline)).await
        }
    }
}

/// Unix milliseconds as a time.
fn at_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)
}
