//! What the Lambda functions do, free of the Lambda runtime so it can be tested directly.
//!
//! `functions/on-change` and `functions/scheduled-audit` are thin binaries: they read
//! [`FunctionConfig`] once, build the clients once, and call [`on_change`] or
//! [`scheduled_audit`] for each event with a [`Context`] of capabilities (collect, publish,
//! keep state, read suppressions). Both decide a scope, collect it, audit it with the same code
//! as the CLI, track the findings' lifecycle ([`crate::lifecycle`]) and publish only the
//! changes: NEW, CHANGED and RESOLVED findings, plus, from the scheduled audit, reminders of
//! open findings and a digest. Failures that no report can survive are a [`HandlerError`] with
//! a stable `error_type` the functions hand to Lambda, so a dead-letter queue records why.

use std::collections::{BTreeMap, BTreeSet};

use podreach_core::lifecycle::{self, Marker, Policy};
use podreach_core::report::Severity;
use podreach_core::{AnalyzeOptions, Overrides};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::collect::{Collect, Scope};
use crate::error::{ApiFailure, CollectError};
use crate::lifecycle::{DigestLifecycle, Inputs};
use crate::publish::{self, MessageFormat, Origin, Publish};
use crate::state::{Clusters, Partition, StateError, StateStore};
use crate::suppressions::SuppressionSource;
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
    /// `STATE_TABLE`: the DynamoDB table of the findings' lifecycle. Unset: the state is kept in
    /// the process's memory, so it lasts only as long as a warm instance (trials only).
    pub state_table: Option<String>,
    /// `SUPPRESSIONS_PARAMETER`: the SSM parameter holding the suppression document.
    pub suppressions_parameter: Option<String>,
    /// `RENOTIFY_HOURS` (default 24; 0 = never): the scheduled audit recalls a finding still open
    /// this long after its last message.
    pub renotify_after: Option<i64>,
    /// `CONTEXT_MAX_AGE_MINUTES` (default 60; 0 = never): how old a cluster's cached context may
    /// be for `on-change` to audit an ENI or instance event as that node against it
    /// ([`crate::context`]) instead of re-collecting the whole cluster.
    pub context_max_age: Option<i64>,
    /// `TCP_PORTS` (`tcp/5432,tcp/443`; the CLI's `--port`s): the TCP ports every verdict is
    /// about. Unset: a path is reachable when some TCP port gets through every filter.
    pub tcp_ports: Vec<u16>,
    /// `KUBERNETES_API`: `eks` (default: each cluster's API with an EKS token of the function's
    /// role) or `off` (the report then says what that leaves unseen).
    pub kubernetes: crate::kube::KubeMode,
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
        let renotify_after = interval(&get, "RENOTIFY_HOURS", "hours", 3600, 24)?;
        let context_max_age = interval(&get, "CONTEXT_MAX_AGE_MINUTES", "minutes", 60, 60)?;
        let tcp_ports = get("TCP_PORTS")
            .map(|v| podreach_core::filters::parse_ports(&v))
            .transpose()
            .map_err(|message| ConfigError {
                name: "TCP_PORTS",
                message,
            })?
            .unwrap_or_default();
        let kubernetes = match get("KUBERNETES_API")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("eks" | "on") => crate::kube::KubeMode::Eks,
            Some("off") => crate::kube::KubeMode::Off,
            Some(other) => {
                return Err(ConfigError {
                    name: "KUBERNETES_API",
                    message: format!("`{other}` is neither eks nor off"),
                });
            }
        };
        Ok(FunctionConfig {
            kubernetes,
            tcp_ports,
            context_max_age,
            state_table: get("STATE_TABLE"),
            suppressions_parameter: get("SUPPRESSIONS_PARAMETER"),
            renotify_after,
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

/// A whole number of `unit`s in seconds (`seconds_per_unit` each), `default` when unset;
/// 0 means never (`None`).
fn interval(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    unit: &str,
    seconds_per_unit: i64,
    default: i64,
) -> Result<Option<i64>, ConfigError> {
    match get(name) {
        None => Ok(Some(default * seconds_per_unit)),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(n) if n > 0 => Ok(Some(n.saturating_mul(seconds_per_unit))),
            _ => Err(ConfigError {
                name,
                message: format!("`{v}` is not a number of {unit} (0 = never)"),
            }),
        },
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
    #[error("the findings' state: {0}")]
    State(#[from] StateError),
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
            HandlerError::State(_) => "podreach.StateFailed",
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
    /// Inputs of analysed clusters that could not be read (`cluster: input: cause`): an
    /// invocation with any is not a clean result either.
    pub blind_spots: Vec<String>,
    pub api_calls: u64,
    /// The findings' lifecycle markers in this audit, counted (ONGOING includes quiet repeats).
    pub lifecycle: BTreeMap<&'static str, usize>,
    /// Writes of the state refused because another invocation wrote first (each was redone).
    pub state_conflicts: usize,
    /// Why the suppression document was refused (then nothing was suppressed).
    pub suppressions_problem: Option<String>,
    /// Set when only the event's node(s) were collected and audited against the cluster's
    /// cached context: how old that context was, in seconds.
    pub context_age_seconds: Option<i64>,
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

/// What an invocation works with: the configuration and the capabilities.
#[derive(Debug)]
pub struct Context<'a, C, P, S> {
    pub config: &'a FunctionConfig,
    pub region: &'a str,
    pub collector: &'a C,
    pub publisher: &'a P,
    pub store: &'a S,
    pub suppressions: &'a SuppressionSource,
    /// The invocation's time in Unix seconds; `None` reads the system clock (tests fix it).
    pub now: Option<i64>,
}

impl<C, P, S> Context<'_, C, P, S> {
    fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        })
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
pub async fn on_change_invocation<C: Collect, P: Publish, S: StateStore>(
    payload: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Value, HandlerError> {
    match payload.get("Records").and_then(Value::as_array) {
        Some(records) => {
            let failures = on_change_batch(records, context).await;
            Ok(serde_json::json!({
                "batchItemFailures": failures
                    .iter()
                    .map(|id| serde_json::json!({"itemIdentifier": id}))
                    .collect::<Vec<_>>()
            }))
        }
        None => on_change(payload, context)
            .await
            .map(|outcome| serde_json::to_value(outcome).unwrap_or_default())
            .inspect_err(|error| {
                tracing::error!(error_type = error.error_type(), %error, "event rejected");
            }),
    }
}

/// Handles SQS records whose bodies are EventBridge events; returns the failed message ids.
async fn on_change_batch<C: Collect, P: Publish, S: StateStore>(
    records: &[Value],
    context: &Context<'_, C, P, S>,
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
                scopes.push(within_configured(scope, context.config));
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
    if let Err(error) = audit_and_publish(&event, scope, why, Kind::OnChange, context).await {
        tracing::error!(error_type = error.error_type(), %error, "batch failed");
        failed.extend(audited_ids);
    }
    failed
}

/// `on-change`: one EventBridge event.
pub async fn on_change<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let (scope, why) = match trigger::decide(event)? {
        Decision::Ignore(why) => {
            tracing::info!(%why, "event ignored");
            return Ok(ignored(why, Vec::new(), 0, 0));
        }
        Decision::Audit { scope, why } => (within_configured(scope, context.config), why),
    };
    audit_and_publish(event, scope, why, Kind::OnChange, context).await
}

/// `scheduled-audit`: every (configured) cluster; reconciles the whole state, recalls open
/// findings at the configured interval, and publishes a digest.
pub async fn scheduled_audit<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let scope = within_configured(Scope::AllClusters, context.config);
    audit_and_publish(
        event,
        scope,
        "scheduled audit".to_owned(),
        Kind::Scheduled,
        context,
    )
    .await
    .inspect_err(|error| {
        tracing::error!(error_type = error.error_type(), %error, "scheduled audit failed");
    })
}

/// Which function is auditing: the scheduled audit reconciles every stored cluster, recalls
/// open findings and adds a digest; `on-change` publishes only what changed in its scope.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    OnChange,
    Scheduled,
}

fn ignored(why: String, clusters: Vec<String>, gaps: usize, api_calls: u64) -> Outcome {
    Outcome {
        action: "ignored",
        why,
        clusters,
        findings: 0,
        published: 0,
        gaps,
        not_analysed: Vec::new(),
        blind_spots: Vec::new(),
        api_calls,
        lifecycle: BTreeMap::new(),
        state_conflicts: 0,
        suppressions_problem: None,
        context_age_seconds: None,
    }
}

/// The ENIs and instances of a scope made of nothing else (a node event, or a batch of them).
fn node_objects(scope: &Scope) -> Option<(Vec<String>, Vec<String>)> {
    fn walk(scope: &Scope, enis: &mut Vec<String>, instances: &mut Vec<String>) -> bool {
        match scope {
            Scope::Enis(ids) => {
                enis.extend(ids.iter().cloned());
                true
            }
            Scope::Instances(ids) => {
                instances.extend(ids.iter().cloned());
                true
            }
            Scope::Union(scopes) => scopes.iter().all(|s| walk(s, enis, instances)),
            _ => false,
        }
    }
    let (mut enis, mut instances) = (Vec::new(), Vec::new());
    walk(scope, &mut enis, &mut instances).then_some((enis, instances))
}

/// What the attempt to audit only the event's nodes came to.
enum Nodes {
    /// The nodes' documents with their cluster's cached context, and the context's age.
    Audited(Box<crate::Collection>, i64),
    /// Not possible; the whole cluster is collected. The calls already spent, why, and the
    /// nodes' clusters when they were found (then the full collection need not look them up).
    Whole {
        calls: u64,
        why: String,
        clusters: Vec<String>,
    },
}

/// The event's nodes, collected alone and joined to their cluster's cached context.
async fn nodes_with_context<C: Collect, S: StateStore>(
    collector: &C,
    store: &S,
    at: &Partition,
    (enis, instances): (&[String], &[String]),
    now: i64,
    max_age: i64,
) -> Result<Nodes, HandlerError> {
    let Some(nodes) = collector.collect_nodes(enis, instances).await? else {
        return Ok(Nodes::Whole {
            calls: 0,
            why: "the event's nodes could not be collected alone".to_owned(),
            clusters: Vec::new(),
        });
    };
    let calls = nodes.notes.stats.calls;
    let whole = |why: String| {
        Ok(Nodes::Whole {
            calls,
            why,
            clusters: nodes.cluster_names.clone(),
        })
    };
    let [cluster] = nodes.cluster_names.as_slice() else {
        return whole(format!(
            "the nodes belong to {} clusters",
            nodes.cluster_names.len()
        ));
    };
    let cached = match store.context(at, cluster).await {
        Ok(Some(cached)) => cached,
        Ok(None) => return whole(format!("no cached context of {cluster}")),
        Err(error) => return whole(format!("the cached context of {cluster}: {error}")),
    };
    let age = now.saturating_sub(cached.collected_at);
    if age > max_age {
        return whole(format!("the cached context of {cluster} is {age} s old"));
    }
    let restored = match crate::context::documents(&cached) {
        Ok(restored) => restored,
        Err(why) => return whole(why),
    };
    let cluster = cluster.clone();
    let cluster = &cluster;
    let mut collection = nodes;
    // The nodes' pods and the aws-node DaemonSet, read now: a DaemonSet that changed since the
    // context (`kubectl set env daemonset aws-node …`) makes the context stale.
    let described = restored.documents.iter().find_map(|d| match &d.document {
        podreach_core::snapshot::Document::Cluster(c) if c.cluster.name == *cluster => {
            Some(c.cluster.clone())
        }
        _ => None,
    });
    let mut documents = restored.documents;
    if let Some(described) = described {
        let names = node_names(&collection, &documents);
        let reach = crate::kube::Reach::Nodes(names);
        if let Some(read) = collector.read_kubernetes(&described, &reach).await {
            let now = read.aws_node_version().map(str::to_owned);
            if read.blind_spots.is_empty() && now != restored.aws_node_version {
                return Ok(Nodes::Whole {
                    calls: collection.notes.stats.calls,
                    why: format!(
                        "the aws-node DaemonSet of {cluster} changed since its context was collected (resourceVersion {} → {})",
                        restored.aws_node_version.as_deref().unwrap_or("none"),
                        now.as_deref().unwrap_or("none")
                    ),
                    clusters: collection.cluster_names.clone(),
                });
            }
            if read.daemonset.is_some() {
                documents.retain(|d| {
                    !matches!(d.document, podreach_core::snapshot::Document::AwsNode(_))
                });
            }
            // This audit's cost includes the node's Kubernetes reads.
            let stats = &mut collection.notes.stats;
            for (action, op) in &read.requests {
                stats.calls += op.calls;
                let entry = stats.operations.entry(action.clone()).or_default();
                entry.calls += op.calls;
                entry.failures += op.failures;
                entry.bytes += op.bytes;
            }
            crate::collect::kubernetes_documents(
                cluster,
                read,
                &mut collection.documents,
                &mut collection.notes,
            );
        }
    }
    collection.documents.extend(documents);
    collection.notes.gaps.extend(restored.gaps);
    Ok(Nodes::Audited(Box::new(collection), age))
}

/// The Kubernetes names of the nodes collected: from the context's Node objects by instance
/// id, else the instance's private DNS name (EKS's default node name).
fn node_names(
    nodes: &crate::Collection,
    context: &[podreach_core::snapshot::LoadedDocument],
) -> Vec<String> {
    use podreach_core::snapshot::Document;
    let known: BTreeMap<&str, &str> = context
        .iter()
        .filter_map(|d| match &d.document {
            Document::Nodes(list) => Some(list.items.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|n| Some((n.instance_id()?, n.metadata.name.as_str())))
        .collect();
    let mut names: Vec<String> = nodes
        .documents
        .iter()
        .filter_map(|d| match &d.document {
            Document::Instances(i) => Some(i.reservations.iter()),
            _ => None,
        })
        .flatten()
        .flat_map(|r| r.instances.iter())
        .filter_map(|i| {
            known
                .get(i.instance_id.as_str())
                .map(|n| (*n).to_owned())
                .or_else(|| i.private_dns_name.clone())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

async fn audit_and_publish<C: Collect, P: Publish, S: StateStore>(
    event: &Value,
    scope: Scope,
    why: String,
    kind: Kind,
    context: &Context<'_, C, P, S>,
) -> Result<Outcome, HandlerError> {
    let Context {
        config,
        region,
        collector,
        publisher,
        store,
        ..
    } = context;
    let now = context.now();
    let origin = origin(event, region);
    let at = Partition {
        account: origin.account.clone(),
        region: origin.region.clone(),
    };
    let mut why = why;
    let mut spent = 0;
    let mut context_age = None;
    let attempt = match (kind, node_objects(&scope), config.context_max_age) {
        (Kind::OnChange, Some((enis, instances)), Some(max_age)) => Some(
            // Boxed: its future would otherwise nest inside the handler's, past the compiler's
            // layout depth in the binaries.
            Box::pin(nodes_with_context(
                *collector,
                *store,
                &at,
                (&enis, &instances),
                now,
                max_age,
            ))
            .await?,
        ),
        _ => None,
    };
    let collection = match attempt {
        Some(Nodes::Audited(collection, age)) => {
            why = format!(
                "{why}; only the event's node(s) audited, against the cluster's context collected {age} s ago"
            );
            context_age = Some(age);
            *collection
        }
        Some(Nodes::Whole {
            calls,
            why: reason,
            clusters,
        }) => {
            tracing::info!(%reason, "auditing the whole cluster");
            spent = calls;
            // The nodes' lookup already named their clusters: no need to resolve the event again.
            if clusters.is_empty() {
                collector.collect(&scope).await?
            } else {
                collector.collect(&Scope::Clusters(clusters)).await?
            }
        }
        None => collector.collect(&scope).await?,
    };
    let clusters = collection.clusters();
    let api_calls = collection.notes.stats.calls + spent;
    if clusters.is_empty() && kind == Kind::OnChange {
        let why = format!("{why}: the event concerns no EKS cluster (scope {scope:?})");
        tracing::info!(%why, api_calls, "event ignored");
        return Ok(ignored(
            why,
            clusters,
            collection.notes.gaps.len(),
            api_calls,
        ));
    }
    let report = collection.audit(
        Default::default(),
        &Overrides {
            tcp_ports: config.tcp_ports.clone(),
            ..Overrides::default()
        },
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
    for (cluster, b) in report.blind_spots() {
        tracing::error!(cluster, input = %b.input, cause = %b.cause, remedy = %b.remedy, "blind spot: not a clean result");
    }
    let suppressions = context.suppressions.load().await;
    // One node's audit sees part of its cluster: it resolves nothing.
    let complete = match context_age {
        Some(_) => BTreeSet::new(),
        None => lifecycle::fully_audited(&report),
    };
    if context_age.is_none() {
        // Every cluster that got verdicts (with its gaps, which the context keeps); none when
        // something of the whole run is missing.
        let run_is_partial = report.gaps.iter().any(|g| g.cluster.is_none())
            || report.not_analysed.iter().any(|n| n.cluster.is_none());
        let cacheable = collection.cluster_names.iter().filter(|c| {
            !run_is_partial
                && !report
                    .not_analysed
                    .iter()
                    .any(|n| n.cluster.as_deref() == Some(c.as_str()))
        });
        for cluster in cacheable {
            if let Some(cached) = crate::context::of(&collection, cluster, now)
                && let Err(error) = store.put_context(&at, &cached).await
            {
                tracing::warn!(%cluster, %error, "could not cache the cluster's context");
            }
        }
    }
    // Only a listing of every cluster of the region tells that a stored cluster is gone.
    let existing: Option<BTreeSet<String>> = collection
        .listed_clusters
        .as_ref()
        .filter(|_| kind == Kind::Scheduled)
        .map(|names| names.iter().cloned().collect());
    let missing: BTreeSet<String> = match kind {
        Kind::Scheduled => collection.missing_clusters.iter().cloned().collect(),
        Kind::OnChange => BTreeSet::new(),
    };
    let inputs = Inputs {
        clusters: match kind {
            Kind::Scheduled => Clusters::All,
            Kind::OnChange => Clusters::Named(&clusters),
        },
        complete: &complete,
        existing: existing.as_ref(),
        missing: &missing,
        suppressions: &suppressions.rules,
        now,
        policy: Policy {
            renotify_after: match kind {
                Kind::Scheduled => config.renotify_after,
                Kind::OnChange => None,
            },
            judge_changes: context_age.is_none(),
            ..Policy::default()
        },
    };
    let tracked = crate::lifecycle::track(*store, &at, &report, inputs).await?;
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for change in &tracked.changes {
        *counts.entry(change.transition.marker.as_str()).or_default() += 1;
    }

    let mut outgoing = Vec::new();
    for change in tracked.changes.iter().filter(|c| c.transition.publish) {
        let t = &change.transition;
        let message = match (t.finding, &change.record) {
            (Some(finding), _) if finding.severity >= config.min_severity => {
                publish::finding_message(
                    finding,
                    publish::Lifecycle {
                        marker: t.marker,
                        why: &t.why,
                    },
                    &origin,
                    config.format,
                )
            }
            (None, Some(record))
                if t.marker == Marker::Resolved
                    && record
                        .published
                        .as_ref()
                        .and_then(|p| p.severity.parse::<Severity>().ok())
                        .is_none_or(|s| s >= config.min_severity) =>
            {
                publish::resolved_message(record, &t.why, &origin, config.format)
            }
            _ => continue,
        };
        outgoing.push((Some(change), message));
    }
    let mut digest_at = None;
    if kind == Kind::Scheduled {
        let since = store.last_digest(&at).await?;
        let digest = DigestLifecycle::of(&tracked.state, since);
        outgoing.push((
            None,
            publish::digest_message(
                &report,
                publish::DigestContext {
                    lifecycle: &digest,
                    suppressions_problem: suppressions.problem.as_deref(),
                },
                &origin,
                config.format,
            ),
        ));
        digest_at = Some(now);
    }
    let mut failures = Vec::new();
    for (change, message) in &outgoing {
        match publisher.publish(message).await {
            Ok(()) => {
                if change.is_none()
                    && let Some(time) = digest_at
                {
                    store.set_last_digest(&at, time).await?;
                }
            }
            Err(failure) => {
                tracing::error!(%failure, subject = %message.subject, "publish failed");
                if let Some(change) = change {
                    match change.undo(*store, &at).await {
                        Ok(crate::state::Written::Yes) => {}
                        Ok(crate::state::Written::Conflict) => tracing::error!(
                            finding_id = %change.transition.finding_id,
                            "the message was not published and another invocation has since written the finding's state: this change is not announced"
                        ),
                        Err(error) => {
                            tracing::error!(%error, "could not undo the state of an unpublished message")
                        }
                    }
                }
                failures.push(failure);
            }
        }
    }
    let outcome = Outcome {
        action: "audited",
        why,
        clusters,
        findings: report.findings.len(),
        published: outgoing.len() - failures.len(),
        gaps: report.gaps.len(),
        not_analysed: report
            .not_analysed
            .iter()
            .map(|n| match &n.cluster {
                Some(cluster) => format!("{cluster}: {}", n.reason),
                None => n.reason.clone(),
            })
            .collect(),
        blind_spots: report
            .blind_spots()
            .map(|(cluster, b)| format!("{cluster}: {}: {}", b.input, b.cause))
            .collect(),
        api_calls,
        lifecycle: counts,
        state_conflicts: tracked.conflicts,
        suppressions_problem: suppressions.problem,
        context_age_seconds: context_age,
    };
    tracing::info!(outcome = ?outcome, "audit done");
    if !failures.is_empty() {
        return Err(HandlerError::Publish {
            attempted: outgoing.len(),
            failures,
        });
    }
    Ok(outcome)
}

/// What a function's process builds once from its environment: the configuration and the
/// clients. The binaries in `functions/` are this and one call per event.
#[derive(Debug)]
pub struct Runtime {
    pub config: FunctionConfig,
    pub region: String,
    pub collector: crate::Collector,
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
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        let settings = crate::CollectorSettings {
            max_concurrency: config.max_concurrency,
            kubernetes: config.kubernetes.clone(),
            runner: crate::kube::Runner::Functions,
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
        Ok(Runtime {
            collector: crate::Collector::new(&sdk, &settings),
            sns: publish::SnsPublisher::new(
                aws_sdk_sns::Client::new(&sdk),
                config.topic_arn.clone().unwrap_or_default(),
            ),
            config,
            region,
            store,
            suppressions,
        })
    }

    fn context<'a, P>(
        &'a self,
        publisher: &'a P,
    ) -> Context<'a, crate::Collector, P, crate::state::ConfiguredStore> {
        Context {
            config: &self.config,
            region: &self.region,
            collector: &self.collector,
            publisher,
            store: &self.store,
            suppressions: &self.suppressions,
            now: None,
        }
    }

    /// `on-change` for one payload, publishing to the topic (or logging, with `DRY_RUN`).
    pub async fn on_change(&self, payload: &Value) -> Result<Value, HandlerError> {
        if self.config.dry_run {
            on_change_invocation(payload, &self.context(&publish::DryRun)).await
        } else {
            on_change_invocation(payload, &self.context(&self.sns)).await
        }
    }

    /// `scheduled-audit` for one event.
    pub async fn scheduled_audit(&self, event: &Value) -> Result<Value, HandlerError> {
        let outcome = if self.config.dry_run {
            scheduled_audit(event, &self.context(&publish::DryRun)).await
        } else {
            scheduled_audit(event, &self.context(&self.sns)).await
        };
        outcome.map(|o| serde_json::to_value(o).unwrap_or_default())
    }
}
