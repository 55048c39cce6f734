//! The far side routes replies (and its own connections) by the exact source address it sees —
//! the node IP when the CNI SNATs, each pod address otherwise — so a far route table that covers
//! only part of a subnet makes some addresses of that subnet reachable and others not. These
//! tests hold the verdicts, the paths and the findings to that, address by address, on the
//! demo's `shop` cluster (node IP 10.0.1.10, primary-ENI pods 10.0.1.11–13, secondary-ENI pods
//! 10.0.1.21–23, peer 10.1.0.0/24 over a peering connection).

mod support;

use podreach_core::report::{Cause, FindingKind, PathVerdict, Report, Verdict};
use serde_json::json;
use support::*;

/// CNI v1.16.0 with its defaults (SNAT on, NODE_PORT_SUPPORT on), and the peer routing back
/// only `cidr` of the cluster VPC.
fn peer_returns_only(cidr: &str) -> Report {
    let mut snapshot = shop().cni("v1.16.0", &[]);
    for route in snapshot.routes_mut(PEER_ROUTES_FILE, PEER_ROUTE_TABLE) {
        if route["DestinationCidrBlock"] == "10.0.0.0/16" {
            route["DestinationCidrBlock"] = json!(cidr);
        }
    }
    snapshot.audit()
}

/// Every row (there may be several per ENI once its addresses are split) holding `address`.
fn verdict_of(
    report: &Report,
    address: &str,
    direction: podreach_core::report::Direction,
) -> (Verdict, Option<Cause>) {
    let rows: Vec<&PathVerdict> = report
        .paths
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|p| p.direction == direction && p.pod_ips.iter().any(|ip| ip == address))
        .collect();
    assert_eq!(rows.len(), 1, "one row holds {address}: {rows:#?}");
    (rows[0].verdict, rows[0].cause)
}

const REACHABLE: (Verdict, Option<Cause>) = (Verdict::Reachable, None);
const NO_ROUTE_BACK: (Verdict, Option<Cause>) = (Verdict::Unreachable, Some(Cause::PeerNoRoute));

#[test]
fn a_peer_that_routes_back_the_node_ip_but_not_the_secondary_eni_reaches_exactly_what_it_routes() {
    // 10.0.1.0/28 holds the node IP and the primary-ENI pods, not 10.0.1.21–23.
    let report = peer_returns_only("10.0.1.0/28");
    for pod in [
        "10.0.1.11",
        "10.0.1.12",
        "10.0.1.21",
        "10.0.1.22",
        "10.0.1.23",
    ] {
        // SNATed to the node IP, which the peer routes back.
        assert_eq!(verdict_of(&report, pod, EGRESS), REACHABLE, "{pod}");
    }
    for pod in ["10.0.1.11", "10.0.1.12", "10.0.1.13"] {
        assert_eq!(verdict_of(&report, pod, INGRESS), REACHABLE, "{pod}");
    }
    for pod in ["10.0.1.21", "10.0.1.22", "10.0.1.23"] {
        assert_eq!(verdict_of(&report, pod, INGRESS), NO_ROUTE_BACK, "{pod}");
    }
    let finding = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PeerNoRoute,
        INGRESS,
    );
    assert_eq!(finding.affected.pod_address_ranges, ["10.0.1.21-10.0.1.23"]);
    assert_eq!(finding.affected.enis, [SECONDARY_ENI]);
}

#[test]
fn a_peer_that_routes_back_the_pods_but_not_the_node_ip_breaks_every_snated_connection() {
    // 10.0.1.16/28 holds the secondary-ENI pods only.
    let report = peer_returns_only("10.0.1.16/28");
    for pod in ["10.0.1.11", "10.0.1.21"] {
        assert_eq!(verdict_of(&report, pod, EGRESS), NO_ROUTE_BACK, "{pod}");
    }
    for pod in ["10.0.1.21", "10.0.1.22", "10.0.1.23"] {
        assert_eq!(verdict_of(&report, pod, INGRESS), REACHABLE, "{pod}");
    }
    for pod in ["10.0.1.11", "10.0.1.12", "10.0.1.13"] {
        assert_eq!(verdict_of(&report, pod, INGRESS), NO_ROUTE_BACK, "{pod}");
    }
    let egress = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PeerNoRoute,
        EGRESS,
    );
    assert!(
        egress.detail.contains(NODE_IP),
        "the text names the node IP the peer does not route: {}",
        egress.detail
    );
}

#[test]
fn one_enis_addresses_split_where_the_peer_route_splits_them() {
    // 10.0.1.22/31 holds two of the secondary ENI's three pods.
    let report = peer_returns_only("10.0.1.22/31");
    assert_eq!(verdict_of(&report, "10.0.1.21", INGRESS), NO_ROUTE_BACK);
    assert_eq!(verdict_of(&report, "10.0.1.22", INGRESS), REACHABLE);
    assert_eq!(verdict_of(&report, "10.0.1.23", INGRESS), REACHABLE);
    let rows = paths_of(&report, SECONDARY_ENI, INGRESS);
    assert_eq!(
        rows.len(),
        2,
        "one row per part of the ENI's addresses: {rows:#?}"
    );
    // The primary-ENI pods are outside the route too; the two covered pods are not affected.
    let finding = finding(
        &report,
        FindingKind::Unreachable,
        Cause::PeerNoRoute,
        INGRESS,
    );
    assert_eq!(
        finding.affected.pod_address_ranges,
        ["10.0.1.11-10.0.1.13", "10.0.1.21"]
    );
    // Counted as the rows are: three (the primary ENI, and each part of the secondary) both ways.
    let counts = report.clusters[0].verdicts;
    assert_eq!((counts.reachable, counts.unreachable), (1, 5), "{counts:?}");
    assert_eq!(report.clusters[0].enis, 2, "still two ENIs");
}

#[test]
fn a_peer_that_routes_back_the_whole_subnet_is_one_row_per_eni_as_before() {
    let report = peer_returns_only("10.0.1.0/24");
    for eni in [PRIMARY_ENI, SECONDARY_ENI] {
        check(&report, eni, INGRESS).reachable();
        check(&report, eni, EGRESS).reachable();
    }
}
