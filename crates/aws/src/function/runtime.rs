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
    /// The topic (with the Security Hub import when it is this account's), or the dry run.
    pub outlet: publish::Outlet,
    pub store: crate::state::ConfiguredStore,
    pub suppressions: SuppressionSource,
    /// The hub's organization capabilities (`ORGANIZATION=true`).
    pub organization: Option<super::hub::HubOrganization>,
    /// The audit worker's sessions (`MEMBER_ROLE_NAME` set).
    pub sessions: Option<super::hub::HubSessions>,
}

/// Why a function could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the HTTPS client: {0}")]
    Tls(#[from] aws_smithy_http_client::HttpClientError),
    /// The audit worker cannot run without its member role and state table.
    #[error("audit-worker: {0}")]
    Worker(&'static str),
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
        let topic = if config.dry_run {
            publish::Outlet::DryRun
        } else {
            publish::Outlet::Sns(Box::new(publish::SnsPublisher::new(
                aws_sdk_sns::Client::new(&sdk),
                config.topic_arn.clone().unwrap_or_default(),
            )))
        };
        // In organization mode findings go to Security Hub of the account they belong to,
        // through its member role (`HubSessions`), never to the hub's.
        let outlet = if config.security_hub && config.organization.is_none() {
            topic
                .clone()
                .with_security_hub(crate::securityhub::SecurityHub::new(&sdk))
        } else {
            topic.clone()
        };
        let organization = config
            .organization
            .as_ref()
            .map(|org| super::hub::HubOrganization {
                sdk: sdk.clone(),
                sqs: aws_sdk_sqs::Client::new(&sdk),
                queue_url: org.audit_queue_url.clone(),
            });
        let sessions = config
            .member_role
            .clone()
            .map(|role| super::hub::HubSessions {
                sdk: sdk.clone(),
                role,
                settings: settings.clone(),
                outlet: topic,
                security_hub: config.security_hub,
            });
        Ok(Runtime {
            region,
            collector,
            others,
            outlet,
            config,
            store,
            suppressions,
            organization,
            sessions,
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
    /// `deadline_ms` is the invocation's deadline (Unix milliseconds) from the Runtime API;
    /// `function_arn` the invoked function's, whose account is the hub's in organization mode
    /// (each other account's events are audited through its member role).
    pub async fn on_change(
        &self,
        payload: &Value,
        deadline_ms: Option<u64>,
        function_arn: &str,
    ) -> Result<Value, HandlerError> {
        let context = self.context(&self.outlet, deadline_ms.map(at_millis));
        match (&self.config.organization, &self.sessions) {
            (Some(_), Some(sessions)) => {
                let hub = function_arn.split(':').nth(4).unwrap_or_default();
                Box::pin(super::members::on_change_in_organization(
                    payload, &context, sessions, hub,
                ))
                .await
            }
            _ => Box::pin(on_change_invocation(payload, &context)).await,
        }
    }

    /// `scheduled-audit` for one event, in every Region audited; in organization mode, the
    /// run planned and queued instead.
    pub async fn scheduled_audit(
        &self,
        event: &Value,
        deadline_ms: Option<u64>,
    ) -> Result<Value, HandlerError> {
        if let (Some(organization), Some(settings)) =
            (&self.organization, &self.config.organization)
        {
            let hub = self.hub(event.get("account").and_then(Value::as_str));
            let runs = self.runs().map_err(HandlerError::State)?;
            return super::organization::plan_run(
                organization,
                &self.outlet,
                runs,
                &self.config,
                settings,
                &hub,
                now_seconds(),
            )
            .await;
        }
        let context = self.context(&self.outlet, deadline_ms.map(at_millis));
        scheduled_audit_in_every_region(event, &context).await
    }
}

impl Runtime {
    /// `audit-worker` for one SQS event of the audit queue. `function_arn` is the invoked
    /// function's (Lambda's context): the hub's account is read from it.
    pub async fn audit_worker(
        &self,
        payload: &Value,
        deadline_ms: Option<u64>,
        function_arn: &str,
    ) -> Result<Value, HandlerError> {
        let sessions = self.sessions.as_ref().ok_or_else(|| {
            HandlerError::State(crate::state::StateError::Record {
                key: "MEMBER_ROLE_NAME".to_owned(),
                message: "the audit worker needs the member role".to_owned(),
            })
        })?;
        let runs = self.runs().map_err(HandlerError::State)?;
        let hub = self.hub(function_arn.split(':').nth(4));
        let worker = super::worker::Worker {
            config: &self.config,
            sessions,
            publisher: &self.outlet,
            store: &self.store,
            runs,
            suppressions: &self.suppressions,
            hub: &hub,
            now: None,
            deadline: deadline_ms.map(at_millis),
        };
        // Boxed: the steps' futures nest deep (see the handlers' own boxes).
        Box::pin(super::worker::audit_worker_invocation(payload, &worker)).await
    }

    /// Checks, at start, what the audit worker needs.
    pub fn check_worker(&self) -> Result<(), StartError> {
        if self.sessions.is_none() {
            return Err(StartError::Worker(
                "MEMBER_ROLE_NAME is required: the role every member account is read through",
            ));
        }
        if self.runs().is_err() {
            return Err(StartError::Worker(
                "STATE_TABLE is required: the organization run is kept in the state table",
            ));
        }
        Ok(())
    }

    /// The organization's runs: the state table.
    fn runs(&self) -> Result<&crate::state::DynamoStore, crate::state::StateError> {
        match &self.store {
            crate::state::ConfiguredStore::Dynamo(table) => Ok(table),
            crate::state::ConfiguredStore::Memory(_) => Err(crate::state::StateError::Record {
                key: "STATE_TABLE".to_owned(),
                message: "an organization run is kept in the state table: set STATE_TABLE"
                    .to_owned(),
            }),
        }
    }

    /// The hub's account (as the event or the function's ARN names it) and Region.
    fn hub(&self, account: Option<&str>) -> publish::Origin {
        publish::Origin {
            account: account.unwrap_or("unknown").to_owned(),
            region: self.region.clone(),
            alias: None,
        }
    }
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix milliseconds as a time.
fn at_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)
}
