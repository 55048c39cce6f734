//! Findings in the AWS Security Finding Format (ASFF), for Security Hub's `BatchImportFindings`:
//! the same finding model as the report, the messages and OCSF, mapped once.
//!
//! Security Hub keeps one record per `Id` and a later import of the same `Id` replaces it, so the
//! id is stable (region, cluster and the finding's own stable id) and every import carries every
//! field the format requires, even the one that only says a finding is resolved. The lifecycle
//! decides the state: an open finding is `Compliance.Status` FAILED, a resolved one PASSED
//! (Security Hub then sets its workflow to RESOLVED itself), and one whose cluster no longer
//! exists is also `RecordState` ARCHIVED. Security Hub's limits are applied here, where the
//! texts are made: a title of 256 characters, a description of 1,024, a recommendation of 512,
//! 32 resources, 50 product fields of 2,048 characters, 100 findings per call; what does not
//! fit is counted in a product field, never dropped silently.
//!
//! Pure, like the rest of the core: the caller passes the account, the Region, the partition and
//! the time of the audit; `crate::asff::batches` cuts the calls.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::{Finding, Severity, clip};

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// At most this many findings per `BatchImportFindings` call (the API's limit).
pub const BATCH_LIMIT: usize = 100;
/// At most this many resources per finding.
pub const RESOURCE_LIMIT: usize = 32;
pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 1024;
pub const RECOMMENDATION_LIMIT: usize = 512;
pub const PRODUCT_FIELDS_LIMIT: usize = 50;
pub const PRODUCT_FIELD_VALUE_LIMIT: usize = 2048;
/// The finding type: a configuration check of network reachability.
pub const FINDING_TYPE: &str =
    "Software and Configuration Checks/AWS Security Best Practices/Network Reachability";

/// Where and when the findings are imported.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The account the finding belongs to (the cluster's), whose Security Hub receives it.
    pub account: &'a str,
    pub region: &'a str,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// The time of the audit, Unix seconds (`UpdatedAt`, and `CreatedAt` of a first import).
    pub now: i64,
}

impl Context<'_> {
    /// The account's own default product: a customer's findings import into its own hub.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account, self.account
        )
    }

    /// The stable `Id` of a finding of `cluster`.
    pub fn id(&self, cluster: &str, finding_id: &str) -> String {
        format!("podreach/{}/{}/{}", self.region, cluster, finding_id)
    }

    fn cluster_arn(&self, cluster: &str) -> String {
        format!(
            "arn:{}:eks:{}:{}:cluster/{}",
            self.partition, self.region, self.account, cluster
        )
    }

    fn ec2_arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:{}:ec2:{}:{}:{kind}/{id}",
            self.partition, self.region, self.account
        )
    }
}

/// One ASFF finding, with the fields podreach fills (the required ones first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    pub schema_version: &'static str,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<&'static str>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub resources: Vec<Resource>,
    pub first_observed_at: String,
    pub last_observed_at: String,
    pub compliance: Compliance,
    pub record_state: &'static str,
    pub product_name: &'static str,
    pub company_name: &'static str,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<AsffRemediation>,
    pub product_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    /// INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL: podreach's own scale, name for name.
    pub label: &'static str,
    pub original: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    /// `AwsEksCluster`, `AwsEc2Instance` or `AwsEc2NetworkInterface`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub id: String,
    pub partition: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    /// FAILED while the finding is open, PASSED once resolved.
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRemediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: String,
}

/// What the lifecycle knows of a finding to import.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    /// Open (new, changed, ongoing or suppressed): the finding as this audit reports it.
    Open {
        finding: &'a Finding,
        /// When it was first seen (Unix seconds).
        first_seen: i64,
    },
    /// Resolved: what the state keeps of it.
    Resolved {
        cluster: &'a str,
        finding_id: &'a str,
        title: &'a str,
        severity: Severity,
        first_seen: i64,
        /// The cluster itself is gone: the record is archived too.
        cluster_gone: bool,
    },
}

fn timestamp(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn common(
    context: Context<'_>,
    cluster: &str,
    finding_id: &str,
    first_seen: i64,
    severity: Severity,
) -> AsffFinding {
    let now = timestamp(context.now);
    AsffFinding {
        schema_version: SCHEMA_VERSION,
        id: context.id(cluster, finding_id),
        product_arn: context.product_arn(),
        generator_id: "podreach".to_owned(),
        aws_account_id: context.account.to_owned(),
        types: vec![FINDING_TYPE],
        created_at: timestamp(first_seen),
        updated_at: now.clone(),
        severity: AsffSeverity {
            label: severity.as_str(),
            original: severity.as_str(),
        },
        title: String::new(),
        description: String::new(),
        resources: vec![Resource {
            kind: "AwsEksCluster",
            id: context.cluster_arn(cluster),
            partition: context.partition.to_owned(),
            region: context.region.to_owned(),
        }],
        first_observed_at: timestamp(first_seen),
        last_observed_at: now,
        compliance: Compliance { status: "FAILED" },
        record_state: "ACTIVE",
        product_name: "podreach",
        company_name: "podreach",
        region: context.region.to_owned(),
        remediation: None,
        product_fields: BTreeMap::from([
            ("podreach/finding_id".to_owned(), finding_id.to_owned()),
            (
                "podreach/cluster".to_owned(),
                clip(cluster, PRODUCT_FIELD_VALUE_LIMIT),
            ),
        ]),
    }
}

/// One finding as Security Hub imports it.
pub fn finding(record: Record<'_>, context: Context<'_>) -> AsffFinding {
    match record {
        Record::Open {
            finding: f,
            first_seen,
        } => {
            let mut out = common(context, &f.cluster, &f.id, first_seen, f.severity);
            out.title = clip(&f.title, TITLE_LIMIT);
            out.description = clip(&f.detail, DESCRIPTION_LIMIT);
            let a = &f.affected;
            // The cluster, then nodes and ENIs in turn, within the 32 resources.
            let room = RESOURCE_LIMIT - out.resources.len();
            let nodes = a.nodes.len().min(room.div_ceil(2));
            let enis = a.enis.len().min(room - nodes);
            let nodes = a.nodes.len().min(room - enis);
            out.resources
                .extend(a.nodes.iter().take(nodes).map(|n| Resource {
                    kind: "AwsEc2Instance",
                    id: context.ec2_arn("instance", n),
                    partition: context.partition.to_owned(),
                    region: context.region.to_owned(),
                }));
            out.resources
                .extend(a.enis.iter().take(enis).map(|e| Resource {
                    kind: "AwsEc2NetworkInterface",
                    id: context.ec2_arn("network-interface", e),
                    partition: context.partition.to_owned(),
                    region: context.region.to_owned(),
                }));
            let steps: Vec<String> = f
                .remediation
                .iter()
                .map(|r| match &r.command {
                    Some(command) => format!("{} ({command})", r.action),
                    None => r.action.clone(),
                })
                .collect();
            if !steps.is_empty() {
                out.remediation = Some(AsffRemediation {
                    recommendation: Recommendation {
                        text: clip(&steps.join(" "), RECOMMENDATION_LIMIT),
                    },
                });
            }
            let fields = [
                ("podreach/cause", f.cause.code().to_owned()),
                ("podreach/kind", f.kind.as_str().to_owned()),
                ("podreach/direction", f.direction.as_str().to_owned()),
                ("podreach/destinations", f.destinations.join(",")),
                ("podreach/nodes", a.nodes.len().to_string()),
                ("podreach/enis", a.enis.len().to_string()),
                ("podreach/pod_addresses", a.pod_address_count.to_string()),
                (
                    "podreach/resources_omitted",
                    (a.nodes.len() - nodes + a.enis.len() - enis).to_string(),
                ),
            ];
            for (key, value) in fields {
                out.product_fields
                    .insert(key.to_owned(), clip(&value, PRODUCT_FIELD_VALUE_LIMIT));
            }
            if let Some(via) = &f.via {
                out.product_fields.insert(
                    "podreach/via".to_owned(),
                    clip(via, PRODUCT_FIELD_VALUE_LIMIT),
                );
            }
            out
        }
        Record::Resolved {
            cluster,
            finding_id,
            title,
            severity,
            first_seen,
            cluster_gone,
        } => {
            let mut out = common(context, cluster, finding_id, first_seen, severity);
            out.title = clip(title, TITLE_LIMIT);
            out.description = clip(
                &if cluster_gone {
                    format!("Resolved: the cluster {cluster} no longer exists. {title}")
                } else {
                    format!(
                        "Resolved: the last full audit of {cluster} no longer finds it. {title}"
                    )
                },
                DESCRIPTION_LIMIT,
            );
            out.compliance.status = "PASSED";
            if cluster_gone {
                out.record_state = "ARCHIVED";
            }
            out
        }
    }
}

/// How long a resolution is imported again, run after run: an import is an upsert of the same
/// `Id`, so sending it again costs nothing, and a resolution one run could not import is not
/// lost.
pub const RESOLVED_KEPT: i64 = 7 * 24 * 3600;

/// The documents of one audit of one account and Region. With the findings' `records` (the
/// lifecycle's state after the audit): each open or suppressed finding the report holds, FAILED
/// (one the report does not hold, of a cluster the audit did not fully see, keeps its last
/// record in Security Hub), and each finding resolved in the last [`RESOLVED_KEPT`], PASSED, and
/// ARCHIVED when `gone` says its cluster no longer exists. Without records (no state kept): each
/// finding of the report, FAILED, first seen now.
pub fn documents(
    report: &crate::report::Report,
    records: Option<&[crate::lifecycle::FindingState]>,
    gone: &dyn Fn(&str) -> bool,
    context: Context<'_>,
) -> Vec<AsffFinding> {
    use crate::lifecycle::Status;
    let Some(records) = records else {
        return report
            .findings
            .iter()
            .map(|finding| {
                self::finding(
                    Record::Open {
                        finding,
                        first_seen: context.now,
                    },
                    context,
                )
            })
            .collect();
    };
    let reported: std::collections::BTreeMap<(&str, &str), &Finding> = report
        .findings
        .iter()
        .map(|f| ((f.cluster.as_str(), f.id.as_str()), f))
        .collect();
    let mut out = Vec::new();
    for record in records {
        let key = (record.cluster.as_str(), record.finding_id.as_str());
        match record.status {
            Status::Open | Status::Suppressed => {
                if let Some(finding) = reported.get(&key) {
                    out.push(self::finding(
                        Record::Open {
                            finding,
                            first_seen: record.first_seen,
                        },
                        context,
                    ));
                }
            }
            Status::Resolved => {
                let recent = record
                    .resolved_at
                    .is_some_and(|at| context.now.saturating_sub(at) <= RESOLVED_KEPT);
                if recent {
                    out.push(self::finding(
                        Record::Resolved {
                            cluster: &record.cluster,
                            finding_id: &record.finding_id,
                            title: &record.title,
                            severity: record
                                .published
                                .as_ref()
                                .map_or(Severity::Informational, |p| p.severity),
                            first_seen: record.first_seen,
                            cluster_gone: gone(&record.cluster),
                        },
                        context,
                    ));
                }
            }
        }
    }
    out
}

/// The findings cut into `BatchImportFindings` calls of at most [`BATCH_LIMIT`], in order.
pub fn batches(findings: Vec<AsffFinding>) -> Vec<Vec<AsffFinding>> {
    let mut out: Vec<Vec<AsffFinding>> = Vec::new();
    let mut findings = findings.into_iter().peekable();
    while findings.peek().is_some() {
        out.push(findings.by_ref().take(BATCH_LIMIT).collect());
    }
    out
}
