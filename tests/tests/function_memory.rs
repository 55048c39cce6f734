//! Peak memory of the real Lambda bootstrap binaries on a 1,000-node cluster: a guard, so a
//! change that makes the functions' memory grow with the cluster again fails CI instead of
//! failing in production (a function over its `MemorySize` is killed, its batch retried and
//! sent to the dead-letter queue, and nothing is published).
//!
//! `tests/scale/run_function.py` serves the cluster of `tests/scale/generate.py` through a fake
//! EC2 + EKS + SNS endpoint on 127.0.0.1 with EC2's page sizes (moto is too slow at this size and
//! does not page these calls), hands the bootstrap one event through a Lambda Runtime API, and
//! reports the process's peak resident memory as the kernel counted it. Memory, unlike time, is
//! deterministic enough to assert. The limit is the measured peak of the test-profile binaries
//! with about 50% headroom (see BENCHMARKS.md for the release figures at 5,000 nodes, from which
//! the template's `MemorySize` is set).

use std::process::Command;

use podreach_tests::infra::{built_binary, repo_root};
use serde_json::Value;

/// Peak resident memory allowed for either bootstrap on the 1,000-node cluster (test profile).
/// Measured: scheduled-audit 120 MiB, on-change 141 MiB (most of it SDK pages in flight: a page
/// of 1,000 instances is ~31 MB of XML). Before findings stopped growing with addresses ×
/// routes, 100 nodes alone took 567 MiB.
const LIMIT_KIB: u64 = 224 * 1024;

fn run(binary: &str, event: &str, repeat: usize) -> Value {
    run_with(binary, event, repeat, &[])
}

fn run_with(binary: &str, event: &str, repeat: usize, extra: &[&str]) -> Value {
    let script = repo_root().join("tests/scale/run_function.py");
    let output = Command::new("python3")
        .arg(&script)
        .args(["--binary"])
        .arg(built_binary(binary))
        .args(["--nodes", "1000", "--event", event, "--timeout", "300"])
        .args(["--repeat", &repeat.to_string()])
        .args(extra)
        .output()
        .expect("python3 runs tests/scale/run_function.py");
    let text = String::from_utf8_lossy(&output.stdout);
    let result = serde_json::from_str::<Value>(&text);
    assert!(
        result.is_ok(),
        "{binary}: run_function.py printed no result: {text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result = result.expect("checked above");
    assert!(
        output.status.success() && result["answer"] == "response",
        "{binary} did not answer the {event} event: {result:#}"
    );
    result
}

fn assert_within_limit(result: &Value) {
    let peak = result["peak_rss_kb"].as_u64().expect("a peak");
    assert!(
        peak <= LIMIT_KIB,
        "{} peaked at {} MiB on 1,000 nodes, over the {} MiB guard: {result:#}",
        result["binary"],
        peak / 1024,
        LIMIT_KIB / 1024
    );
}

#[test]
fn scheduled_audit_of_a_1000_node_cluster_stays_within_its_memory_guard() {
    let result = run("scheduled-audit", "scheduled", 1);
    // It really audited the cluster: every ENI page was read and findings were published.
    let calls = &result["api_calls"];
    // Three pages of the cluster's 3,000 ENIs, and one of the far VPCs' (their security groups).
    assert_eq!(calls["DescribeNetworkInterfaces"], 4, "{result:#}");
    // The routes use a transit gateway: its referencing option is read once (§5.7).
    assert_eq!(calls["DescribeTransitGateways"], 1, "{result:#}");
    // Its five route tables: listed once, each table's associations and propagations, and only
    // the prefixes that matter searched, twice each (docs/datapath.md §10.11): the destinations
    // widened to three private ranges in the cluster attachment's table, then the cluster VPC's
    // CIDRs (one aggregate at 1,000 nodes) in the far attachment's table.
    assert_eq!(calls["DescribeTransitGatewayRouteTables"], 1, "{result:#}");
    assert_eq!(
        calls["GetTransitGatewayRouteTableAssociations"], 5,
        "{result:#}"
    );
    assert_eq!(
        calls["GetTransitGatewayRouteTablePropagations"], 5,
        "{result:#}"
    );
    assert_eq!(calls["SearchTransitGatewayRoutes"], 8, "{result:#}");
    assert!(
        result["body"]["findings"].as_u64().unwrap_or(0) > 0,
        "{result:#}"
    );
    assert_within_limit(&result);
}

/// The same ENI event twice to one warm process: the first audits the whole cluster (and caches
/// its context), the second only the node, in at most five calls with real page sizes.
#[test]
fn on_change_for_an_eni_event_on_a_1000_node_cluster_stays_within_its_memory_guard() {
    let result = run("on-change", "eni", 2);
    assert!(
        result["body"]["findings"].as_u64().unwrap_or(0) > 0,
        "{result:#}"
    );
    let invocations = result["invocations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(invocations.len(), 2, "{result:#}");
    let calls = |i: usize| invocations[i]["api_calls"].as_u64().unwrap_or(u64::MAX);
    assert!(
        calls(0) > 5,
        "the first audits the whole cluster: {result:#}"
    );
    assert!(
        calls(1) <= 5,
        "one ENI event costs at most five calls: {result:#}"
    );
    assert!(
        invocations[1]["context_age_seconds"].is_u64(),
        "the second used the cached context: {result:#}"
    );
    assert_within_limit(&result);
}

/// Issue 21 through the real bootstrap: with `MEMBER_ROLE_NAME`, the scheduled audit reads the
/// peered VPC in the account that owns it (the fake endpoint answers STS AssumeRole and serves
/// that account's objects only to its credentials), so the far side is no gap.
#[test]
fn scheduled_audit_reads_the_peer_account_through_the_member_role() {
    let without = run("scheduled-audit", "scheduled", 1);
    let with = run_with(
        "scheduled-audit",
        "scheduled",
        1,
        &["--member-role", "podreach-member"],
    );
    let peer = &with["api_calls_by_account"]["222233334444"];
    for action in [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
        "DescribeNetworkAcls",
        "DescribeNetworkInterfaces",
    ] {
        assert_eq!(peer[action], 1, "{action} in the peer's account: {with:#}");
    }
    assert_eq!(
        with["api_calls_by_account"]["111122223333"]["AssumeRole"], 1,
        "{with:#}"
    );
    assert_eq!(with["body"]["gaps"], 0, "{with:#}");
    assert!(
        without["body"]["gaps"].as_u64().unwrap_or(0) >= 1,
        "without the role the peer's account is a gap: {without:#}"
    );
    assert!(
        without["api_calls_by_account"]["222233334444"].is_null(),
        "{without:#}"
    );
    assert_within_limit(&with);
}
