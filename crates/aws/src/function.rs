//! What the Lambda functions do, free of the Lambda runtime so it can be tested directly.
//!
//! `functions/on-change` and `functions/scheduled-audit` are thin binaries: they read
//! [`FunctionConfig`] once, build the clients once, and call [`on_change`] or
//! [`scheduled_audit`] for each event. Both decide a scope, collect it, audit it with the same
//! code as the CLI, and publish the findings that need attention (plus a digest when scheduled).
//! Failures that no report can survive are a [`HandlerError`] with a stable `error_type` the
//! functions hand to Lambda, so a dead-letter queue records why.

use podreach_core::report::Severity;
use podreach_core::{AnalyzeOptions, Overrides};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::collect::{Collect, Scope};
use crate::error::{ApiFailure, CollectError};
use crate::publish::{self, MessageFormat, Origin, Publish};
use crate::trigger::{self, Decision, EventError};

/// Configuration from the environment, read once per process.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// `TOPIC_ARN`; required unless `DRY_RUN=true`.
    pub topic_arn: Option<String>,
    /// `MESSAGE_FORMAT`: `json` (default) or `chatbot`.
    pub format: MessageFormat,
    /// `DRY_RUN`: log what would be published, publish nothing.
    pub dry_run: bool,
    /// `MIN_SEVERITY`: the least severe finding that gets its own message (default MEDIUM).
    pub min_severity: Severity,
    /// `CLUSTERS`: comma-separated names; empty means every cluster of the region.
    pub clusters: Vec<String>,
    /// `MAX_CONCURRENCY`: EC2/EKS calls in flight (default 4).
    pub max_concurrency: usize,
    /// `PODREACH_TLS_ROOTS`: `amazon` (default, the Amazon Trust Services roots only) or
    /// `platform` (the platform's root certificates; see [`crate::tls`]).
    pub trust_anchors: crate::tls::TrustAnchors,
}

/// A setting in the environment that cannot be used.
#[derive(Debug, Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl FunctionConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let dry_run = match get("DRY_RUN")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError {
                    name: "DRY_RUN",
                    message: format!("`{other}` is not true or false"),
                });
            }
        };
        let topic_arn = get("TOPIC_ARN");
        if topic_arn.is_none() && !dry_run {
            return Err(ConfigError {
                name: "TOPIC_ARN",
                message: "is not set (set DRY_RUN=true to run without publishing)".to_owned(),
            });
        }
        if let Some(arn) = &topic_arn
            && !arn.starts_with("arn:")
        {
            return Err(ConfigError {
                name: "TOPIC_ARN",
                message: format!("`{arn}` is not an SNS topic ARN"),
            });
        }
        let format: MessageFormat = parsed(&get, "MESSAGE_FORMAT")?.unwrap_or_default();
        let min_severity: Severity = parsed(&get, "MIN_SEVERITY")?.unwrap_or(Severity::Medium);
        let clusters = get("CLUSTERS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let max_concurrency = get("MAX_CONCURRENCY")
            .map(|v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError {
                        name: "MAX_CONCURRENCY",
                        message: format!("`{v}` is not a positive number"),
                    })
            })
            .transpose()?
            .unwrap_or(4);
        let trust_anchors = crate::tls::TrustAnchors::parse(get("PODREACH_TLS_ROOTS").as_deref())
            .map_err(|message| ConfigError {
            name: "PODREACH_TLS_ROOTS",
            message,
        })?;
        Ok(FunctionConfig {
            topic_arn,
            format,
            dry_run,
            min_severity,
            clusters,
            max_concurrency,
            trust_anchors,
        })
    }
}

/// The variable `name` parsed with `FromStr`, when set.
fn parsed<T: std::str::FromStr<Err = String>>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    get(name)
        .map(|v| v.parse())
        .transpose()
        .map_err(|message| ConfigError { name, message })
}

/// Why an invocation failed as a whole.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("{} of {} message(s) could not be published: {}", .failures.len(), .attempted, .failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Publish {
        attempted: usize,
        failures: Vec<ApiFailure>,
    },
}

impl HandlerError {
    /// The error type Lambda records (and a DLQ keeps) for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(e) => e.error_type(),
            HandlerError::Collect(CollectError::ListClusters(_)) => "podreach.ListClustersFailed",
            HandlerError::Collect(CollectError::Resolve(_)) => "podreach.ScopeLookupFailed",
            HandlerError::Publish { .. } => "podreach.PublishFailed",
        }
    }
}

/// What one invocation did; the function's response, and its log line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    /// `audited` or `ignored`.
    pub action: &'static str,
    pub why: String,
    pub clusters: Vec<String>,
    pub findings: usize,
    pub published: usize,
    pub gaps: usize,
    /// Clusters (or, with no name, the whole run) that got no verdicts: an invocation with any is
    /// not a clean result, whatever `findings` says.
    pub not_analysed: Vec<String>,
    pub api_calls: u64,
}

fn origin(event: &Value, region: &str) -> Origin {
    Origin {
        account: event
            .get("account")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        region: event
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or(region)
            .to_owned(),
    }
}

/// Narrows an event's scope to the configured clusters, if any.
fn within_configured(scope: Scope, config: &FunctionConfig) -> Scope {
    match (&scope, config.clusters.is_empty()) {
        (_, true) => scope,
        (Scope::AllClusters, false) => Scope::Clusters(config.clusters.clone()),
        _ => scope,
    }
}

/// `on-change`'s entry point: a batch of EventBridge events from the debounce queue (an SQS
/// event, `{"Records": [...]}`), or one EventBridge event delivered directly.
///
/// A batch is audited once for the union of its events' scopes: when pods scale, every node's
/// CNI assigns addresses within seconds, and one collection then serves dozens of events instead
/// of spending the EC2 budget the CNI itself needs. The answer to a batch is Lambda's partial
/// batch response: the records that could not be handled go back to the queue, and after its
/// `maxReceiveCount` to the dead-letter queue.
pub async fn on_change_invocation<C: Collect, P: Publish>(
    payload: &Value,
    config: &FunctionConfig,
    region: &str,
    collector: &C,
    publisher: &P,
) -> Result<Value, HandlerError> {
    match payload.get("Records").and_then(Value::as_array) {
        Some(records) => {
            let failures = on_change_batch(records, config, region, collector, publisher).await;
            Ok(serde_json::json!({
                "batchItemFailures": failures
                    .iter()
                    .map(|id| serde_json::json!({"itemIdentifier": id}))
                    .collect::<Vec<_>>()
            }))
        }
        None => on_change(payload, config, region, collector, publisher)
            .await
            .map(|outcome| serde_json::to_value(outcome).unwrap_or_default())
            .inspect_err(|error| {
                tracing::error!(error_type = error.error_type(), %error, "event rejected");
            }),
    }
}

/// Handles SQS records whose bodies are EventBridge events; returns the failed message ids.
async fn on_change_batch<C: Collect, P: Publish>(
    records: &[Value],
    config: &FunctionConfig,
    region: &str,
    collector: &C,
    publisher: &P,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut scopes = Vec::new();
    let mut audited_ids = Vec::new();
    let mut reasons = Vec::new();
    let mut first_event = None;
    for record in records {
        let id = record
            .get("messageId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let body = record
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let decision = serde_json::from_str::<Value>(body)
            .map_err(EventError::NotAnEvent)
            .and_then(|event| {
                let decision = trigger::decide(&event)?;
                first_event.get_or_insert(event);
                Ok(decision)
            });
        match decision {
            Ok(Decision::Ignore(why)) => tracing::info!(message_id = %id, %why, "event ignored"),
            Ok(Decision::Audit { scope, why }) => {
                scopes.push(within_configured(scope, config));
                reasons.push(why);
                audited_ids.push(id);
            }
            Err(error) => {
                tracing::error!(message_id = %id, error_type = error.error_type(), %error, "event rejected");
                failed.push(id);
            }
        }
    }
    if scopes.is_empty() {
        return failed;
    }
    let scope = Scope::union(scopes);
    let why = format!("{} event(s): {}", reasons.len(), reasons.join("; "));
    let event = first_event.unwrap_or(Value::Null);
    let with = With {
        config,
        region,
        collector,
        publisher,
    };
    if let Err(error) = audit_and_publish(&event, scope, why, Digest::No, &with).await {
        tracing::error!(error_type = error.error_type(), %error, "batch failed");
        failed.extend(audited_ids);
    }
    failed
}

/// `on-change`: one EventBridge event.
pub async fn on_change<C: Collect, P: Publish>(
    event: &Value,
    config: &FunctionConfig,
    region: &str,
    collector: &C,
    publisher: &P,
) -> Result<Outcome, HandlerError> {
    let (scope, why) = match trigger::decide(event)? {
        Decision::Ignore(why) => {
            tracing::info!(%why, "event ignored");
            return Ok(Outcome {
                action: "ignored",
                why,
                clusters: Vec::new(),
                findings: 0,
                published: 0,
                gaps: 0,
                not_analysed: Vec::new(),
                api_calls: 0,
            });
        }
        Decision::Audit { scope, why } => (within_configured(scope, config), why),
    };
    let with = With {
        config,
        region,
        collector,
        publisher,
    };
    audit_and_publish(event, scope, why, Digest::No, &with).await
}

/// `scheduled-audit`: every (configured) cluster, findings plus a digest.
pub async fn scheduled_audit<C: Collect, P: Publish>(
    event: &Value,
    config: &FunctionConfig,
    region: &str,
    collector: &C,
    publisher: &P,
) -> Result<Outcome, HandlerError> {
    let scope = within_configured(Scope::AllClusters, config);
    let with = With {
        config,
        region,
        collector,
        publisher,
    };
    audit_and_publish(
        event,
        scope,
        "scheduled audit".to_owned(),
        Digest::Yes,
        &with,
    )
    .await
    .inspect_err(|error| {
        tracing::error!(error_type = error.error_type(), %error, "scheduled audit failed");
    })
}

/// What every invocation works with: the configuration and the two capabilities.
struct With<'a, C, P> {
    config: &'a FunctionConfig,
    region: &'a str,
    collector: &'a C,
    publisher: &'a P,
}

/// Whether an audit publishes a digest besides its findings (the scheduled audit does).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Digest {
    Yes,
    No,
}

async fn audit_and_publish<C: Collect, P: Publish>(
    event: &Value,
    scope: Scope,
    why: String,
    digest: Digest,
    with: &With<'_, C, P>,
) -> Result<Outcome, HandlerError> {
    let With {
        config,
        region,
        collector,
        publisher,
    } = with;
    let collection = collector.collect(&scope).await?;
    let clusters = collection.clusters();
    let api_calls = collection.notes.stats.calls;
    if clusters.is_empty() && digest == Digest::No {
        let why = format!("{why}: the event concerns no EKS cluster (scope {scope:?})");
        tracing::info!(%why, api_calls, "event ignored");
        return Ok(Outcome {
            action: "ignored",
            why,
            clusters,
            findings: 0,
            published: 0,
            gaps: collection.notes.gaps.len(),
            not_analysed: Vec::new(),
            api_calls,
        });
    }
    let report = collection.audit(
        Default::default(),
        &Overrides::default(),
        &AnalyzeOptions {
            include_paths: false,
        },
    );
    for gap in &report.gaps {
        tracing::warn!(cluster = ?gap.cluster, object = ?gap.object, message = %gap.message, "gap");
    }
    for n in &report.not_analysed {
        tracing::warn!(cluster = ?n.cluster, reason = %n.reason, "not analysed");
    }
    let origin = origin(event, region);
    let mut messages: Vec<publish::Message> =
        publish::needing_attention(&report, config.min_severity)
            .into_iter()
            .map(|f| publish::finding_message(f, &origin, config.format))
            .collect();
    if digest == Digest::Yes {
        messages.push(publish::digest_message(&report, &origin, config.format));
    }
    let mut failures = Vec::new();
    for message in &messages {
        if let Err(failure) = publisher.publish(message).await {
            tracing::error!(%failure, subject = %message.subject, "publish failed");
            failures.push(failure);
        }
    }
    let outcome = Outcome {
        action: "audited",
        why,
        clusters,
        findings: report.findings.len(),
        published: messages.len() - failures.len(),
        gaps: report.gaps.len(),
        not_analysed: report
            .not_analysed
            .iter()
            .map(|n| match &n.cluster {
                Some(cluster) => format!("{cluster}: {}", n.reason),
                None => n.reason.clone(),
            })
            .collect(),
        api_calls,
    };
    tracing::info!(outcome = ?outcome, "audit done");
    if !failures.is_empty() {
        return Err(HandlerError::Publish {
            attempted: messages.len(),
            failures,
        });
    }
    Ok(outcome)
}
