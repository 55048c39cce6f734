//! One run over several AWS Regions (`--region` repeated, the functions' `REGIONS`): each
//! Region's collection is its own model, audited on its own, and the audits are merged. A
//! cluster's name is unique only within its Region, so everything the report says names the
//! Region it is about, and nothing of one Region leaks into another's verdicts or rows.

mod support;

use podreach_core::report::Direction;
use podreach_core::{AnalyzeOptions, Audit, Model, Overrides, snapshot};
use serde_json::json;
use support::*;

const NOTES_FILE: &str = "podreach-collection.json";

/// The collection notes a live collection in `region` writes.
fn notes(region: &str) -> serde_json::Value {
    json!({ "podreachCollection": { "schema": "podreach/collection/v1", "region": region } })
}

fn collected_in(mut snapshot: Snapshot, region: &str) -> Snapshot {
    snapshot.insert(NOTES_FILE, notes(region));
    snapshot
}

fn model(snapshot: &Snapshot) -> Model {
    let loaded = snapshot::load(&snapshot.source_files());
    Model::new(&loaded.documents, &loaded.problems, &Overrides::default())
}

fn broken() -> Snapshot {
    shop().cni("v1.11.4", &[("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false")])
}

fn fixed() -> Snapshot {
    shop().cni("v1.11.4", &[])
}

fn everything() -> AnalyzeOptions {
    AnalyzeOptions {
        include_paths: true,
        ..AnalyzeOptions::default()
    }
}

#[test]
fn a_collection_names_its_region_on_every_cluster_finding_gap_and_row() {
    let mut snapshot = collected_in(broken(), "eu-west-1");
    // A gap of the model's own: a file that is not a snapshot document.
    snapshot.insert("notes.json", json!({ "hello": "world" }));
    let report = snapshot.audit();
    assert_eq!(report.clusters.len(), 1);
    assert_eq!(report.clusters[0].region.as_deref(), Some("eu-west-1"));
    assert!(!report.findings.is_empty(), "the broken shop has findings");
    for finding in &report.findings {
        assert_eq!(finding.region.as_deref(), Some("eu-west-1"), "{finding:?}");
    }
    let paths = report.paths.as_ref().expect("paths asked for");
    assert!(!paths.is_empty());
    assert!(
        paths
            .iter()
            .all(|p| p.region.as_deref() == Some("eu-west-1"))
    );
    assert!(!report.gaps.is_empty(), "the stray file is a gap");
    assert!(
        report
            .gaps
            .iter()
            .all(|g| g.region.as_deref() == Some("eu-west-1"))
    );
    let text = serde_json::to_value(&report.clusters[0]).expect("serialises");
    assert_eq!(text["region"], "eu-west-1");
}

#[test]
fn a_snapshot_without_collection_notes_names_no_region_and_its_json_has_no_region_field() {
    let report = broken().audit();
    assert_eq!(report.clusters[0].region, None);
    let json = serde_json::to_value(&report).expect("serialises");
    assert!(json["clusters"][0].get("region").is_none());
    assert!(json["findings"][0].get("region").is_none());
}

#[test]
fn same_named_clusters_of_two_regions_keep_their_own_verdicts_findings_and_rows() {
    let dublin = model(&collected_in(broken(), "eu-west-1"));
    let virginia = model(&collected_in(fixed(), "us-east-1"));
    let alone_dublin = podreach_core::analyze(&dublin, &everything());
    let alone_virginia = podreach_core::analyze(&virginia, &everything());
    assert!(!alone_dublin.findings.is_empty());
    assert!(alone_virginia.findings.is_empty());

    let merged = Audit::merge(vec![
        podreach_core::run(&virginia, &everything()),
        podreach_core::run(&dublin, &everything()),
    ]);
    let report = &merged.report;
    let regions: Vec<(Option<&str>, &str)> = report
        .clusters
        .iter()
        .map(|c| (c.region.as_deref(), c.name.as_str()))
        .collect();
    assert_eq!(
        regions,
        [(Some("us-east-1"), "shop"), (Some("eu-west-1"), "shop")]
    );
    // The findings are Dublin's, and only Dublin's, each as it was audited alone.
    assert_eq!(report.findings.len(), alone_dublin.findings.len());
    for (merged, alone) in report.findings.iter().zip(&alone_dublin.findings) {
        assert_eq!(merged.region.as_deref(), Some("eu-west-1"));
        assert_eq!((&merged.id, merged.cause), (&alone.id, alone.cause));
    }
    // Each cluster's rows are its own Region's, as many as audited alone.
    let rows = |region| {
        let mut rows = Vec::new();
        merged.for_each_path_of("shop", Some(region), |p| rows.push(p));
        rows
    };
    let dublin_rows = rows("eu-west-1");
    let virginia_rows = rows("us-east-1");
    assert_eq!(
        dublin_rows.len(),
        alone_dublin.paths.as_ref().map_or(0, Vec::len)
    );
    assert_eq!(
        virginia_rows.len(),
        alone_virginia.paths.as_ref().map_or(0, Vec::len)
    );
    assert!(
        dublin_rows
            .iter()
            .all(|p| p.region.as_deref() == Some("eu-west-1"))
    );
    let broken_way: Direction = alone_dublin.findings[0].direction;
    let blocked = |rows: &[podreach_core::report::PathVerdict]| {
        rows.iter()
            .filter(|p| p.direction == broken_way && p.cause.is_some())
            .count()
    };
    assert!(blocked(&dublin_rows) > 0, "Dublin's shop is broken");
    assert_eq!(blocked(&virginia_rows), 0, "Virginia's shop is not");
    let mut all = 0;
    merged.for_each_path(|_| all += 1);
    assert_eq!(all, dublin_rows.len() + virginia_rows.len());
}

#[test]
fn the_collection_notes_of_two_regions_in_one_snapshot_are_a_gap_and_name_no_region() {
    let mut snapshot = collected_in(broken(), "eu-west-1");
    snapshot.insert("us-east-1/podreach-collection.json", notes("us-east-1"));
    let report = snapshot.audit();
    assert_eq!(report.clusters[0].region, None);
    let gap = report
        .gaps
        .iter()
        .find(|g| g.message.contains("several Regions"))
        .expect("a gap names the mix");
    assert!(
        gap.message.contains("eu-west-1, us-east-1"),
        "{}",
        gap.message
    );
}
