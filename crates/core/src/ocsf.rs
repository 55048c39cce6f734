//! The report's findings as OCSF 1.6 Detection Findings (class 2004), for Security Lake and the
//! SIEMs that read OCSF: the same finding model as the JSON report and the messages, mapped once.
//!
//! Pure: the caller passes the time of the audit (the core reads no clock) and, when it knows
//! them, the account. The mapping keeps OCSF's required attributes of the class (`activity_id`,
//! `category_uid`, `class_uid`, `type_uid`, `severity_id`, `time`, `metadata` with `version` and
//! `product`, `finding_info` with `uid` and `title`) and puts podreach's own fields where OCSF
//! has a place for them: the cluster and the affected ENIs and nodes as `resources`, the fix as
//! `remediation`, the cause code as `finding_info.types`, the analysis' assumptions as
//! `unmapped`. A run that could not analyse something is not a clean result here either: each
//! `not_analysed` entry becomes a finding of severity Unknown ("podreach could not analyse…").

use serde_json::{Value, json};

use crate::report::{Finding, FindingKind, Report, Severity};

/// OCSF's schema version these findings follow.
pub const OCSF_VERSION: &str = "1.6.0";
/// Detection Finding.
pub const CLASS_UID: u32 = 2004;
/// Findings.
pub const CATEGORY_UID: u32 = 2;
/// Activity `Create`: the finding as this audit reports it.
const ACTIVITY_CREATE: u32 = 1;

/// What the report itself does not say.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// When the audit ran, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The AWS account audited, when known.
    pub account: Option<&'a str>,
    /// podreach's version, for `metadata.product.version`.
    pub product_version: &'a str,
}

/// OCSF's `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical (0 Unknown).
fn severity_id(severity: Severity) -> u32 {
    match severity {
        Severity::Informational => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn metadata(context: Context<'_>) -> Value {
    json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "podreach",
            "vendor_name": "podreach",
            "version": context.product_version,
        },
    })
}

fn cloud(region: Option<&str>, context: Context<'_>) -> Value {
    let mut cloud = json!({"provider": "AWS"});
    if let Some(region) = region {
        cloud["region"] = json!(region);
    }
    if let Some(account) = context.account {
        cloud["account"] = json!({"uid": account, "type": "AWS Account", "type_id": 10});
    }
    cloud
}

/// One Detection Finding per finding, then one per cluster (or run) that could not be analysed.
pub fn detection_findings(report: &Report, context: Context<'_>) -> Vec<Value> {
    let mut out: Vec<Value> = report
        .findings
        .iter()
        .map(|f| finding(f, context))
        .collect();
    for n in &report.not_analysed {
        let subject = n.cluster.as_deref().unwrap_or("the run");
        let mut event = header(context, (0, "Unknown"), n.region.as_deref());
        extend(
            &mut event,
            json!({
                "message": format!("podreach could not analyse {subject}: {}", n.reason),
                "finding_info": {
                    "uid": format!("podreach-not-analysed-{}", subject.replace(' ', "-")),
                    "title": format!("{subject} was not analysed"),
                    "desc": n.reason,
                    "types": ["NOT_ANALYSED"],
                },
            }),
        );
        out.push(event);
    }
    out
}

fn finding(f: &Finding, context: Context<'_>) -> Value {
    let a = &f.affected;
    let mut cluster = json!({
        "type": "AWS::EKS::Cluster",
        "name": f.cluster,
        "uid": f.cluster,
    });
    if let Some(region) = &f.region {
        cluster["region"] = json!(region);
    }
    let mut resources = vec![cluster];
    resources.extend(
        a.nodes
            .iter()
            .take(50)
            .map(|n| json!({"type": "AWS::EC2::Instance", "uid": n})),
    );
    resources.extend(
        a.enis
            .iter()
            .take(50)
            .map(|e| json!({"type": "AWS::EC2::NetworkInterface", "uid": e})),
    );
    let references: Vec<&String> = f
        .remediation
        .iter()
        .filter_map(|r| r.command.as_ref())
        .collect();
    let remediation_desc: Vec<&str> = f.remediation.iter().map(|r| r.action.as_str()).collect();
    let mut event = header(
        context,
        (severity_id(f.severity), f.severity.as_str()),
        f.region.as_deref(),
    );
    extend(
        &mut event,
        json!({
            "confidence_id": match f.kind {
                FindingKind::Unverified => 1,
                _ => 3,
            },
            "message": f.title,
            "finding_info": {
                "uid": f.id,
                "title": f.title,
                "desc": f.detail,
                "types": [f.cause.code(), f.kind.as_str(), f.direction.as_str()],
                "analytic": {"name": "podreach datapath model", "type": "Rule", "type_id": 1},
            },
            "resources": resources,
            "remediation": {
                "desc": remediation_desc.join(" "),
                "references": references,
            },
            "unmapped": {
                "destinations": f.destinations,
                "via": f.via,
                "pod_address_count": a.pod_address_count,
                "nodes": a.nodes.len(),
                "enis": a.enis.len(),
                "assumptions": f.assumptions,
            },
        }),
    );
    event
}

/// What every Detection Finding of this run carries: the class, the activity (Create), the
/// status (New), the severity, the time, the product and where.
fn header(
    context: Context<'_>,
    (severity_id, severity): (u32, &str),
    region: Option<&str>,
) -> Value {
    json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": context.time_ms,
        "metadata": metadata(context),
        "cloud": cloud(region, context),
    })
}

/// Adds `fields` to the object `event`.
fn extend(event: &mut Value, fields: Value) {
    if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
        event.extend(fields);
    }
}
