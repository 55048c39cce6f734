//! The report's findings as OCSF 1.6 Detection Findings (class 2004): every attribute the class
//! requires, OCSF's enumerations, and the demo's first finding pinned whole.

use podreach_core::ocsf::{CATEGORY_UID, CLASS_UID, Context, OCSF_VERSION, detection_findings};
use podreach_core::report::Severity;
use podreach_core::{AnalyzeOptions, Overrides, demo};

const CONTEXT: Context<'static> = Context {
    time_ms: 1_800_000_000_000,
    account: Some("111122223333"),
    product_version: "0.1.0",
};

#[test]
fn each_finding_is_a_detection_finding_with_the_required_attributes() {
    let report = podreach_core::audit(
        &demo::files(),
        &Overrides::default(),
        &AnalyzeOptions::default(),
    )
    .expect("the demo audits");
    let ocsf = detection_findings(&report, CONTEXT);
    assert_eq!(
        ocsf.len(),
        report.findings.len() + report.not_analysed.len()
    );
    for (event, finding) in ocsf.iter().zip(&report.findings) {
        // The class's required attributes (OCSF 1.6, Detection Finding).
        assert_eq!(event["class_uid"], CLASS_UID);
        assert_eq!(event["category_uid"], CATEGORY_UID);
        assert_eq!(event["activity_id"], 1);
        assert_eq!(
            event["type_uid"],
            CLASS_UID * 100 + 1,
            "class_uid × 100 + activity_id"
        );
        assert_eq!(event["time"], 1_800_000_000_000_i64);
        assert_eq!(event["metadata"]["version"], OCSF_VERSION);
        assert_eq!(event["metadata"]["product"]["name"], "podreach");
        assert_eq!(event["finding_info"]["uid"], finding.id.as_str());
        assert_eq!(event["finding_info"]["title"], finding.title.as_str());
        let severity_id = event["severity_id"].as_u64().expect("a number");
        let expected = match finding.severity {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        };
        assert_eq!(severity_id, expected);
        assert_eq!(event["cloud"]["provider"], "AWS");
        assert_eq!(event["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(event["resources"][0]["type"], "AWS::EKS::Cluster");
        assert_eq!(event["resources"][0]["uid"], finding.cluster.as_str());
        assert_eq!(event["finding_info"]["types"][0], finding.cause.code());
    }
    // Key order depends on serde_json's `preserve_order`, which the workspace's other crates may
    // switch on: the snapshot sorts them.
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!("first_demo_finding_as_ocsf", ocsf[0]);
    });
}
