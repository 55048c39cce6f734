//! The `podreach` binary as a user runs it: output, exit codes and files it writes.

use std::path::Path;
use std::process::{Command, Output};

fn podreach(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podreach"))
        .args(args)
        .output()
        .expect("the podreach binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn audit_without_arguments_explains_the_demo_in_plain_words() {
    let output = podreach(&[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    insta::assert_snapshot!("demo_text_report", text);
}

#[test]
fn demo_json_report_follows_schema_v1() {
    let output = podreach(&["audit", "--format", "json", "--paths"]);
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["schema"], "podreach/report/v1");
    for path in report["paths"].as_array().expect("paths with --paths") {
        for field in [
            "cluster",
            "instance_id",
            "eni_id",
            "device_index",
            "network_card_index",
            "pod_ips",
            "pod_prefixes",
            "destination",
            "via",
            "direction",
            "verdict",
            "cause",
            "source_ip_at_peer",
            "egress_eni",
            "hops",
            "assumptions",
        ] {
            assert!(path.get(field).is_some(), "path lacks `{field}`: {path}");
        }
    }
    // Keys sorted: serde_json's `preserve_order` is switched on by some workspace dependency
    // (the AWS SDK's HTTP client) and off in others, so map order is not part of the contract.
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_json_snapshot!("demo_json_report", report);
    });
}

#[test]
fn paths_are_left_out_unless_asked_for() {
    let report: serde_json::Value =
        serde_json::from_slice(&podreach(&["audit", "--format", "json"]).stdout)
            .expect("JSON report");
    assert!(report.get("paths").is_none());
}

#[test]
fn fail_on_exits_1_only_when_a_finding_reaches_the_threshold() {
    assert_eq!(
        podreach(&["audit", "--fail-on", "HIGH"]).status.code(),
        Some(1)
    );
    assert_eq!(
        podreach(&["audit", "--fail-on", "critical"]).status.code(),
        Some(0)
    );
    assert_eq!(
        podreach(&["audit", "--fail-on", "SEVERE"]).status.code(),
        Some(2)
    );
}

#[test]
fn the_written_demo_snapshot_audits_exactly_like_the_embedded_one() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("demo");
    let written = podreach(&["demo-snapshot", "--out", out.to_str().expect("UTF-8 path")]);
    assert_eq!(
        written.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    assert!(out.join("ec2/route-tables.json").is_file());
    let from_files = podreach(&[
        "audit",
        "--snapshot",
        out.to_str().expect("UTF-8 path"),
        "--format",
        "json",
        "--paths",
    ]);
    let embedded = podreach(&["audit", "--format", "json", "--paths"]);
    assert_eq!(stdout(&from_files), stdout(&embedded));
    // Writing over a non-empty directory is refused rather than mixing snapshots.
    assert_eq!(
        podreach(&["demo-snapshot", "--out", out.to_str().expect("UTF-8 path")])
            .status
            .code(),
        Some(2)
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

#[test]
fn every_unreadable_file_is_named_in_one_run_the_rest_is_audited_and_the_run_exits_3() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().to_str().expect("UTF-8 path");
    assert_eq!(
        podreach(&["demo-snapshot", "--out", &format!("{root}/demo")])
            .status
            .code(),
        Some(0)
    );
    write(
        dir.path(),
        "enis-cut.json",
        r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": [{"Priv"#,
    );
    write(dir.path(), "addon.json", "");
    write(
        dir.path(),
        "notes.md",
        "# How this snapshot was taken\n\nSee the README.\n",
    );
    let output = podreach(&["audit", "--snapshot", root]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: enis-cut.json: not valid JSON")
            && stderr.contains("NetworkInterfaces[0].PrivateIpAddresses[0]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: addon.json: not read: the file is empty (0 bytes)"),
        "{stderr}"
    );
    assert!(stderr.contains("warning: notes.md: not used"), "{stderr}");
    let text = stdout(&output);
    assert!(text.contains("NOT ANALYSED"), "{text}");
    assert!(text.contains("enis-cut.json"), "{text}");
    // The demo beside them is audited as usual.
    assert!(text.contains("Cluster shop"), "{text}");
    assert!(text.contains("HIGH"), "{text}");
}

#[test]
fn a_missing_snapshot_directory_is_a_usage_error() {
    let output = podreach(&["audit", "--snapshot", "/nonexistent/podreach"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist"));
}

#[test]
fn cli_settings_override_the_daemonset_and_say_so() {
    // NODE_PORT_SUPPORT=true on the command line repairs the demo's shop cluster.
    let output = podreach(&[
        "audit",
        "--format",
        "json",
        "--cni-env",
        "AWS_VPC_CNI_NODE_PORT_SUPPORT=true",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let shop = report["clusters"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "shop"))
        .expect("shop");
    let setting = shop["cni"]["settings"]
        .as_array()
        .and_then(|s| {
            s.iter()
                .find(|s| s["name"] == "AWS_VPC_CNI_NODE_PORT_SUPPORT")
        })
        .expect("setting listed");
    assert_eq!(setting["source"], "cli");
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["cluster"] != "shop")
    );
}

#[test]
fn explain_traces_both_directions_hop_by_hop() {
    let output = podreach(&["explain", "--pod-ip", "10.0.1.21", "--to", "10.1.0.50"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    insta::assert_snapshot!("explain_secondary_eni_pod", stdout(&output));
    let unknown = podreach(&["explain", "--pod-ip", "192.0.2.1", "--to", "10.1.0.50"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn a_max_concurrency_of_zero_is_a_usage_error() {
    let output = podreach(&["audit", "--live", "--max-concurrency", "0"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--max-concurrency"), "{stderr}");
    assert!(stderr.contains("at least 1"), "{stderr}");
}

#[test]
fn a_snapshot_whose_clusters_get_no_verdicts_exits_3_and_says_so() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("demo");
    let path = out.to_str().expect("UTF-8 path");
    assert_eq!(
        podreach(&["demo-snapshot", "--out", path]).status.code(),
        Some(0)
    );
    // Without describe-vpcs, neither cluster's VPC is known: no verdicts at all.
    std::fs::remove_file(out.join("ec2/vpcs.json")).expect("remove the VPCs");
    let output = podreach(&["audit", "--snapshot", path]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("NOT ANALYSED"), "{text}");
    assert!(
        text.contains("- legacy: its VPC vpc-0c7a2b1d3e4f59603 is not in any"),
        "{text}"
    );
    assert!(!text.contains("No findings"), "{text}");
    let json = podreach(&["audit", "--snapshot", path, "--format", "json"]);
    assert_eq!(json.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(
        report["not_analysed"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );
}

#[test]
fn a_snapshot_without_any_cluster_exits_3() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(
        dir.path(),
        "vpcs.json",
        r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}]}"#,
    );
    let output = podreach(&[
        "audit",
        "--snapshot",
        dir.path().to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stdout(&output).contains("whole run: no `aws eks describe-cluster` output"));
}

#[test]
fn the_demo_is_fully_analysed_and_exits_0() {
    let output = podreach(&["audit"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(!stdout(&output).contains("NOT ANALYSED"));
}

#[test]
fn a_missing_with_directory_is_refused_before_any_collection() {
    // The endpoint is a closed local port: were anything collected first, the error would be
    // about reaching it.
    let output = Command::new(env!("CARGO_BIN_EXE_podreach"))
        .args(["audit", "--live", "--with", "/nonexistent/kubectl-dumps"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run podreach");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--with /nonexistent/kubectl-dumps: not a directory"),
        "{stderr}"
    );
}

/// `podreach audit --live` in an environment of the caller's choosing: nothing inherited, so a
/// developer's own AWS profile can never be used by a test.
fn live_audit(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let home = tempfile::tempdir().expect("temp home");
    let output = Command::new(env!("CARGO_BIN_EXE_podreach"))
        .args(["audit", "--live"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("run podreach");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// AWS's documented example credentials: well-formed, valid nowhere.
const KEY_ID: (&str, &str) = ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
const SECRET_KEY: (&str, &str) = (
    "AWS_SECRET_ACCESS_KEY",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);

#[test]
fn a_live_audit_without_a_region_says_so_once() {
    let (code, stderr) = live_audit(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        KEY_ID,
        SECRET_KEY,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no AWS region: pass --region"), "{stderr}");
    assert!(!stderr.contains("could not reach the endpoint"), "{stderr}");
}

#[test]
fn a_live_audit_without_credentials_names_them_and_prints_the_error_once() {
    let (code, stderr) = live_audit(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_REGION", "eu-west-1"),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no AWS credentials could be loaded"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("eks:ListClusters").count(),
        1,
        "the failure is printed once, not once per error in the chain: {stderr}"
    );
}

#[test]
fn a_live_audit_of_a_closed_endpoint_is_printed_once() {
    let (code, stderr) = live_audit(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_REGION", "eu-west-1"),
        KEY_ID,
        SECRET_KEY,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("could not reach the endpoint"), "{stderr}");
    assert_eq!(stderr.matches("eks:ListClusters").count(), 1, "{stderr}");
}

#[test]
fn a_misspelled_cni_env_key_is_refused_with_the_nearest_known_name() {
    let output = podreach(&["audit", "--cni-env", "AWS_VPC_CNI_NODE_PORT_SUPORT=false"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("did you mean `AWS_VPC_CNI_NODE_PORT_SUPPORT`?"),
        "{stderr}"
    );
    let output = podreach(&["audit", "--cni-env", "WARM_IP_TARGET=5"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not change any verdict"), "{stderr}");
}

#[test]
fn hidden_files_and_directories_of_a_snapshot_are_left_out() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().to_str().expect("UTF-8 path");
    assert_eq!(
        podreach(&["demo-snapshot", "--out", &format!("{root}/demo")])
            .status
            .code(),
        Some(0)
    );
    write(dir.path(), ".complete", "");
    std::fs::create_dir_all(dir.path().join(".git/objects")).expect("a .git directory");
    write(&dir.path().join(".git"), "HEAD", "ref: refs/heads/main\n");
    let output = podreach(&["audit", "--snapshot", root]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).is_empty(),
        "{output:?}"
    );
}

/// `podreach audit --format json` with extra arguments, parsed.
fn audit_json(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    let output = podreach(&all);
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (
        output.status.code(),
        report,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `(lifecycle, cluster, notify)` of each transition.
fn markers(report: &serde_json::Value) -> Vec<(String, String, bool)> {
    report["lifecycle"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["lifecycle"].as_str().unwrap_or_default().to_owned(),
                        e["cluster"].as_str().unwrap_or_default().to_owned(),
                        e["notify"].as_bool().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn state_marks_new_then_ongoing_then_resolved_and_suppressions_quieten() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let snap = dir.path().join("snap");
    let snap_arg = snap.to_str().expect("UTF-8 path");
    assert_eq!(
        podreach(&["demo-snapshot", "--out", snap_arg])
            .status
            .code(),
        Some(0)
    );
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().expect("UTF-8 path");
    let run = |extra: &[&str]| {
        let mut args = vec!["--snapshot", snap_arg, "--state", state_arg];
        args.extend_from_slice(extra);
        audit_json(&args)
    };

    let (code, report, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    let first = markers(&report);
    assert!(!first.is_empty());
    assert!(
        first.iter().all(|(m, _, notify)| m == "NEW" && *notify),
        "{first:?}"
    );
    assert!(state.is_file(), "the state is written");

    let (_, report, _) = run(&[]);
    let again = markers(&report);
    assert_eq!(again.len(), first.len());
    assert!(
        again.iter().all(|(m, _, notify)| m == "ONGOING" && !notify),
        "{again:?}"
    );

    // Suppress shop's findings: recorded, not notified.
    let rules = dir.path().join("suppressions.json");
    std::fs::write(
        &rules,
        r#"{"suppressions": [{"cluster": "shop", "reason": "accepted until the upgrade"}]}"#,
    )
    .expect("write suppressions");
    let rules_arg = rules.to_str().expect("UTF-8 path");
    let (_, report, _) = run(&["--suppressions", rules_arg]);
    let suppressed = markers(&report);
    assert!(
        suppressed
            .iter()
            .filter(|(_, cluster, _)| cluster == "shop")
            .all(|(m, _, notify)| m == "SUPPRESSED" && !notify),
        "{suppressed:?}"
    );

    // A malformed suppression document suppresses nothing and says which entry is wrong.
    std::fs::write(&rules, r#"{"suppressions": [{"cluster": "shop"}]}"#).expect("write");
    let (code, _, stderr) = run(&["--suppressions", rules_arg]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("suppressions[0]: `reason` is required"),
        "{stderr}"
    );

    // Fix shop (NODE_PORT_SUPPORT back to true): its findings are resolved, once.
    let aws_node = snap.join("shop/aws-node.json");
    let text = std::fs::read_to_string(&aws_node).expect("read aws-node");
    let fixed = text.replacen(
        "\"name\": \"AWS_VPC_CNI_NODE_PORT_SUPPORT\",\n                                \"value\": \"false\"",
        "\"name\": \"AWS_VPC_CNI_NODE_PORT_SUPPORT\",\n                                \"value\": \"true\"",
        1,
    );
    assert_ne!(fixed, text, "the fixture names NODE_PORT_SUPPORT=false");
    std::fs::write(&aws_node, fixed).expect("write aws-node");
    let (_, report, _) = run(&[]);
    let resolved = markers(&report);
    assert!(
        resolved
            .iter()
            .any(|(m, cluster, notify)| m == "RESOLVED" && cluster == "shop" && !notify),
        "a suppressed finding is resolved quietly: {resolved:?}"
    );
    let (_, report, _) = run(&[]);
    assert!(
        markers(&report).iter().all(|(m, _, _)| m == "ONGOING"),
        "{:?}",
        markers(&report)
    );
}

/// The demo snapshot written to `dir/name`, with the collection notes of a live collection in
/// `region`.
fn demo_in_region(dir: &Path, name: &str, region: &str) -> String {
    let out = dir.join(name);
    let arg = out.to_str().expect("UTF-8 path").to_owned();
    assert_eq!(
        podreach(&["demo-snapshot", "--out", &arg]).status.code(),
        Some(0)
    );
    write(
        &out,
        "podreach-collection.json",
        &format!(
            r#"{{"podreachCollection": {{"schema": "podreach/collection/v1", "region": "{region}"}}}}"#
        ),
    );
    arg
}

/// `(region, lifecycle)` of each transition of cluster `shop`.
fn shop_markers(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut markers: Vec<(String, String)> = report["lifecycle"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["cluster"] == "shop")
        .map(|e| {
            (
                e["region"].as_str().unwrap_or("-").to_owned(),
                e["lifecycle"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    markers.sort();
    markers.dedup();
    markers
}

#[test]
fn two_regions_snapshots_are_audited_side_by_side_and_keep_their_own_lifecycle() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let virginia = demo_in_region(dir.path(), "us-east-1", "us-east-1");
    let dublin = demo_in_region(dir.path(), "eu-west-1", "eu-west-1");
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().expect("UTF-8 path");
    let both = [
        "--snapshot",
        &virginia,
        "--snapshot",
        &dublin,
        "--state",
        state_arg,
    ];

    let (code, report, stderr) = audit_json(&both);
    let (_, alone, _) = audit_json(&["--snapshot", &virginia]);
    assert_eq!(code, Some(0), "{stderr}");
    let clusters: Vec<(String, String)> = report["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| {
            (
                c["region"].as_str().unwrap_or("-").to_owned(),
                c["name"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .filter(|(_, name)| name == "shop")
        .collect();
    assert_eq!(
        clusters,
        [
            ("us-east-1".to_owned(), "shop".to_owned()),
            ("eu-west-1".to_owned(), "shop".to_owned())
        ]
    );
    let count = |r: &serde_json::Value| r["findings"].as_array().map_or(0, Vec::len);
    assert!(count(&alone) > 0);
    assert_eq!(count(&report), 2 * count(&alone));
    assert_eq!(
        shop_markers(&report),
        [
            ("eu-west-1".to_owned(), "NEW".to_owned()),
            ("us-east-1".to_owned(), "NEW".to_owned())
        ]
    );

    // Dublin's shop is fixed: its findings are resolved, Virginia's same-named ones go on.
    let aws_node = Path::new(&dublin).join("shop/aws-node.json");
    let text = std::fs::read_to_string(&aws_node).expect("read aws-node");
    let fixed = text.replacen(
        "\"name\": \"AWS_VPC_CNI_NODE_PORT_SUPPORT\",\n                                \"value\": \"false\"",
        "\"name\": \"AWS_VPC_CNI_NODE_PORT_SUPPORT\",\n                                \"value\": \"true\"",
        1,
    );
    assert_ne!(fixed, text);
    std::fs::write(&aws_node, fixed).expect("write aws-node");
    let (_, report, _) = audit_json(&both);
    assert_eq!(
        shop_markers(&report),
        [
            ("eu-west-1".to_owned(), "RESOLVED".to_owned()),
            ("us-east-1".to_owned(), "ONGOING".to_owned())
        ]
    );

    // One Region alone against the same state file: its own records, nothing new.
    let (_, report, _) = audit_json(&["--snapshot", &virginia, "--state", state_arg]);
    assert_eq!(
        shop_markers(&report),
        [("us-east-1".to_owned(), "ONGOING".to_owned())]
    );

    // The text names each cluster's Region.
    let text = stdout(&podreach(&[
        "audit",
        "--snapshot",
        &virginia,
        "--snapshot",
        &dublin,
    ]));
    assert!(text.contains("Cluster shop (us-east-1) — "), "{text}");
    assert!(text.contains("Cluster shop (eu-west-1) — "), "{text}");
}

#[test]
fn two_snapshots_of_one_region_are_refused_naming_both() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = demo_in_region(dir.path(), "a", "eu-west-1");
    let b = demo_in_region(dir.path(), "b", "eu-west-1");
    let output = podreach(&["audit", "--snapshot", &a, "--snapshot", &b]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "--snapshot {a} and --snapshot {b} are both of Region eu-west-1"
        )),
        "{stderr}"
    );
}

#[test]
fn audit_format_ocsf_writes_one_detection_finding_per_finding() {
    let report: serde_json::Value =
        serde_json::from_slice(&podreach(&["audit", "--format", "json"]).stdout)
            .expect("the JSON report");
    let output = podreach(&["audit", "--format", "ocsf"]);
    let ocsf: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON array");
    let events = ocsf.as_array().expect("an array");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(events.len(), findings.len());
    for (event, finding) in events.iter().zip(findings) {
        assert_eq!(event["class_uid"], 2004);
        assert_eq!(event["type_uid"], 200_401);
        assert_eq!(event["finding_info"]["uid"], finding["id"]);
        assert!(
            event["time"]
                .as_i64()
                .is_some_and(|t| t > 1_700_000_000_000)
        );
    }
}
