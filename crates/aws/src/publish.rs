//! Findings as SNS messages: raw JSON for machines, AWS Chatbot's schema for Slack.
//!
//! Each finding the lifecycle publishes (NEW, CHANGED, an ONGOING reminder, RESOLVED) becomes one
//! message, and a scheduled audit adds one digest. Every message carries the same string
//! attributes (`severity`, `kind`, `cluster`, `account`, `region`, `finding_id`, and `lifecycle`,
//! `cause` (the reason code, e.g. `PEER_SG`) and `dedupe` on findings; SNS allows ten) so
//! subscriptions can filter, e.g. a pager on `{"severity": ["HIGH", "CRITICAL"]}`. `dedupe` is the
//! announcement's stable id from the state's outbox (`podreach_core::lifecycle::Outbox`): delivery
//! is at least once, and a copy sent again after an invocation ended before confirming its send
//! carries the same id (and `"redelivery": true` in the body), so a consumer can drop it.
//! Every message is cut to its byte budget by `crate::fit` (lists halved largest first, each cut
//! counted); SNS caps a message (body plus attributes) at 256 KiB and
//! a Subject at 100 characters: long lists of affected pods are cut to fit and the message says
//! how many were left out. Chatbot renders `content.description` as Markdown and threads Slack
//! messages by `metadata.threadId`, which is the finding's account, Region and id (a finding id is
//! unique only within a Region), so one finding stays one thread. Chatbot's schema wants strings
//! in `additionalContext`.
//! Publishing sits behind [`Publish`] so the functions' tests can also run with the dry run.

use std::collections::BTreeMap;
use std::future::Future;

use podreach_core::lifecycle::{FindingState, Marker, utc};
use podreach_core::report::{Finding, Report, Severity, clip};
use serde_json::{Value, json};

use crate::error::ApiFailure;
use crate::lifecycle::DigestLifecycle;

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
    /// The account's name in Organizations, when the hub audits it for an organization run: the
    /// messages carry it (attribute `alias`, JSON `alias`), so a stream of hundreds of accounts
    /// reads by name.
    pub alias: Option<String>,
}

/// `{"alias": …}` when the origin has one, else nothing: a message of a single-account
/// deployment is as it was.
fn alias_field(origin: &Origin) -> Value {
    match &origin.alias {
        Some(alias) => json!({ "alias": alias }),
        None => json!({}),
    }
}

/// One SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<&'static str, String>,
}

impl Message {
    /// What SNS counts against its 256 KiB: the body, the subject, and each attribute's name,
    /// type (`String`) and value.
    pub fn bytes(&self) -> usize {
        self.body.len()
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }
}

/// The most an attribute value may take: a list (the digest's clusters) is cut to it and says
/// how many it left out.
const ATTRIBUTE_MAX: usize = 1024;

/// Where the rest of a cut message is.
fn full_report_hint(origin: &Origin) -> String {
    format!(
        "the full report: `podreach audit --live --region {}` (account {})",
        origin.region, origin.account
    )
}

/// `names` joined with commas within [`ATTRIBUTE_MAX`] bytes, then `+N more`.
fn capped_list(names: &[&str]) -> String {
    let mut out = String::new();
    for (index, name) in names.iter().enumerate() {
        let tail = format!(",+{} more", names.len() - index);
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + name.len() + tail.len() > ATTRIBUTE_MAX {
            out.push_str(&tail[usize::from(out.is_empty())..]);
            return out;
        }
        if sep == 1 {
            out.push(',');
        }
        out.push_str(name);
    }
    out
}

/// A Chatbot description within its limit, whole lines kept in order; a code block the cut
/// leaves open is closed.
fn fitted_description(text: &str, origin: &Origin) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = crate::fit::fit_lines(
        &lines,
        CHATBOT_DESCRIPTION_MAX - 8,
        &full_report_hint(origin),
    );
    if out.matches("```").count() % 2 == 1 {
        out.push_str("```\n");
    }
    out
}

/// The capability to publish; [`SnsPublisher`] in production.
pub trait Publish {
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), ApiFailure>> + Send;

    /// Imports findings into Security Hub of `region` (`SECURITY_HUB=true`); `None` when this
    /// publisher sends none there.
    fn import(
        &self,
        region: &str,
        findings: Vec<podreach_core::asff::AsffFinding>,
    ) -> impl Future<Output = Option<crate::securityhub::Imported>> + Send {
        let _ = (region, findings);
        async { None }
    }
}

/// Publishes to one SNS topic, and imports into Security Hub when given one.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    security_hub: Option<crate::securityhub::SecurityHub>,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            topic_arn: topic_arn.into(),
            security_hub: None,
        }
    }

    /// The findings go to Security Hub too.
    pub fn with_security_hub(mut self, hub: crate::securityhub::SecurityHub) -> Self {
        self.security_hub = Some(hub);
        self
    }
}

impl Publish for SnsPublisher {
    async fn import(
        &self,
        region: &str,
        findings: Vec<podreach_core::asff::AsffFinding>,
    ) -> Option<crate::securityhub::Imported> {
        match &self.security_hub {
            Some(hub) => Some(hub.import(region, findings).await),
            None => None,
        }
    }

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

/// Where a function's messages go, as configured once at start: the topic (importing into
/// Security Hub when it was given one), or, with `DRY_RUN`, the log. One value the handlers
/// take as their [`Publish`] capability, so no entry point decides the dry run again.
#[derive(Debug, Clone)]
pub enum Outlet {
    Sns(Box<SnsPublisher>),
    DryRun,
}

impl Outlet {
    /// This outlet importing into `hub` too (the topic's; a dry run imports nothing).
    pub fn with_security_hub(self, hub: crate::securityhub::SecurityHub) -> Self {
        match self {
            Outlet::Sns(sns) => Outlet::Sns(Box::new(sns.with_security_hub(hub))),
            Outlet::DryRun => Outlet::DryRun,
        }
    }
}

impl Publish for Outlet {
    async fn publish(&self, message: &Message) -> Result<(), ApiFailure> {
        match self {
            Outlet::Sns(sns) => sns.publish(message).await,
            Outlet::DryRun => DryRun.publish(message).await,
        }
    }

    async fn import(
        &self,
        region: &str,
        findings: Vec<podreach_core::asff::AsffFinding>,
    ) -> Option<crate::securityhub::Imported> {
        match self {
            Outlet::Sns(sns) => sns.import(region, findings).await,
            Outlet::DryRun => None,
        }
    }
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

fn attributes<const N: usize>(
    origin: &Origin,
    entries: [(&'static str, String); N],
) -> BTreeMap<&'static str, String> {
    let mut attributes: BTreeMap<&'static str, String> = entries.into_iter().collect();
    attributes.insert("account", origin.account.clone());
    attributes.insert("region", origin.region.clone());
    // A finding's nine attributes and this one make SNS's ten.
    if let Some(alias) = &origin.alias {
        attributes.insert("alias", alias.clone());
    }
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

/// Where a message stands in its finding's lifecycle, and why it is sent now.
#[derive(Debug, Clone, Copy)]
pub struct Lifecycle<'a> {
    pub marker: Marker,
    pub why: &'a [String],
    /// The announcement's stable id (the state's outbox): the same on every copy of it.
    pub message_id: Option<&'a str>,
    /// Whether this copy announces again what an ended invocation may already have sent.
    pub redelivery: bool,
}

impl Lifecycle<'_> {
    /// The `dedupe` attribute: the message id, so a subscription or a consumer can drop a copy.
    fn tag(&self, attributes: &mut BTreeMap<&'static str, String>) {
        if let Some(id) = self.message_id {
            attributes.insert("dedupe", id.to_owned());
        }
    }

    /// The body's delivery fields: `message_id` and `redelivery`, when the message has an id.
    fn delivery(&self) -> Value {
        match self.message_id {
            Some(id) => json!({"message_id": id, "redelivery": self.redelivery}),
            None => json!({}),
        }
    }
}

/// Adds `extra`'s fields to the object `value`.
fn with_fields(mut value: Value, extra: Value) -> Value {
    if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), extra) {
        object.extend(extra);
    }
    value
}

/// Chatbot's `additionalContext` takes strings only.
fn delivery_context(lifecycle: &Lifecycle<'_>) -> Value {
    match lifecycle.message_id {
        Some(id) => json!({"message_id": id, "redelivery": lifecycle.redelivery.to_string()}),
        None => json!({}),
    }
}

/// One message for one finding: NEW, CHANGED, or an ONGOING reminder.
pub fn finding_message(
    finding: &Finding,
    lifecycle: Lifecycle<'_>,
    origin: &Origin,
    format: MessageFormat,
) -> Message {
    let subject = subject(&format!(
        "[{}] {} podreach {}: {}",
        finding.severity,
        lifecycle.marker.as_str(),
        finding.cluster,
        finding.title
    ));
    let mut attributes = attributes(
        origin,
        [
            ("severity", finding.severity.as_str().to_owned()),
            ("kind", finding.kind.as_str().to_owned()),
            ("cluster", finding.cluster.clone()),
            ("finding_id", finding.id.clone()),
            ("lifecycle", lifecycle.marker.as_str().to_owned()),
            ("cause", finding.cause.code().to_owned()),
        ],
    );
    lifecycle.tag(&mut attributes);
    let body = match format {
        MessageFormat::Json => crate::fit::fit_json(
            with_fields(
                with_fields(
                    json!({
                        "schema": "podreach/finding/v1",
                        "lifecycle": lifecycle.marker.as_str(),
                        "why": lifecycle.why,
                        "account": origin.account,
                        "region": origin.region,
                        "finding": fitted_finding(finding, BODY_BUDGET),
                    }),
                    lifecycle.delivery(),
                ),
                alias_field(origin),
            ),
            BODY_BUDGET,
            &full_report_hint(origin),
        )
        .to_string(),
        MessageFormat::Chatbot => chatbot_finding(finding, lifecycle, origin).to_string(),
    };
    Message {
        subject,
        body,
        attributes,
    }
}

fn chatbot_finding(finding: &Finding, lifecycle: Lifecycle<'_>, origin: &Origin) -> Value {
    let a = &finding.affected;
    let mut description = String::new();
    if !lifecycle.why.is_empty() {
        description.push_str(&format!(
            "*{}:* {}\n",
            lifecycle.marker.as_str(),
            lifecycle.why.join("; ")
        ));
    }
    let unused = match a.unused_addresses {
        Some(n) if n > 0 => format!(" ({n} unused: no pod holds them today)"),
        _ => String::new(),
    };
    description.push_str(&format!(
        "*{}* · {} · `{}` · {}\n{}\n\n*Affected:* {} pod address(es){unused} on {} node(s)\n",
        finding.severity,
        finding.kind.as_str(),
        finding.cluster,
        finding.direction.as_str(),
        finding.detail,
        a.pod_address_count,
        a.nodes.len()
    ));
    if !a.workloads.is_empty() {
        let workloads: Vec<String> = a.workloads.iter().map(ToString::to_string).collect();
        description.push_str("*Workloads:*\n");
        description.push_str(&bullet_list(&workloads, 10));
        description.push_str("*Pods:*\n");
    }
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
    // A fix that would break the flow (it changes the source the far side sees): say so first.
    let breaks: Vec<String> = finding
        .remediation
        .iter()
        .flat_map(|r| r.breaks.iter().cloned())
        .collect();
    if !breaks.is_empty() {
        description.push_str("\n*Careful — a fix above alone would break the flow:*\n");
        description.push_str(&bullet_list(&breaks, 5));
    }
    let additional = with_fields(
        with_fields(
            json!({
                "account": origin.account,
                "region": origin.region,
                "finding_id": finding.id,
                "lifecycle": lifecycle.marker.as_str(),
                "destination": finding.destination,
                "destinations": finding.destinations.len().to_string(),
            }),
            delivery_context(&lifecycle),
        ),
        alias_field(origin),
    );
    json!({
        "version": "1.0",
        "source": "custom",
        "id": lifecycle.message_id.unwrap_or(&finding.id),
        "content": {
            "textType": "client-markdown",
            "title": clip(&format!("{} {} — {} — {}", emoji(lifecycle.marker), lifecycle.marker.as_str(), finding.cluster, finding.title), 250),
            "description": fitted_description(&description, origin),
            "nextSteps": finding.remediation.iter().map(|r| clip(&r.action, 500)).take(5).collect::<Vec<_>>(),
            "keywords": [finding.severity.as_str(), finding.kind.as_str(), finding.cluster, finding.cause.code()],
        },
        "metadata": {
            "threadId": thread_id(origin, &finding.id),
            "summary": clip(&finding.title, 250),
            "eventType": "podreach-finding",
            "relatedResources": a.nodes.iter().chain(&a.enis).take(20).collect::<Vec<_>>(),
            "additionalContext": additional,
        },
    })
}

/// The Slack thread of a finding: one per finding of an account and Region.
pub(crate) fn thread_id(origin: &Origin, finding_id: &str) -> String {
    format!("{}-{}-{finding_id}", origin.account, origin.region)
}

pub(crate) fn emoji(marker: Marker) -> &'static str {
    match marker {
        Marker::New => ":rotating_light:",
        Marker::Changed => ":arrow_up:",
        Marker::Ongoing => ":bell:",
        Marker::Resolved => ":white_check_mark:",
        Marker::Suppressed => ":mute:",
    }
}

/// The message that a finding is resolved: it goes into the finding's Slack thread (`threadId`
/// is the finding id) and carries the severity and kind the finding was last published with, so
/// a subscription that received the finding also receives its resolution.
pub fn resolved_message(
    record: &FindingState,
    lifecycle: Lifecycle<'_>,
    origin: &Origin,
    format: MessageFormat,
) -> Message {
    let why = lifecycle.why;
    let (severity, kind) = record
        .published
        .as_ref()
        .map_or(("NONE", "unreachable"), |p| {
            (
                p.severity.as_str(),
                if p.kind.is_empty() {
                    "unreachable"
                } else {
                    p.kind.as_str()
                },
            )
        });
    let subject = subject(&format!(
        "[{severity}] RESOLVED podreach {}: {}",
        record.cluster, record.title
    ));
    let attributes = attributes(
        origin,
        [
            ("severity", severity.to_owned()),
            ("kind", kind.to_owned()),
            ("cluster", record.cluster.clone()),
            ("finding_id", record.finding_id.clone()),
            ("lifecycle", Marker::Resolved.as_str().to_owned()),
        ],
    );
    let mut attributes = attributes;
    lifecycle.tag(&mut attributes);
    let body = match format {
        MessageFormat::Json => with_fields(with_fields(json!({
            "schema": "podreach/finding/v1",
            "lifecycle": Marker::Resolved.as_str(),
            "why": why,
            "account": origin.account,
            "region": origin.region,
            "resolved": {
                "id": record.finding_id,
                "cluster": record.cluster,
                "title": record.title,
                "severity": severity,
                "kind": kind,
                "first_seen": record.first_seen,
                "last_seen": record.last_seen,
                "resolved_at": record.resolved_at,
            },
        }), lifecycle.delivery()), alias_field(origin))
        .to_string(),
        MessageFormat::Chatbot => json!({
            "version": "1.0",
            "source": "custom",
            "id": lifecycle.message_id.unwrap_or(&record.finding_id),
            "content": {
                "textType": "client-markdown",
                "title": clip(&format!("{} RESOLVED — {} — {}", emoji(Marker::Resolved), record.cluster, record.title), 250),
                "description": clip(&format!("*RESOLVED:* {}\nFirst seen {}, last seen {}.", why.join("; "), utc(record.first_seen), utc(record.last_seen)), CHATBOT_DESCRIPTION_MAX),
                "keywords": [severity, kind, record.cluster, "RESOLVED"],
            },
            "metadata": {
                "threadId": thread_id(origin, &record.finding_id),
                "summary": clip(&format!("RESOLVED: {}", record.title), 250),
                "eventType": "podreach-finding-resolved",
                "additionalContext": with_fields(with_fields(json!({
                    "account": origin.account,
                    "region": origin.region,
                    "finding_id": record.finding_id,
                    "lifecycle": Marker::Resolved.as_str(),
                }), delivery_context(&lifecycle)), alias_field(origin)),
            },
        })
        .to_string(),
    };
    Message {
        subject,
        body,
        attributes,
    }
}

/// The findings that need attention: at or above `min`.
pub fn needing_attention(report: &Report, min: Severity) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.severity >= min)
        .collect()
}

/// What the digest says beyond the report: the lifecycle since the last digest, and a refused
/// suppression document.
#[derive(Debug, Clone, Copy)]
pub struct DigestContext<'a> {
    pub lifecycle: &'a DigestLifecycle,
    pub suppressions_problem: Option<&'a str>,
}

fn state_line(s: &FindingState) -> Value {
    json!({"id": s.finding_id, "cluster": s.cluster, "title": s.title,
           "severity": s.published.as_ref().map(|p| p.severity),
           "first_seen": s.first_seen, "last_seen": s.last_seen, "resolved_at": s.resolved_at})
}

/// The digest of a scheduled audit: counts by severity and per cluster, what is new and resolved
/// since the last digest, the oldest open findings, and the findings' headlines.
pub fn digest_message(
    report: &Report,
    context: DigestContext<'_>,
    origin: &Origin,
    format: MessageFormat,
) -> Message {
    let lifecycle = context.lifecycle;
    let mut by_severity: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &report.findings {
        *by_severity.entry(f.severity.as_str()).or_default() += 1;
    }
    let worst = report.max_severity();
    // What must not be missed comes first: a Subject is cut at 100 characters, and a digest of
    // a run that could not analyse something must never read as a clean bill.
    let mut warnings = Vec::new();
    if !report.not_analysed.is_empty() {
        warnings.push(format!(
            "NOT ANALYSED: {}",
            report
                .not_analysed
                .iter()
                .map(|n| n.cluster.as_deref().unwrap_or("the run"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let blind: Vec<(&str, &podreach_core::report::BlindSpot)> = report.blind_spots().collect();
    if !blind.is_empty() {
        let mut names: Vec<&str> = blind.iter().map(|(c, _)| *c).collect();
        names.dedup();
        warnings.push(format!("UNKNOWN: {}", names.join(", ")));
    }
    if context.suppressions_problem.is_some() {
        warnings.push("SUPPRESSIONS REFUSED".to_owned());
    }
    let warnings: String = warnings.iter().map(|w| format!("{w}; ")).collect();
    let title = format!(
        "podreach digest: {warnings}{} finding(s) in {} cluster(s), {} gap(s); {} new, {} resolved since the last digest",
        report.findings.len(),
        report.clusters.len(),
        report.gaps.len(),
        lifecycle.new.len(),
        lifecycle.resolved.len()
    );
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
                    capped_list(&names)
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
                "clusters": report.clusters.iter().map(|c| json!({
                    "name": c.name,
                    "status": if c.blind_spots.is_empty() { "ANALYSED" } else { "UNKNOWN" },
                    "verdicts": c.verdicts,
                    "nodes": c.nodes,
                    "pod_addresses": c.pod_addresses,
                    "blind_spots": c.blind_spots,
                    "nodes_not_modelled": c.nodes_not_modelled.len(),
                })).collect::<Vec<_>>(),
                "by_severity": by_severity,
                "lifecycle": {
                    "since": lifecycle.since,
                    "open": lifecycle.open,
                    "suppressed": lifecycle.suppressed,
                    "new": lifecycle.new.iter().map(state_line).collect::<Vec<_>>(),
                    "resolved": lifecycle.resolved.iter().map(state_line).collect::<Vec<_>>(),
                    "oldest_open": lifecycle.oldest_open.iter().map(state_line).collect::<Vec<_>>(),
                },
                "suppressions_problem": context.suppressions_problem,
                "findings": headlines,
                "gaps": report.gaps,
                "not_analysed": report.not_analysed,
                "stats": report.stats,
            });
            // Counts, statuses and what could not be analysed are small and come whole; the
            // lists (findings, states, gaps) are cut largest first, each cut counted.
            if body.to_string().len() > BODY_BUDGET {
                body = crate::fit::fit_json(body, BODY_BUDGET, &full_report_hint(origin));
            }
            body.to_string()
        }
        MessageFormat::Chatbot => {
            let mut description: String = report
                .findings
                .iter()
                .map(|f| format!("• *{}* `{}` {}\n", f.severity, f.cluster, f.title))
                .collect();
            if report.findings.is_empty() && blind.is_empty() {
                description =
                    "No findings: every analysed pod path beyond the VPC works.\n".to_owned();
            }
            let counts: Vec<String> = by_severity
                .iter()
                .rev()
                .map(|(severity, n)| format!("{n} {severity}"))
                .collect();
            let mut head = format!(
                "*Open:* {} ({}), {} suppressed\n",
                lifecycle.open,
                if counts.is_empty() {
                    "none".to_owned()
                } else {
                    counts.join(", ")
                },
                lifecycle.suppressed
            );
            let listed = |title: &str, list: &[FindingState]| -> String {
                if list.is_empty() {
                    return String::new();
                }
                let mut text = format!("*{title}:*\n");
                for s in list.iter().take(10) {
                    text.push_str(&format!(
                        "• `{}` {} (since {})\n",
                        s.cluster,
                        s.title,
                        utc(s.first_seen)
                    ));
                }
                if list.len() > 10 {
                    text.push_str(&format!("• … and {} more\n", list.len() - 10));
                }
                text
            };
            head.push_str(&listed("New since the last digest", &lifecycle.new));
            head.push_str(&listed(
                "Resolved since the last digest",
                &lifecycle.resolved,
            ));
            head.push_str(&listed("Oldest open", &lifecycle.oldest_open));
            if let Some(problem) = context.suppressions_problem {
                head.push_str(&format!("*SUPPRESSIONS REFUSED:* {problem}\n"));
            }
            description = format!("{head}\n{description}");
            if !blind.is_empty() {
                let lines: String = blind
                    .iter()
                    .map(|(cluster, b)| {
                        format!(
                            "• *UNKNOWN* `{cluster}` {} not read: {}\n   _Remedy:_ {}\n",
                            b.input, b.cause, b.remedy
                        )
                    })
                    .collect();
                description = format!("{lines}{description}");
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
                    "description": fitted_description(&description, origin),
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
