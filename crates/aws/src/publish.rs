//! Findings as SNS messages: raw JSON for machines, AWS Chatbot's schema for Slack.
//!
//! Each finding that needs attention becomes one message, and a scheduled audit adds one digest.
//! Every message carries the same string attributes (`severity`, `kind`, `cluster`, `account`,
//! `region`, `finding_id`; SNS allows ten) so subscriptions can filter, e.g. a pager on
//! `{"severity": ["HIGH", "CRITICAL"]}`. SNS caps a message (body plus attributes) at 256 KiB and
//! a Subject at 100 characters: long lists of affected pods are cut to fit and the message says
//! how many were left out. Chatbot renders `content.description` as Markdown and threads Slack
//! messages by `metadata.threadId`, which is the finding id, so one finding stays one thread.
//! Publishing sits behind [`Publish`] so the functions' tests can also run with the dry run.

use std::collections::BTreeMap;
use std::future::Future;

use podreach_core::report::{Finding, Report, Severity};
use serde_json::{Value, json};

use crate::error::ApiFailure;

/// SNS's limit for a message body and its attributes together.
pub const SNS_MAX_BYTES: usize = 256 * 1024;
/// Room kept for the attributes and the JSON framing of a Chatbot message.
const BODY_BUDGET: usize = SNS_MAX_BYTES - 8 * 1024;
/// Chatbot's custom notifications show at most this much description.
const CHATBOT_DESCRIPTION_MAX: usize = 8_000;
/// SNS's limit for a Subject.
pub const SUBJECT_MAX: usize = 100;

/// What the subscribers receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageFormat {
    /// The report v1 finding, as JSON.
    #[default]
    Json,
    /// AWS Chatbot custom notification (version 1.0), for Slack.
    Chatbot,
}

impl std::str::FromStr for MessageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(MessageFormat::Json),
            "chatbot" => Ok(MessageFormat::Chatbot),
            _ => Err(format!("`{s}` is not a message format (json, chatbot)")),
        }
    }
}

/// Where the findings come from, for attributes and text.
#[derive(Debug, Clone)]
pub struct Origin {
    pub account: String,
    pub region: String,
}

/// One SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<&'static str, String>,
}

/// The capability to publish; [`SnsPublisher`] in production.
pub trait Publish {
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), ApiFailure>> + Send;
}

/// Publishes to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl Publish for SnsPublisher {
    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message(&message.body);
        for (name, value) in &message.attributes {
            request = request.message_attributes(
                *name,
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(|e| ApiFailure {
                        action: crate::iam::PUBLISH_ACTION,
                        kind: crate::FailureKind::Service,
                        code: None,
                        message: e.to_string(),
                    })?,
            );
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ApiFailure::from_sdk(crate::iam::PUBLISH_ACTION, e))
    }
}

/// `DRY_RUN=true`: logs each message and publishes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRun;

impl Publish for DryRun {
    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        tracing::info!(
            subject = %message.subject,
            attributes = ?message.attributes,
            bytes = message.body.len(),
            "dry run: would publish"
        );
        Ok(())
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An SNS Subject: printable ASCII, one line, at most 100 characters.
pub fn subject(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            '→' => '>',
            _ => ' ',
        })
        .collect();
    let ascii = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
    if ascii.len() <= SUBJECT_MAX {
        return ascii;
    }
    format!("{}...", &ascii[..SUBJECT_MAX - 3])
}

/// The finding as JSON, with affected lists cut until it fits `budget` bytes.
fn fitted_finding(finding: &Finding, budget: usize) -> Value {
    let fits = |v: &Value| serde_json::to_string(v).is_ok_and(|s| s.len() <= budget);
    let full = serde_json::to_value(finding).unwrap_or(Value::Null);
    if fits(&full) {
        return full;
    }
    let a = &finding.affected;
    let lists: [(&str, &[String]); 6] = [
        ("pods", &a.pods),
        ("pod_addresses", &a.pod_addresses),
        ("pod_address_ranges", &a.pod_address_ranges),
        ("pod_prefixes", &a.pod_prefixes),
        ("enis", &a.enis),
        ("nodes", &a.nodes),
    ];
    let mut cut = full.clone();
    // Keep 200 of each list, then 100, 50, … until the finding fits.
    for keep in std::iter::successors(Some(200_usize), |k| (*k > 0).then(|| k / 2)) {
        cut = full.clone();
        let Some(affected) = cut.get_mut("affected").and_then(Value::as_object_mut) else {
            return full;
        };
        let mut omitted = serde_json::Map::new();
        for (name, list) in lists {
            if list.len() > keep {
                affected.insert(name.to_owned(), json!(list[..keep]));
                omitted.insert(name.to_owned(), json!(list.len() - keep));
            }
        }
        affected.insert("omitted".to_owned(), Value::Object(omitted));
        if fits(&cut) {
            break;
        }
    }
    cut
}

fn attributes(
    origin: &Origin,
    entries: [(&'static str, String); 4],
) -> BTreeMap<&'static str, String> {
    let mut attributes: BTreeMap<&'static str, String> = entries.into_iter().collect();
    attributes.insert("account", origin.account.clone());
    attributes.insert("region", origin.region.clone());
    attributes
}

/// Markdown list of at most `max` items, then "… and N more".
fn bullet_list(items: &[String], max: usize) -> String {
    let mut text: String = items
        .iter()
        .take(max)
        .map(|i| format!("• `{i}`\n"))
        .collect();
    if items.len() > max {
        text.push_str(&format!("• … and {} more\n", items.len() - max));
    }
    text
}

/// One message for one finding.
pub fn finding_message(finding: &Finding, origin: &Origin, format: MessageFormat) -> Message {
    let subject = subject(&format!(
        "[{}] podreach {}: {}",
        finding.severity, finding.cluster, finding.title
    ));
    let attributes = attributes(
        origin,
        [
            ("severity", finding.severity.as_str().to_owned()),
            ("kind", finding.kind.as_str().to_owned()),
            ("cluster", finding.cluster.clone()),
            ("finding_id", finding.id.clone()),
        ],
    );
    let body = match format {
        MessageFormat::Json => json!({
            "schema": "podreach/finding/v1",
            "account": origin.account,
            "region": origin.region,
            "finding": fitted_finding(finding, BODY_BUDGET),
        })
        .to_string(),
        MessageFormat::Chatbot => chatbot_finding(finding, origin).to_string(),
    };
    Message {
        subject,
        body,
        attributes,
    }
}

fn chatbot_finding(finding: &Finding, origin: &Origin) -> Value {
    let a = &finding.affected;
    let mut description = format!(
        "*{}* · {} · `{}` · {}\n{}\n\n*Affected:* {} pod address(es) on {} node(s)\n",
        finding.severity,
        finding.kind.as_str(),
        finding.cluster,
        finding.direction.as_str(),
        finding.detail,
        a.pod_address_count,
        a.nodes.len()
    );
    if !a.pods.is_empty() {
        description.push_str(&bullet_list(&a.pods, 10));
    } else {
        description.push_str(&bullet_list(&a.pod_address_ranges, 10));
    }
    if finding.destinations.len() > 1 {
        description.push_str(&format!(
            "\n*Destinations ({}):*\n",
            finding.destinations.len()
        ));
        description.push_str(&bullet_list(&finding.destinations, 10));
    }
    let commands: Vec<String> = finding
        .remediation
        .iter()
        .filter_map(|r| r.command.clone())
        .collect();
    if !commands.is_empty() {
        description.push_str("\n*Fix:*\n```\n");
        description.push_str(&commands.join("\n"));
        description.push_str("\n```\n");
    }
    json!({
        "version": "1.0",
        "source": "custom",
        "id": finding.id,
        "content": {
            "textType": "client-markdown",
            "title": clip(&format!(":rotating_light: {} — {}", finding.cluster, finding.title), 250),
            "description": clip(&description, CHATBOT_DESCRIPTION_MAX),
            "nextSteps": finding.remediation.iter().map(|r| clip(&r.action, 500)).take(5).collect::<Vec<_>>(),
            "keywords": [finding.severity.as_str(), finding.kind.as_str(), finding.cluster, finding.cause.code()],
        },
        "metadata": {
            "threadId": finding.id,
            "summary": clip(&finding.title, 250),
            "eventType": "podreach-finding",
            "relatedResources": a.nodes.iter().chain(&a.enis).take(20).collect::<Vec<_>>(),
            "additionalContext": {
                "account": origin.account,
                "region": origin.region,
                "finding_id": finding.id,
                "destination": finding.destination,
                "destinations": finding.destinations.len(),
            },
        },
    })
}

/// The findings that need attention: at or above `min`.
pub fn needing_attention(report: &Report, min: Severity) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.severity >= min)
        .collect()
}

/// The digest of a scheduled audit: counts per cluster and the findings' headlines.
pub fn digest_message(report: &Report, origin: &Origin, format: MessageFormat) -> Message {
    let worst = report.max_severity();
    let mut title = format!(
        "podreach digest: {} finding(s) in {} cluster(s), {} gap(s)",
        report.findings.len(),
        report.clusters.len(),
        report.gaps.len()
    );
    // A digest of a run that could not analyse something must not read as a clean bill.
    if !report.not_analysed.is_empty() {
        title = format!(
            "{title}; NOT ANALYSED: {}",
            report
                .not_analysed
                .iter()
                .map(|n| n.cluster.as_deref().unwrap_or("the run"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let attributes = attributes(
        origin,
        [
            ("severity", worst.map_or("NONE", |s| s.as_str()).to_owned()),
            ("kind", "digest".to_owned()),
            // SNS rejects an empty attribute value: a region without clusters still gets its digest.
            ("cluster", {
                let names: Vec<&str> = report.clusters.iter().map(|c| c.name.as_str()).collect();
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(",")
                }
            }),
            ("finding_id", "digest".to_owned()),
        ],
    );
    let headlines: Vec<Value> = report
        .findings
        .iter()
        .map(|f| json!({"id": f.id, "severity": f.severity, "kind": f.kind, "cluster": f.cluster, "title": f.title}))
        .collect();
    let body = match format {
        MessageFormat::Json => {
            let mut body = json!({
                "schema": "podreach/digest/v1",
                "account": origin.account,
                "region": origin.region,
                "clusters": report.clusters.iter().map(|c| json!({"name": c.name, "verdicts": c.verdicts, "nodes": c.nodes, "pod_addresses": c.pod_addresses})).collect::<Vec<_>>(),
                "findings": headlines,
                "gaps": report.gaps,
                "not_analysed": report.not_analysed,
                "stats": report.stats,
            });
            // Only the gaps can be unbounded here; summarise them when they do not fit.
            if body.to_string().len() > BODY_BUDGET {
                body["gaps"] = json!({"count": report.gaps.len(), "omitted": "too many to list; run podreach audit --live for the full report"});
            }
            body.to_string()
        }
        MessageFormat::Chatbot => {
            let mut description: String = report
                .findings
                .iter()
                .take(25)
                .map(|f| format!("• *{}* `{}` {}\n", f.severity, f.cluster, f.title))
                .collect();
            if report.findings.len() > 25 {
                description.push_str(&format!("• … and {} more\n", report.findings.len() - 25));
            }
            if report.findings.is_empty() {
                description =
                    "No findings: every analysed pod path beyond the VPC works.\n".to_owned();
            }
            if !report.not_analysed.is_empty() {
                let lines: String = report
                    .not_analysed
                    .iter()
                    .map(|n| {
                        format!(
                            "• *NOT ANALYSED* `{}` {}\n",
                            n.cluster.as_deref().unwrap_or("run"),
                            n.reason
                        )
                    })
                    .collect();
                description = format!("{lines}{description}");
            }
            if !report.gaps.is_empty() {
                description.push_str(&format!(
                    "\n{} gap(s): some inputs could not be read; see the JSON digest or run `podreach audit --live`.\n",
                    report.gaps.len()
                ));
            }
            json!({
                "version": "1.0",
                "source": "custom",
                "content": {
                    "textType": "client-markdown",
                    "title": clip(&title, 250),
                    "description": clip(&description, CHATBOT_DESCRIPTION_MAX),
                },
                "metadata": {
                    "threadId": format!("podreach-digest-{}-{}", origin.account, origin.region),
                    "summary": clip(&title, 250),
                    "eventType": "podreach-digest",
                },
            })
            .to_string()
        }
    };
    Message {
        subject: subject(&title),
        body,
        attributes,
    }
}
