//! Findings as Security Hub imports them (ASFF): every field the format requires, Security Hub's
//! limits, a stable id, FAILED while open, PASSED once resolved, ARCHIVED with the cluster gone,
//! and calls of at most 100 findings.

use podreach_core::asff::{
    self, BATCH_LIMIT, Context, DESCRIPTION_LIMIT, RECOMMENDATION_LIMIT, RESOURCE_LIMIT, Record,
    SCHEMA_VERSION, TITLE_LIMIT,
};
use podreach_core::report::{Finding, Severity};
use podreach_core::{AnalyzeOptions, Overrides, demo};
use serde_json::Value;

const CONTEXT: Context<'static> = Context {
    account: "111122223333",
    region: "eu-west-1",
    partition: "aws",
    now: 1_800_000_000,
};

/// The fields `BatchImportFindings` refuses a finding without (AwsSecurityFinding, "Required").
const REQUIRED: [&str; 12] = [
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
];

fn demo_findings() -> Vec<Finding> {
    podreach_core::audit(
        &demo::files(),
        &Overrides::default(),
        &AnalyzeOptions::default(),
    )
    .expect("the demo audits")
    .findings
}

fn as_json(finding: &asff::AsffFinding) -> Value {
    serde_json::to_value(finding).expect("serialisable")
}

fn assert_valid(event: &Value) {
    for field in REQUIRED {
        let value = &event[field];
        assert!(
            !value.is_null() && value != "" && value != &Value::Array(vec![]),
            "{field} is required: {event:#}"
        );
    }
    assert_eq!(event["SchemaVersion"], SCHEMA_VERSION);
    assert_eq!(event["AwsAccountId"], "111122223333");
    assert_eq!(
        event["ProductArn"],
        "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
    );
    let label = event["Severity"]["Label"].as_str().expect("a label");
    assert!(
        ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label),
        "{label}"
    );
    for t in event["Types"].as_array().expect("a list") {
        // namespace/category/classifier, the namespace one of ASFF's five.
        let t = t.as_str().expect("a string");
        assert_eq!(t.split('/').count(), 3, "{t}");
        assert!(t.starts_with("Software and Configuration Checks/"), "{t}");
    }
    for stamp in [
        "CreatedAt",
        "UpdatedAt",
        "FirstObservedAt",
        "LastObservedAt",
    ] {
        let text = event[stamp].as_str().expect("a timestamp");
        assert!(
            text.parse::<jiff::Timestamp>().is_ok() && text.ends_with('Z'),
            "{stamp} is ISO 8601 UTC: {text}"
        );
    }
    assert!(event["Title"].as_str().expect("a string").chars().count() <= TITLE_LIMIT);
    assert!(
        event["Description"]
            .as_str()
            .expect("a string")
            .chars()
            .count()
            <= DESCRIPTION_LIMIT
    );
    let resources = event["Resources"].as_array().expect("a list");
    assert!(!resources.is_empty() && resources.len() <= RESOURCE_LIMIT);
    for r in resources {
        assert!(r["Type"].is_string() && r["Id"].is_string(), "{r}");
    }
    assert!(event["ProductFields"].as_object().expect("a map").len() <= 50);
    if let Some(text) = event["Remediation"]["Recommendation"]["Text"].as_str() {
        assert!(text.chars().count() <= RECOMMENDATION_LIMIT);
    }
}

#[test]
fn an_open_finding_has_every_required_field_and_fails_compliance() {
    let findings = demo_findings();
    assert!(!findings.is_empty());
    for f in &findings {
        let event = as_json(&asff::finding(
            Record::Open {
                finding: f,
                first_seen: 1_799_000_000,
            },
            CONTEXT,
        ));
        assert_valid(&event);
        assert_eq!(
            event["Id"],
            format!("podreach/eu-west-1/{}/{}", f.cluster, f.id)
        );
        assert_eq!(event["Title"], f.title.as_str());
        assert_eq!(event["Severity"]["Label"], f.severity.as_str());
        assert_eq!(event["Compliance"]["Status"], "FAILED");
        assert_eq!(event["RecordState"], "ACTIVE");
        assert_eq!(event["CreatedAt"], "2027-01-03T18:13:20Z");
        assert_eq!(event["UpdatedAt"], "2027-01-15T08:00:00Z");
        assert_eq!(event["Resources"][0]["Type"], "AwsEksCluster");
        assert_eq!(
            event["Resources"][0]["Id"],
            format!("arn:aws:eks:eu-west-1:111122223333:cluster/{}", f.cluster)
        );
        assert_eq!(event["ProductFields"]["podreach/cause"], f.cause.code());
        assert_eq!(
            event["ProductFields"]["podreach/nodes"],
            f.affected.nodes.len().to_string()
        );
        if let Some(first) = f.affected.enis.first() {
            assert!(
                event["Resources"]
                    .as_array()
                    .expect("a list")
                    .iter()
                    .any(|r| r["Id"]
                        == format!("arn:aws:ec2:eu-west-1:111122223333:network-interface/{first}")),
                "the first affected ENI is a resource"
            );
        }
    }
}

#[test]
fn the_id_is_the_same_in_every_run_and_differs_between_regions() {
    let findings = demo_findings();
    let f = &findings[0];
    let open = |now, region| {
        asff::finding(
            Record::Open {
                finding: f,
                first_seen: 1,
            },
            Context {
                now,
                region,
                ..CONTEXT
            },
        )
        .id
    };
    assert_eq!(open(10, "eu-west-1"), open(20, "eu-west-1"));
    assert_ne!(open(10, "eu-west-1"), open(10, "us-east-1"));
}

#[test]
fn a_resolved_finding_passes_with_the_same_id_and_is_archived_only_with_its_cluster_gone() {
    let findings = demo_findings();
    let f = &findings[0];
    let open = asff::finding(
        Record::Open {
            finding: f,
            first_seen: 1_799_000_000,
        },
        CONTEXT,
    );
    for gone in [false, true] {
        let resolved = asff::finding(
            Record::Resolved {
                cluster: &f.cluster,
                finding_id: &f.id,
                title: &f.title,
                severity: f.severity,
                first_seen: 1_799_000_000,
                cluster_gone: gone,
            },
            CONTEXT,
        );
        let event = as_json(&resolved);
        assert_valid(&event);
        assert_eq!(resolved.id, open.id, "an import of the same Id replaces it");
        assert_eq!(resolved.created_at, open.created_at);
        assert_eq!(event["Compliance"]["Status"], "PASSED");
        assert_eq!(
            event["RecordState"],
            if gone { "ARCHIVED" } else { "ACTIVE" }
        );
        assert!(resolved.description.starts_with("Resolved: "));
    }
}

#[test]
fn a_huge_finding_fits_security_hubs_limits_and_counts_what_it_leaves_out() {
    let mut f = demo_findings().remove(0);
    f.title = "t".repeat(1_000);
    f.detail = "d".repeat(5_000);
    f.affected.nodes = (0..5_000).map(|n| format!("i-{n:017x}")).collect();
    f.affected.enis = (0..15_000).map(|n| format!("eni-{n:017x}")).collect();
    f.destinations = (0..2_000)
        .map(|n| format!("10.{}.{}.0/24", n / 256, n % 256))
        .collect();
    for r in &mut f.remediation {
        r.action = "a".repeat(2_000);
    }
    let event = as_json(&asff::finding(
        Record::Open {
            finding: &f,
            first_seen: 1,
        },
        CONTEXT,
    ));
    assert_valid(&event);
    assert_eq!(
        event["Resources"].as_array().expect("a list").len(),
        RESOURCE_LIMIT
    );
    let kinds: Vec<&str> = event["Resources"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["Type"].as_str().expect("a string"))
        .collect();
    assert!(kinds.contains(&"AwsEc2Instance") && kinds.contains(&"AwsEc2NetworkInterface"));
    assert_eq!(
        event["ProductFields"]["podreach/resources_omitted"],
        (5_000 + 15_000 - (RESOURCE_LIMIT - 1)).to_string()
    );
    for value in event["ProductFields"].as_object().expect("a map").values() {
        assert!(value.as_str().expect("a string").chars().count() <= 2_048);
    }
    assert!(event["Title"].as_str().expect("a string").ends_with('…'));
}

#[test]
fn imports_go_by_at_most_one_hundred_findings_in_order() {
    let f = demo_findings().remove(0);
    for n in [0usize, 1, 99, 100, 101, 250] {
        let all: Vec<asff::AsffFinding> = (0..n)
            .map(|i| {
                let mut one = asff::finding(
                    Record::Resolved {
                        cluster: &f.cluster,
                        finding_id: &f.id,
                        title: &f.title,
                        severity: Severity::High,
                        first_seen: 1,
                        cluster_gone: false,
                    },
                    CONTEXT,
                );
                one.id = format!("{i}");
                one
            })
            .collect();
        let batches = asff::batches(all);
        assert_eq!(batches.len(), n.div_ceil(BATCH_LIMIT), "{n} findings");
        assert!(
            batches
                .iter()
                .all(|b| !b.is_empty() && b.len() <= BATCH_LIMIT)
        );
        let ids: Vec<String> = batches.into_iter().flatten().map(|f| f.id).collect();
        assert_eq!(ids, (0..n).map(|i| i.to_string()).collect::<Vec<_>>());
    }
}
